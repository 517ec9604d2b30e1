/**
 * Activities of the `form` and `remove-node` runbooks. Each one observes before it acts, so a retry after a crash
 * at any line is safe: a node that is already a member is never joined again, a node already gone is not removed
 * twice. Join tokens are minted here and never leave `joinNode` (they are redacted from every record).
 */
import { randomBytes } from 'crypto';
import { heartbeat, sleep } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { CommandRecord } from '../common/audit';
import { FailureType } from '../common/constants';
import { type Inventory, type NodeSpec, nodePaths, type Role } from '../common/inventory';
import { command } from '../common/shell';
import { formatMinor, minorOf } from '../common/versions';
import { SUDO_PROBE } from './check-probes';
import type { ActivityDeps } from './deps';
import {
  clusterMembersCommand,
  dqliteCommand,
  type DqliteMember,
  type DqliteRole,
  parseClusterYaml,
  parseDqliteCluster,
  parseInfoYaml,
  removeShellCommand,
} from './microk8s/dqlite';
import {
  addNodeCommand,
  classifyJoin,
  classifyLeave,
  classifyRemoveNode,
  CLOCK_COMMAND,
  clockOffsetMs,
  dqliteAddress,
  DQLITE_PORT,
  explainJoin,
  haConfContent,
  JOIN_PORTS,
  joinCommand,
  joinUrlFromAddNode,
  leaveCommand,
  listLocksCommand,
  parseClockMs,
  parseHaConf,
  parseLocks,
  parseMicrok8sVersion,
  classifyPortProbe,
  joinStateCommand,
  parseUnconvergedJoin,
  portProbeCommand,
  devTcpProbeCommand,
  JOIN_RUNNING_COMMAND,
  clearJoinLockCommand,
  parseJoinRunning,
  readFileCommand,
  removeNodeCommand,
  writeHaConfCommand,
} from './microk8s/join';
import { versionCommand } from './microk8s/version';
import { drainCommand, getNodesCommand, isNodeNotFound, type KubeNode, parseDrainOutput, parseNodes } from './microk8s/kubectl';
import type { ExecResult, NodeSession, RunOptions } from './ssh';

export interface FormOptions {
  maxClockSkewMs: number;
  cleanStale: boolean;
  pollMs: number;
  settleTimeoutMs: number;
  tokenTtlSeconds: number;
  workerConcurrency?: number;
}

/** What one node looks like before anything changes. */
export interface NodeFacts {
  name: string;
  role: Role;
  reachable: boolean;
  version?: string;
  locks: string[];
  clockOffsetMs?: number;
  /** This node's own dqlite view (control-plane nodes): its address and the members its cluster.yaml lists. */
  dqliteAddress?: string;
  members: DqliteMember[];
  /** Failure domain in `args/ha-conf`. */
  haConfDomain?: number;
}

export interface PlannedJoin {
  node: string;
  as: Role;
}

/** What the join and its wait are told: the node, as what, through which primary. */
export interface JoinStepInput {
  inventory: Inventory;
  primary: string;
  node: string;
  as: Role;
  options: FormOptions;
}

export interface FormSurvey {
  primary: string;
  /** The primary already had other members: this run grows that cluster. */
  extending: boolean;
  /** Every pre-flight problem, one line each, naming the node and the fix. Non-empty: nothing may change. */
  problems: string[];
  /** Inventory nodes already in the primary's cluster with the right role (the primary included). */
  members: string[];
  /** Control-plane joins first, in inventory order, then workers. */
  joins: PlannedJoin[];
  /** dqlite entries that block a join: the node is listed but does not consider itself joined. */
  stale: Array<{ node: string; address: string }>;
  failureDomains: Array<{ node: string; domain: number }>;
  notes: string[];
  /** The plan, as the operator reads it. */
  lines: string[];
  nodes: NodeFacts[];
}

export interface VerifiedNode {
  name: string;
  role: Role;
  ready: boolean;
  /** The MicroK8s role label matches the inventory role. */
  labelOk: boolean;
  dqliteRole?: DqliteRole;
  version?: string;
}

export interface Verification {
  nodes: VerifiedNode[];
  voters: number;
  controlPlanes: number;
  highAvailability: boolean;
  problems: string[];
}

export interface JoinResult {
  node: string;
  outcome: 'joined' | 'already-member';
  /** Tokens minted (a burnt or expired token costs one more). */
  attempts: number;
  staleRemoved: boolean;
  /** Joins that exited 0 without converging (the join trap), each undone with `microk8s leave`. */
  unconverged: number;
  commands: CommandRecord[];
}

export interface RemovalSurvey {
  node: string;
  /** The control-plane node that runs `remove-node` and answers for the cluster. */
  remover: string;
  reachable: boolean;
  inKubernetes: boolean;
  role: Role;
  dqliteRole?: DqliteRole;
  members: DqliteMember[];
  /** Why this removal is dangerous and what to do instead; the workflow asks before going on. */
  guard?: string;
  problems: string[];
  /** Nothing left to do: the node is in neither Kubernetes nor dqlite. */
  gone: boolean;
  lines: string[];
}

interface Step<T = undefined> {
  commands: CommandRecord[];
  outcome: string;
  detail?: T;
}

const LOCK = {
  ha: 'ha-cluster',
  worker: 'clustered.lock',
  stopped: 'stopped.lock',
  joining: 'join-in-progress',
} as const;

/** Below 3 dqlite members the leader keeps one voter; from 3 on, three (§2 "dqlite roles after a join"). */
export function expectedVoters(members: number): number {
  return members >= 3 ? 3 : Math.min(1, members);
}

function findNode(inv: Inventory, name: string): NodeSpec {
  const node = inv.nodes.find((n) => n.name === name);
  if (!node) {
    throw ApplicationFailure.create({
      type: FailureType.InvalidInput,
      message: `node ${JSON.stringify(name)} is not in the inventory of ${inv.cluster}`,
      nonRetryable: true,
    });
  }
  return node;
}

function refuse(type: string, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true });
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Defence in depth over the SSH layer's own redaction: no record leaves an activity with the token in it. */
function scrub(records: readonly CommandRecord[], secrets: string[]): CommandRecord[] {
  const clean = (s: string) => secrets.reduce((acc, t) => acc.split(t).join('<redacted>'), s);
  return records.map((r) => ({ ...r, command: clean(r.command), stdoutTail: clean(r.stdoutTail), stderrTail: clean(r.stderrTail) }));
}

/** Heartbeat on a timer while a long remote command runs, so a crashed worker is noticed and this one is not. */
async function withHeartbeat<T>(details: object, work: Promise<T>): Promise<T> {
  const timer = setInterval(() => heartbeat(details), 2_000);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}

/**
 * Run a line and insist on an exit status: a command that ended without one (the connection dropped) must not be
 * read as "file missing" or "join failed". The activity is retried instead; every step here is safe to repeat.
 */
async function exec(sh: NodeSession, line: string, opts?: RunOptions): Promise<ExecResult> {
  const r = await sh.run(line, opts);
  if (r.exitCode === null) {
    const what = line.length > 60 ? `${line.slice(0, 60)}…` : line;
    throw ApplicationFailure.retryable(`${sh.node.name}: no exit status for "${what}" (connection lost${r.signal ? `, ${r.signal}` : ''})`, 'ConnectionLost');
  }
  return r;
}

function excerptOf(text: string, secrets: string[] = []): string {
  const lines = text.trim().split('\n').filter(Boolean);
  const short = lines.slice(-3).join(' / ').slice(0, 300);
  return secrets.reduce((acc, t) => acc.split(t).join('<redacted>'), short);
}

export function createFormActivities(deps: ActivityDeps) {
  const session = (inv: Inventory, node: NodeSpec): NodeSession =>
    deps.ssh.session(node, { knownHosts: inv.knownHosts, hostKeyPolicy: inv.hostKeyPolicy });

  async function kubeNodes(sh: NodeSession, on: NodeSpec): Promise<KubeNode[]> {
    const r = await exec(sh, getNodesCommand(on), { quiet: true, timeoutMs: 60_000 });
    if (r.exitCode !== 0) {
      throw ApplicationFailure.retryable(`kubectl get nodes on ${on.name} failed: ${excerptOf(r.stderr || r.stdout)}`, 'KubeApiUnavailable');
    }
    return parseNodes(r.stdout);
  }

  async function dqliteMembers(sh: NodeSession, on: NodeSpec): Promise<DqliteMember[]> {
    const r = await exec(sh, clusterMembersCommand(on, { timeoutMs: 4_000 }), { quiet: true, timeoutMs: 60_000 });
    if (r.exitCode !== 0) {
      throw ApplicationFailure.retryable(`dqlite .cluster on ${on.name} failed: ${excerptOf(r.stderr || r.stdout)}`, 'DqliteUnavailable');
    }
    return parseDqliteCluster(r.stdout);
  }

  async function locksOf(sh: NodeSession, node: NodeSpec): Promise<string[]> {
    return parseLocks((await exec(sh, listLocksCommand(node), { quiet: true })).stdout);
  }

  async function localMembers(sh: NodeSession, node: NodeSpec): Promise<{ own?: string; members: DqliteMember[] }> {
    const p = nodePaths(node);
    const info = (await exec(sh, readFileCommand(p.infoYaml), { quiet: true })).stdout;
    const cluster = (await exec(sh, readFileCommand(p.clusterYaml), { quiet: true })).stdout;
    return {
      own: info.trim() ? parseInfoYaml(info).address : undefined,
      members: cluster.trim() ? parseClusterYaml(cluster) : [],
    };
  }

  /** True when `node` already belongs to the primary's cluster, judged from the node's own files. */
  async function alreadyJoined(sh: NodeSession, node: NodeSpec, primary: NodeSpec, as: Role): Promise<boolean> {
    if (as === 'worker') return (await locksOf(sh, node)).includes(LOCK.worker);
    const { members } = await localMembers(sh, node);
    return members.some((m) => m.address === dqliteAddress(primary));
  }

  /**
   * `sudo -n true` as the first command. A transient connection failure (retryable: refused, reset, no exit
   * status) is tried three times before the node counts as unreachable; host-key and auth failures count at once.
   */
  async function firstContact(sh: NodeSession, node: NodeSpec): Promise<ExecResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await exec(sh, node.become === 'sudo' ? SUDO_PROBE : command('true'), { quiet: true, timeoutMs: 20_000 });
      } catch (err) {
        const transient = err instanceof ApplicationFailure && !err.nonRetryable;
        if (!transient || attempt >= 3) throw err;
        await sleep(500 * attempt);
      }
    }
  }

  async function inspectNode(inv: Inventory, node: NodeSpec): Promise<{ facts: NodeFacts; problems: string[] }> {
    const facts: NodeFacts = { name: node.name, role: node.role, reachable: false, locks: [], members: [] };
    const problems: string[] = [];
    const sh = session(inv, node);
    const where = `${node.user}@${node.address}:${node.port}`;
    try {
      // The first command opens the connection; the clock is read on the warm one so the round trip is short.
      const sudo = await firstContact(sh, node);
      facts.reachable = true;
      if (sudo.exitCode !== 0) {
        problems.push(
          `${node.name}: "sudo -n true" failed as ${node.user} (exit ${sudo.exitCode}: ${excerptOf(sudo.stderr) || 'no output'}); ` +
            `allow passwordless sudo for ${node.user}, or connect as root`,
        );
        return { facts, problems };
      }
    } catch (err) {
      problems.push(`${node.name}: SSH to ${where} failed: ${messageOf(err)}`);
      return { facts, problems };
    }
    const sent = Date.now();
    const clock = await exec(sh, CLOCK_COMMAND, { quiet: true });
    const remote = parseClockMs(clock.stdout);
    if (remote !== undefined) facts.clockOffsetMs = clockOffsetMs(remote, sent, Date.now());
    else problems.push(`${node.name}: cannot read the clock ("date +%s%3N" printed ${excerptOf(clock.stdout) || 'nothing'})`);

    const version = await exec(sh, versionCommand(node), { quiet: true });
    const parsed = version.exitCode === 0 ? parseMicrok8sVersion(version.stdout) : undefined;
    if (!parsed) {
      problems.push(
        `${node.name}: microk8s is not installed or does not answer ("${nodePaths(node).microk8s} version" failed); ` +
          `install it: sudo snap install microk8s --classic --channel=<minor>/stable`,
      );
      return { facts, problems };
    }
    facts.version = parsed.version;
    facts.locks = await locksOf(sh, node);
    if (!facts.locks.includes(LOCK.ha)) {
      problems.push(`${node.name}: ha-cluster is not enabled (no ${nodePaths(node).locks}/ha-cluster); run: microk8s enable ha-cluster`);
    }
    // A control-plane node stopped by an interrupted failure-domain restart is finished by that step, not refused.
    if (facts.locks.includes(LOCK.stopped) && !(node.failureDomain !== undefined && node.role === 'controlplane')) {
      problems.push(`${node.name}: microk8s is stopped (stopped.lock); start it: microk8s start`);
    }
    if (!facts.locks.includes(LOCK.worker)) {
      const local = await localMembers(sh, node);
      facts.dqliteAddress = local.own;
      facts.members = local.members;
    }
    if (node.failureDomain !== undefined && node.role === 'controlplane') {
      facts.haConfDomain = parseHaConf((await exec(sh, readFileCommand(nodePaths(node).haConf), { quiet: true })).stdout);
    }
    return { facts, problems };
  }

  /** The first control-plane node that is already clustered, else the first control-plane node. */
  function choosePrimary(inv: Inventory, facts: NodeFacts[]): NodeSpec | undefined {
    const cps = inv.nodes.filter((n) => n.role === 'controlplane');
    const clustered = cps.find((n) => {
      const f = facts.find((x) => x.name === n.name)!;
      return !f.locks.includes(LOCK.worker) && f.members.length > 1;
    });
    return clustered ?? cps.find((n) => !facts.find((x) => x.name === n.name)!.locks.includes(LOCK.worker)) ?? cps[0];
  }

  /** Where `node` stands relative to the primary's cluster. */
  function classify(
    node: NodeSpec,
    f: NodeFacts,
    primary: NodeSpec,
    primaryMembers: DqliteMember[],
    kube: KubeNode[],
  ): { state: 'member' | 'join' | 'stale'; problem?: string } {
    const inDqlite = primaryMembers.some((m) => m.address === dqliteAddress(node));
    const k = kube.find((x) => x.name === node.name || x.internalIP === node.address);
    const ownClustered = f.members.some((m) => m.address === dqliteAddress(primary));
    const elsewhere = f.members.length > 1 && !ownClustered;
    const isWorker = f.locks.includes(LOCK.worker);
    const instead = `remove it (runbook remove-node) and form again with the role you want`;
    if (isWorker) {
      if (!k) {
        return {
          state: 'join',
          problem: `${node.name}: is a worker of another cluster (clustered.lock is set, ${primary.name} does not list it); run "microk8s leave" on it first`,
        };
      }
      if (node.role === 'controlplane') return { state: 'member', problem: `${node.name}: is a worker member but the inventory says controlplane; ${instead}` };
      return { state: 'member' };
    }
    if (inDqlite && ownClustered) {
      if (node.role === 'worker') return { state: 'member', problem: `${node.name}: is a control-plane member but the inventory says worker; ${instead}` };
      return { state: 'member' };
    }
    if (elsewhere) {
      return {
        state: 'join',
        problem: `${node.name}: already belongs to another cluster (its dqlite lists ${f.members.map((m) => m.address).join(', ')}); run "microk8s leave" on it first`,
      };
    }
    return { state: inDqlite ? 'stale' : 'join' };
  }

  async function probePorts(inv: Inventory, from: NodeSpec, to: NodeSpec, ports: ReadonlyArray<(typeof JOIN_PORTS)[number]>): Promise<string[]> {
    const sh = session(inv, from);
    const verdicts = await Promise.all(
      ports.map(async ({ port, what }) => {
        const r = await exec(sh, portProbeCommand(to.address, port), { quiet: true, timeoutMs: 15_000 });
        const verdict = classifyPortProbe(r.exitCode, r.stderr);
        if (verdict !== 'no-probe') return { port, what, verdict };
        // No nc on the node: bash's /dev/tcp under timeout judges the port as well.
        const f = await exec(sh, devTcpProbeCommand(to.address, port), { quiet: true, timeoutMs: 15_000 });
        return { port, what, verdict: classifyPortProbe(f.exitCode, f.stderr) };
      }),
    );
    if (verdicts.some((v) => v.verdict === 'no-probe')) {
      return [`${from.name}: cannot check the join ports of ${to.name}: neither nc nor bash with timeout is installed; install nc (sudo apt-get install -y netcat-openbsd)`];
    }
    return verdicts
      .filter((v) => v.verdict === 'closed')
      .map(({ port, what }) => `${from.name}: cannot reach ${to.name} (${to.address}) on ${port}/tcp (${what}); open ${port}/tcp from ${from.address} to ${to.address}`);
  }

  /**
   * A control-plane join that exited 0 converged only if the primary's dqlite lists the node (§2: join prints
   * success and exits 0 even when it never did). A few polls, as join.py's own loop may end just before.
   */
  async function joinConverged(shP: NodeSession, primary: NodeSpec, node: NodeSpec, options: FormOptions): Promise<boolean> {
    for (let poll = 1; ; poll++) {
      if ((await dqliteMembers(shP, primary)).some((m) => m.address === dqliteAddress(node))) return true;
      if (poll >= 3) return false;
      await sleep(options.pollMs);
    }
  }

  /** A join left half done by an earlier attempt (the worker died before undoing it): init.yaml, no info.yaml. */
  async function leftUnconverged(shP: NodeSession, shN: NodeSession, primary: NodeSpec, node: NodeSpec): Promise<boolean> {
    const files = await exec(shN, joinStateCommand(node), { quiet: true });
    if (!parseUnconvergedJoin(files.stdout)) return false;
    return !(await dqliteMembers(shP, primary)).some((m) => m.address === dqliteAddress(node));
  }

  /** The fix for the join trap (§9 row 6): `microk8s leave` on the node, so that it can join again from scratch. */
  async function undoUnconvergedJoin(shN: NodeSession, node: NodeSpec): Promise<void> {
    const r = await withHeartbeat({ node: node.name, step: 'leave: the join did not converge' }, exec(shN, leaveCommand(node), { timeoutMs: 600_000 }));
    const outcome = classifyLeave(r.exitCode, r.stdout, r.stderr);
    if (outcome === 'left' || outcome === 'not-clustered') return;
    throw ApplicationFailure.retryable(
      `microk8s leave on ${node.name} (undoing a join that did not converge) failed: ${excerptOf(r.stdout + r.stderr)}`,
      'LeaveFailed',
    );
  }

  async function removeStale(shP: NodeSession, primary: NodeSpec, node: NodeSpec): Promise<void> {
    const address = dqliteAddress(node);
    if (!(await dqliteMembers(shP, primary)).some((m) => m.address === address)) return;
    const r = await exec(shP, removeNodeCommand(primary, node.address, true), { timeoutMs: 180_000 });
    const outcome = classifyRemoveNode(r.exitCode, r.stdout, r.stderr);
    // `remove-node <ip> --force` exits 1 when Kubernetes does not know the node, even after removing it from dqlite.
    if (outcome !== 'removed' && outcome !== 'unknown-to-kubernetes') {
      throw ApplicationFailure.retryable(`remove-node ${node.address} --force on ${primary.name} failed: ${excerptOf(r.stdout + r.stderr)}`);
    }
    if ((await dqliteMembers(shP, primary)).some((m) => m.address === address)) {
      await shP.check(dqliteCommand(primary, removeShellCommand(address)), { timeoutMs: 60_000 });
    }
  }

  return {
    /** Pre-flight for every node in parallel, then the plan from live state. Changes nothing. */
    async surveyFormation({ inventory, options }: { inventory: Inventory; options: FormOptions }): Promise<FormSurvey> {
      const inspected = await Promise.all(inventory.nodes.map((n) => inspectNode(inventory, n)));
      const facts = inspected.map((i) => i.facts);
      const problems = inspected.flatMap((i) => i.problems);
      const notes: string[] = [];
      heartbeat({ step: 'inspected nodes' });

      const minors = new Map<string, string[]>();
      for (const f of facts) {
        const m = f.version ? minorOf(f.version) : undefined;
        if (m) minors.set(formatMinor(m), [...(minors.get(formatMinor(m)) ?? []), f.name]);
      }
      if (minors.size > 1) {
        const groups = [...minors.entries()].map(([minor, names]) => `${minor} on ${names.join(', ')}`);
        const most = [...minors.entries()].sort((a, b) => b[1].length - a[1].length)[0][0];
        problems.push(
          `minor versions differ (${groups.join('; ')}); every node needs the same minor: refresh the others to ${most} ` +
            `(sudo snap refresh microk8s --channel=${most}/stable) or upgrade the cluster first`,
        );
      }
      const offsets = facts.filter((f) => f.clockOffsetMs !== undefined);
      if (offsets.length > 1) {
        const lo = offsets.reduce((a, b) => (a.clockOffsetMs! <= b.clockOffsetMs! ? a : b));
        const hi = offsets.reduce((a, b) => (a.clockOffsetMs! >= b.clockOffsetMs! ? a : b));
        const skew = hi.clockOffsetMs! - lo.clockOffsetMs!;
        if (skew > options.maxClockSkewMs) {
          problems.push(
            `clock skew ${(skew / 1000).toFixed(1)} s between ${lo.name} and ${hi.name} exceeds ${(options.maxClockSkewMs / 1000).toFixed(1)} s; ` +
              `TLS between nodes fails with skewed clocks: enable NTP on every node (timedatectl set-ntp true)`,
          );
        }
      }

      const primary = choosePrimary(inventory, facts);
      const survey: FormSurvey = {
        primary: primary?.name ?? '',
        extending: false,
        problems,
        members: [],
        joins: [],
        stale: [],
        failureDomains: [],
        notes,
        lines: [],
        nodes: facts,
      };
      if (!primary) {
        problems.push('the inventory has no control-plane node: mark at least one node role: controlplane');
        return survey;
      }
      const primaryFacts = facts.find((f) => f.name === primary.name)!;
      if (!primaryFacts.reachable || !primaryFacts.version) return survey;

      const shP = session(inventory, primary);
      let kube: KubeNode[] = [];
      let members: DqliteMember[] = [];
      try {
        [kube, members] = await Promise.all([kubeNodes(shP, primary), dqliteMembers(shP, primary)]);
      } catch (err) {
        problems.push(`${primary.name} (primary): ${messageOf(err)}; wait until "microk8s status --wait-ready" succeeds there`);
        return survey;
      }
      survey.extending = members.length > 1 || kube.length > 1;
      survey.members.push(primary.name);

      for (const node of inventory.nodes) {
        if (node.name === primary.name) continue;
        const f = facts.find((x) => x.name === node.name)!;
        if (!f.reachable || !f.version) continue;
        const c = classify(node, f, primary, members, kube);
        if (c.problem) problems.push(c.problem);
        if (c.state === 'member') survey.members.push(node.name);
        else {
          if (c.state === 'stale') survey.stale.push({ node: node.name, address: dqliteAddress(node) });
          survey.joins.push({ node: node.name, as: node.role });
        }
      }
      survey.joins.sort((a, b) => (a.as === b.as ? 0 : a.as === 'controlplane' ? -1 : 1));
      const unknown = kube.filter((k) => !inventory.nodes.some((n) => n.name === k.name || n.address === k.internalIP));
      if (unknown.length) notes.push(`${primary.name}'s cluster also has nodes the inventory does not list: ${unknown.map((k) => k.name).join(', ')}`);

      // Port checks only from nodes that will join, only once they are otherwise fine. A primary that never had a
      // member serves dqlite on 127.0.0.1 only (the first join moves it to its IP, §2): 19001 cannot be checked yet.
      const joiners = survey.joins.map((j) => findNode(inventory, j.node));
      const dqliteOnIp = primaryFacts.dqliteAddress === dqliteAddress(primary);
      const ports = JOIN_PORTS.filter((p) => dqliteOnIp || p.port !== DQLITE_PORT);
      if (!dqliteOnIp && survey.joins.some((j) => j.as === 'controlplane')) {
        notes.push(
          `${DQLITE_PORT}/tcp (dqlite) on ${primary.name} is not checked: its dqlite listens on 127.0.0.1 until the first join ` +
            `moves it to ${primary.address}; if that port is blocked, the join does not converge and is undone`,
        );
      }
      (await Promise.all(joiners.map((n) => probePorts(inventory, n, primary, ports)))).forEach((p) => problems.push(...p));

      for (const node of inventory.nodes) {
        if (node.failureDomain === undefined) continue;
        if (node.role === 'worker') {
          notes.push(`${node.name}: failure domain ignored: workers do not run dqlite`);
          continue;
        }
        const f = facts.find((x) => x.name === node.name)!;
        if (f.haConfDomain !== node.failureDomain || f.locks.includes(LOCK.stopped)) {
          survey.failureDomains.push({ node: node.name, domain: node.failureDomain });
        }
      }
      survey.lines = planLines(survey, primary, options);
      return survey;
    },

    /** Mint a short-lived token on the primary and join `node` with it; the token never leaves this activity. */
    async joinNode({
      inventory,
      primary: primaryName,
      node: nodeName,
      as,
      options,
    }: JoinStepInput): Promise<JoinResult> {
      const primary = findNode(inventory, primaryName);
      const node = findNode(inventory, nodeName);
      const shP = session(inventory, primary);
      const shN = session(inventory, node);
      const tokens: string[] = [];
      let unconverged = 0;
      const result = (outcome: JoinResult['outcome'], attempts: number, staleRemoved: boolean): JoinResult => ({
        node: node.name,
        outcome,
        attempts,
        staleRemoved,
        unconverged,
        commands: scrub([...shP.records, ...shN.records], tokens),
      });

      if (await alreadyJoined(shN, node, primary, as)) return result('already-member', 0, false);
      // A join an earlier attempt started may still be running on the node (the worker died, not the join); a lock
      // whose join is gone (killed mid-way) is stale: clear it rather than wait for it.
      if ((await locksOf(shN, node)).includes(LOCK.joining) && parseJoinRunning((await exec(shN, JOIN_RUNNING_COMMAND, { quiet: true })).exitCode) === 'none') {
        await exec(shN, clearJoinLockCommand(node));
        heartbeat({ node: node.name, cleared: 'a stale join lock (no join running)' });
      }
      if ((await locksOf(shN, node)).includes(LOCK.joining)) {
        const deadline = Date.now() + options.settleTimeoutMs;
        while (Date.now() < deadline && (await locksOf(shN, node)).includes(LOCK.joining)) {
          heartbeat({ node: node.name, waiting: 'an earlier join to finish' });
          await sleep(options.pollMs);
          if (await alreadyJoined(shN, node, primary, as)) return result('already-member', 0, false);
        }
      }

      if (as === 'controlplane' && (await leftUnconverged(shP, shN, primary, node))) {
        await undoUnconvergedJoin(shN, node);
        unconverged += 1;
      }

      let staleRemoved = false;
      let outcome: ReturnType<typeof classifyJoin> = 'failed';
      let trapped = false;
      let output = '';
      for (let attempt = 1; attempt <= 3; attempt++) {
        const token = randomBytes(16).toString('hex');
        tokens.push(token);
        const add = await exec(shP, addNodeCommand(primary, token, options.tokenTtlSeconds), {
          redact: [token],
          timeoutMs: 60_000,
        });
        if (add.exitCode !== 0) {
          throw ApplicationFailure.retryable(`add-node on ${primary.name} failed: ${excerptOf(add.stdout + add.stderr, tokens)}`, 'AddNodeFailed');
        }
        const url = joinUrlFromAddNode(add.stdout, primary, token);
        const joined = await withHeartbeat(
          { node: node.name, step: `join as ${as}`, attempt },
          exec(shN, joinCommand(node, url, as === 'worker'), { redact: [token], timeoutMs: 10 * 60_000 }),
        );
        outcome = classifyJoin(joined.exitCode, joined.stdout, joined.stderr);
        output = excerptOf(joined.stdout + '\n' + joined.stderr, tokens);
        trapped = false;
        if (outcome === 'joined') {
          if (as === 'worker' || (await joinConverged(shP, primary, node, options))) return result('joined', attempt, staleRemoved);
          // The join trap: undo it and try again with a new token (a cause that lasts, e.g. a voter down, fails below).
          trapped = true;
          unconverged += 1;
          await undoUnconvergedJoin(shN, node);
          continue;
        }
        if (outcome === 'invalid-token' || outcome === 'fingerprint-mismatch') continue;
        if (outcome === 'already-known') {
          // Even when our own crashed attempt left it, the entry is only removed with consent (--clean-stale or approval).
          if (!options.cleanStale) {
            throw refuse('StaleDqliteMember', explainJoin(outcome, node, primary));
          }
          await removeStale(shP, primary, node);
          staleRemoved = true;
          continue;
        }
        break;
      }
      if (trapped) {
        throw refuse(
          'JoinNotConverged',
          `${node.name}: "microk8s join" exited 0 ${unconverged} time(s) but ${dqliteAddress(node)} never appeared in dqlite .cluster ` +
            `on ${primary.name} (the join trap); each time "microk8s leave" undid it on ${node.name}. Check that every ` +
            `control-plane node of the cluster is up ("microk8s status") and that 19001/tcp is open between ${node.address} ` +
            `and them, then rerun`,
        );
      }
      throw refuse('JoinRefused', `${explainJoin(outcome, node, primary)} (last output: ${output || 'none'})`);
    },

    /** Clean a stale dqlite entry for `node` on the primary (`remove-node <ip> --force`); idempotent. */
    async removeStaleMember({ inventory, primary, node }: { inventory: Inventory; primary: string; node: string }): Promise<Step> {
      const p = findNode(inventory, primary);
      const shP = session(inventory, p);
      await removeStale(shP, p, findNode(inventory, node));
      return { commands: [...shP.records], outcome: 'removed' };
    },

    /** Poll until `node` is Ready with its role label and, for a control plane, listed in dqlite with roles settled. */
    async waitNodeJoined({
      inventory,
      primary: primaryName,
      node: nodeName,
      as,
      options,
    }: JoinStepInput): Promise<Step> {
      const primary = findNode(inventory, primaryName);
      const node = findNode(inventory, nodeName);
      const shP = session(inventory, primary);
      const deadline = Date.now() + options.settleTimeoutMs;
      let missing = 'nothing checked yet';
      for (;;) {
        try {
          const k = (await kubeNodes(shP, primary)).find((x) => x.name === node.name || x.internalIP === node.address);
          const wants: string[] = [];
          if (!k) wants.push(`${node.name} is not in kubectl get nodes`);
          else {
            if (k.ready !== 'True') wants.push(`${node.name} is not Ready (${k.ready})`);
            if (k.role !== as) wants.push(`${node.name} has role label ${k.role}, expected ${as}`);
          }
          if (as === 'controlplane') {
            const members = await dqliteMembers(shP, primary);
            if (!members.some((m) => m.address === dqliteAddress(node))) wants.push(`${dqliteAddress(node)} is not in dqlite .cluster`);
            const voters = members.filter((m) => m.role === 'voter').length;
            if (voters !== expectedVoters(members.length)) {
              wants.push(`dqlite roles not settled (${voters} voter(s) of ${expectedVoters(members.length)} for ${members.length} members)`);
            }
          }
          if (wants.length === 0) return { commands: [...shP.records], outcome: 'settled' };
          missing = wants.join('; ');
        } catch (err) {
          missing = messageOf(err);
        }
        heartbeat({ node: node.name, waiting: missing });
        if (Date.now() >= deadline) {
          throw refuse(
            'JoinNotConverged',
            `${node.name} did not settle within ${Math.round(options.settleTimeoutMs / 1000)} s: ${missing} ` +
              `(microk8s join exits 0 even when dqlite never converged; check 19001/tcp between the nodes)`,
          );
        }
        await sleep(options.pollMs);
      }
    },

    /**
     * Set `failure-domain=N` in `args/ha-conf` with the documented restart (microk8s stop; microk8s start) so
     * k8s-dqlite reads it. Stop first, then write, then start: a crash at any point leaves either the old domain
     * running or a stopped node (stopped.lock), and a rerun finishes the job.
     */
    async setFailureDomain({
      inventory,
      node: nodeName,
      domain,
    }: {
      inventory: Inventory;
      node: string;
      domain: number;
      options: FormOptions;
    }): Promise<Step> {
      const node = findNode(inventory, nodeName);
      const sh = session(inventory, node);
      const p = nodePaths(node);
      const conf = (await exec(sh, readFileCommand(p.haConf), { quiet: true })).stdout;
      const stopped = (await locksOf(sh, node)).includes(LOCK.stopped);
      const confOk = parseHaConf(conf) === domain;
      if (confOk && !stopped) return { commands: [...sh.records], outcome: 'unchanged' };
      if (!stopped) {
        await withHeartbeat({ node: node.name, step: 'microk8s stop' }, sh.check(command(p.microk8s, 'stop'), { timeoutMs: 300_000 }));
      }
      if (!confOk) {
        const kept = conf.split('\n').filter((l) => l.trim() && !/^\s*failure-domain\s*=/.test(l));
        await sh.check(writeHaConfCommand(node), { stdin: [...kept, haConfContent(domain).trim()].join('\n') + '\n' });
      }
      // `start` exits 0 even when the node is not Ready: the workflow waits for Ready and settled roles next.
      await withHeartbeat({ node: node.name, step: 'microk8s start' }, sh.check(command(p.microk8s, 'start'), { timeoutMs: 300_000 }));
      return { commands: [...sh.records], outcome: 'restarted' };
    },

    /** Final check: every inventory node Ready with its role label; dqlite voters as the member count requires. */
    async verifyFormation({
      inventory,
      primary: primaryName,
      options,
    }: {
      inventory: Inventory;
      primary: string;
      options: FormOptions;
    }): Promise<Verification> {
      const primary = findNode(inventory, primaryName);
      const shP = session(inventory, primary);
      const deadline = Date.now() + options.settleTimeoutMs;
      for (;;) {
        let v: Verification;
        try {
          const [kube, members] = await Promise.all([kubeNodes(shP, primary), dqliteMembers(shP, primary)]);
          v = verification(inventory, kube, members);
        } catch (err) {
          v = { nodes: [], voters: 0, controlPlanes: 0, highAvailability: false, problems: [messageOf(err)] };
        }
        if (v.problems.length === 0 || Date.now() >= deadline) return v;
        heartbeat({ waiting: v.problems[0] });
        await sleep(options.pollMs);
      }
    },

    // -------------------------------------------------------------------------------------------------
    // remove-node

    /** Where the node stands, who can remove it, and whether removing it endangers quorum or HA. */
    async surveyRemoval({
      inventory,
      node: nodeName,
      forceLost,
    }: {
      inventory: Inventory;
      node: string;
      forceLost: boolean;
    }): Promise<RemovalSurvey> {
      const target = findNode(inventory, nodeName);
      const reachability = new Map<string, boolean>();
      await Promise.all(
        inventory.nodes.map(async (n) => {
          try {
            const r = await exec(session(inventory, n), listLocksCommand(n), { quiet: true, timeoutMs: 20_000 });
            reachability.set(n.name, true);
            if (parseLocks(r.stdout).includes(LOCK.worker)) reachability.set(`${n.name}:worker`, true);
          } catch (err) {
            // A dropped command is not a lost node: retry the survey rather than misjudge quorum.
            if (err instanceof ApplicationFailure && err.type === 'ConnectionLost') throw err;
            reachability.set(n.name, false);
          }
        }),
      );
      const problems: string[] = [];
      const candidates = inventory.nodes.filter(
        (n) => n.name !== target.name && n.role === 'controlplane' && reachability.get(n.name) && !reachability.get(`${n.name}:worker`),
      );
      let remover: NodeSpec | undefined;
      let kube: KubeNode[] = [];
      let members: DqliteMember[] = [];
      const errors: string[] = [];
      for (const c of candidates) {
        try {
          const sh = session(inventory, c);
          [kube, members] = await Promise.all([kubeNodes(sh, c), dqliteMembers(sh, c)]);
          remover = c;
          break;
        } catch (err) {
          errors.push(`${c.name}: ${messageOf(err)}`);
        }
      }
      const reachable = reachability.get(target.name) ?? false;
      const base: RemovalSurvey = {
        node: target.name,
        remover: remover?.name ?? '',
        reachable,
        inKubernetes: false,
        role: target.role,
        members,
        problems,
        gone: false,
        lines: [],
      };
      if (!remover) {
        problems.push(
          `no other control-plane node of ${inventory.cluster} answers (${errors.join('; ') || 'none reachable over SSH'}); ` +
            `if quorum is lost, run "runbook recover-quorum" instead`,
        );
        return base;
      }
      const k = kube.find((x) => x.name === target.name || x.internalIP === target.address);
      const member = members.find((m) => m.address === dqliteAddress(target));
      base.inKubernetes = !!k;
      base.dqliteRole = member?.role;
      base.role = member ? 'controlplane' : k?.role === 'worker' ? 'worker' : target.role;
      let stillClustered = false;
      if (reachable) {
        const sh = session(inventory, target);
        stillClustered = (await locksOf(sh, target)).includes(LOCK.worker) || (await localMembers(sh, target)).members.length > 1;
      }
      base.gone = !k && !member && !stillClustered;
      if (!reachable && !forceLost) {
        problems.push(`${target.name} is unreachable over SSH; if it is gone for good, rerun with --force-lost (remove-node --force)`);
      }
      if (member) base.guard = quorumGuard(target, members, inventory, reachability);
      base.lines = removalLines(base, target, forceLost);
      return base;
    },

    /** `kubectl drain` the departing node from a control-plane node; a node Kubernetes no longer knows is skipped. */
    async drainDepartingNode({ inventory, remover, node }: { inventory: Inventory; remover: string; node: string }): Promise<Step> {
      const on = findNode(inventory, remover);
      const sh = session(inventory, on);
      const r = await withHeartbeat(
        { node, step: 'drain' },
        exec(sh, drainCommand(on, node, { timeoutS: 300 }), { timeoutMs: 360_000 }),
      );
      if (r.exitCode !== 0 && isNodeNotFound(r.stderr)) return { commands: [...sh.records], outcome: 'not-in-kubernetes' };
      const d = parseDrainOutput(r.stdout, r.stderr, r.exitCode ?? 1);
      if (!d.drained) {
        const why = d.blockedByPdb.length ? `PodDisruptionBudget blocks ${d.blockedByPdb.join(', ')}` : (d.message ?? 'drain failed');
        throw refuse('DrainFailed', `drain ${node} failed: ${why}; fix it, then rerun (the node stays cordoned)`);
      }
      return { commands: [...sh.records], outcome: 'drained' };
    },

    /** `microk8s leave` on the departing node, unless it already left. */
    async leaveCluster({ inventory, node: nodeName }: { inventory: Inventory; node: string }): Promise<Step> {
      const node = findNode(inventory, nodeName);
      const sh = session(inventory, node);
      const locks = await locksOf(sh, node);
      const clustered = locks.includes(LOCK.worker) || (await localMembers(sh, node)).members.length > 1;
      if (!clustered) return { commands: [...sh.records], outcome: 'already-left' };
      const r = await withHeartbeat({ node: node.name, step: 'leave' }, exec(sh, leaveCommand(node), { timeoutMs: 600_000 }));
      const outcome = classifyLeave(r.exitCode, r.stdout, r.stderr);
      if (outcome === 'only-voter') {
        throw refuse('OnlyVoter', `${node.name} holds the only copy of the Kubernetes database; remove the other nodes first or grow to 3 control-plane nodes`);
      }
      if (outcome === 'failed') throw ApplicationFailure.retryable(`microk8s leave on ${node.name} failed: ${excerptOf(r.stdout + r.stderr)}`);
      return { commands: [...sh.records], outcome };
    },

    /** `remove-node` on a remaining control-plane node (`--force` for a lost node); idempotent. */
    async removeNodeFromCluster({
      inventory,
      remover,
      node: nodeName,
      force,
    }: {
      inventory: Inventory;
      remover: string;
      node: string;
      force: boolean;
    }): Promise<Step> {
      const on = findNode(inventory, remover);
      const node = findNode(inventory, nodeName);
      const sh = session(inventory, on);
      const [kube, members] = await Promise.all([kubeNodes(sh, on), dqliteMembers(sh, on)]);
      const k = kube.find((x) => x.name === node.name || x.internalIP === node.address);
      const inDqlite = members.some((m) => m.address === dqliteAddress(node));
      if (!k && !inDqlite) return { commands: [...sh.records], outcome: 'already-removed' };
      const target = k ? k.name : node.address;
      const r = await withHeartbeat(
        { node: node.name, step: 'remove-node' },
        exec(sh, removeNodeCommand(on, target, force || !k), { timeoutMs: 300_000 }),
      );
      const outcome = classifyRemoveNode(r.exitCode, r.stdout, r.stderr);
      if (outcome === 'registered-with-dqlite') {
        throw refuse(
          'StillDqliteMember',
          `${node.name} is still a dqlite member: "microk8s leave" has not completed on it; rerun, or use --force-lost if it is gone for good`,
        );
      }
      if (outcome === 'failed' || outcome === 'run-on-worker') {
        throw ApplicationFailure.retryable(`remove-node ${target} on ${on.name} failed: ${excerptOf(r.stdout + r.stderr)}`);
      }
      return { commands: [...sh.records], outcome };
    },

    /** Poll until the node is gone from Kubernetes and dqlite, and dqlite roles have settled. */
    async waitNodeRemoved({
      inventory,
      remover,
      node: nodeName,
      options,
    }: {
      inventory: Inventory;
      remover: string;
      node: string;
      options: Pick<FormOptions, 'pollMs' | 'settleTimeoutMs'>;
    }): Promise<Step<{ members: number; voters: number }>> {
      const on = findNode(inventory, remover);
      const node = findNode(inventory, nodeName);
      const sh = session(inventory, on);
      const deadline = Date.now() + options.settleTimeoutMs;
      let missing = '';
      for (;;) {
        try {
          const [kube, members] = await Promise.all([kubeNodes(sh, on), dqliteMembers(sh, on)]);
          const voters = members.filter((m) => m.role === 'voter').length;
          const wants: string[] = [];
          if (kube.some((x) => x.name === node.name || x.internalIP === node.address)) wants.push(`${node.name} is still in kubectl get nodes`);
          if (members.some((m) => m.address === dqliteAddress(node))) wants.push(`${dqliteAddress(node)} is still in dqlite .cluster`);
          if (voters !== expectedVoters(members.length)) wants.push(`dqlite roles not settled (${voters} voter(s))`);
          if (wants.length === 0) return { commands: [...sh.records], outcome: 'removed', detail: { members: members.length, voters } };
          missing = wants.join('; ');
        } catch (err) {
          missing = messageOf(err);
        }
        heartbeat({ node: node.name, waiting: missing });
        if (Date.now() >= deadline) throw refuse('RemovalNotConverged', `${node.name} removal did not settle: ${missing}`);
        await sleep(options.pollMs);
      }
    },
  };
}

function verification(inventory: Inventory, kube: KubeNode[], members: DqliteMember[]): Verification {
  const problems: string[] = [];
  const nodes: VerifiedNode[] = inventory.nodes.map((n) => {
    const k = kube.find((x) => x.name === n.name || x.internalIP === n.address);
    const m = members.find((x) => x.address === dqliteAddress(n));
    const v: VerifiedNode = { name: n.name, role: n.role, ready: k?.ready === 'True', labelOk: k?.role === n.role };
    if (m) v.dqliteRole = m.role;
    if (k?.kubeletVersion) v.version = k.kubeletVersion;
    if (!k) problems.push(`${n.name} is not in kubectl get nodes`);
    else {
      if (!v.ready) problems.push(`${n.name} is not Ready`);
      if (!v.labelOk) problems.push(`${n.name} has role label ${k.role}, the inventory says ${n.role}`);
    }
    if (n.role === 'controlplane' && !m) problems.push(`${n.name} (${dqliteAddress(n)}) is not a dqlite member`);
    return v;
  });
  const voters = members.filter((m) => m.role === 'voter').length;
  if (voters !== expectedVoters(members.length)) {
    problems.push(`dqlite has ${voters} voter(s); ${members.length} members should give ${expectedVoters(members.length)}`);
  }
  return { nodes, voters, controlPlanes: members.length, highAvailability: voters > 2, problems };
}

/**
 * Refuse (unless approved) a removal that leaves too few reachable voters for quorum, or turns an HA cluster into
 * one with fewer than 3 control-plane nodes.
 */
export function quorumGuard(target: NodeSpec, members: DqliteMember[], inventory: Inventory, reachable: Map<string, boolean>): string | undefined {
  const voters = members.filter((m) => m.role === 'voter');
  const quorum = Math.floor(voters.length / 2) + 1;
  const alive = voters.filter((m) => {
    if (m.address === dqliteAddress(target)) return false;
    const n = inventory.nodes.find((x) => dqliteAddress(x) === m.address);
    return n ? reachable.get(n.name) === true : true;
  });
  if (alive.length < quorum) {
    return (
      `removing ${target.name} leaves ${alive.length} reachable voter(s) of ${voters.length}, below the quorum of ${quorum}: ` +
      `the cluster could not commit the removal or would lose its database. If the other lost nodes will never return, ` +
      `run "runbook recover-quorum" instead; otherwise bring them back first`
    );
  }
  const after = members.length - 1;
  if (voters.length >= 3 && after < 3) {
    return (
      `removing ${target.name} leaves ${after} control-plane node(s): no high availability (1 voter; losing it loses the cluster). ` +
      `Add a control-plane node first (list it in the inventory and run "runbook form"), then remove ${target.name}`
    );
  }
  return undefined;
}

function planLines(s: FormSurvey, primary: NodeSpec, options: FormOptions): string[] {
  const lines: string[] = [
    s.extending
      ? `primary: ${primary.name} (${primary.address}), extending the cluster it already belongs to`
      : `primary: ${primary.name} (${primary.address}), a new cluster`,
  ];
  if (s.members.length > 1) lines.push(`already members: ${s.members.join(', ')}`);
  for (const st of s.stale) {
    lines.push(
      `remove stale dqlite member ${st.address} (${st.node}) on ${primary.name}${options.cleanStale ? ' (--clean-stale)' : ' (asks for approval)'}`,
    );
  }
  let i = 1;
  for (const j of s.joins.filter((x) => x.as === 'controlplane')) {
    lines.push(`${i++}. join ${j.node} as control plane, then wait until it is Ready and dqlite roles settle`);
  }
  const workers = s.joins.filter((x) => x.as === 'worker').map((x) => x.node);
  if (workers.length) {
    lines.push(`${i++}. join ${workers.length} worker(s) with --worker, ${options.workerConcurrency ?? 5} at a time: ${workers.join(', ')}`);
  }
  for (const fd of s.failureDomains) {
    lines.push(`${i++}. set failure-domain=${fd.domain} in ${fd.node}'s args/ha-conf and restart it (microk8s stop; microk8s start)`);
  }
  lines.push(
    s.joins.length || s.failureDomains.length || s.stale.length
      ? `${i}. verify: every node Ready with its role; dqlite voters as the member count requires`
      : 'nothing to change: every node is already a member with its role',
  );
  return [...lines, ...s.notes];
}

function removalLines(s: RemovalSurvey, target: NodeSpec, forceLost: boolean): string[] {
  if (s.gone) return [`${target.name} is in neither Kubernetes nor dqlite: nothing to remove`];
  const lines = [`remove ${target.name} (${s.role}${s.dqliteRole ? `, dqlite ${s.dqliteRole}` : ''}) using ${s.remover}`];
  if (forceLost) {
    lines.push(`1. on ${s.remover}: microk8s remove-node ${target.name} --force (the node is lost)`);
  } else {
    if (s.inKubernetes) lines.push(`1. drain ${target.name}`);
    lines.push(`2. on ${target.name}: microk8s leave`);
    lines.push(`3. on ${s.remover}: microk8s remove-node ${target.name}`);
  }
  lines.push('4. verify it is gone from kubectl get nodes and dqlite .cluster, and dqlite roles settled');
  if (s.guard) lines.push(`WARNING: ${s.guard}`);
  return lines;
}
