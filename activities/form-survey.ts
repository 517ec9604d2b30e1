/**
 * form's pre-flight: every node inspected at once (SSH and sudo, snap version, clock, what cluster it is in), the
 * primary chosen, each node classified (join, already a member, stale, another cluster), the join ports probed from
 * each joining node, and the plan in sentences. Nothing changes.
 */
import { heartbeat, sleep } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { type Inventory, type NodeSpec, nodePaths } from '../common/inventory';
import { formatMinor, minorOf } from '../common/versions';
import { SUDO_PROBE, CLOCK_PROBE, clockSkewMs, parseClockNs } from './check-probes';
import { type ActivityDeps, findNode, openNode } from './deps';
import { type DqliteMember } from '../common/dqlite';
import { dqliteAddress, DQLITE_PORT, JOIN_PORTS, classifyPortProbe, portProbeCommand, devTcpProbeCommand } from './microk8s/ports';
import { parseHaConf } from './microk8s/ha-conf';
import { readFileCommand, TRUE_COMMAND } from './microk8s/files';
import { parseMicrok8sVersion, versionCommand } from './microk8s/version';
import { type KubeNode } from './microk8s/kubectl';
import type { ExecResult, NodeSession } from './ssh';
import { LOCK, dqliteMembers, excerptOf, exec, kubeNodes, localMembers, locksOf, messageOf, } from './cluster-reads';
import type { FormOptions, FormSurvey, NodeFacts } from '../common/form';

export function createFormSurveyActivities(deps: ActivityDeps) {
  const session = (inv: Inventory, node: NodeSpec): NodeSession => openNode(deps, inv, node);

  /**
   * `sudo -n true` as the first command. A transient connection failure (retryable: refused, reset, no exit
   * status) is tried three times before the node counts as unreachable; host-key and auth failures count at once.
   */
  async function firstContact(sh: NodeSession, node: NodeSpec): Promise<ExecResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await exec(sh, node.become === 'sudo' ? SUDO_PROBE : TRUE_COMMAND, { quiet: true, timeoutMs: 20_000 });
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
    const clock = await exec(sh, CLOCK_PROBE, { quiet: true });
    const remote = parseClockNs(clock.stdout);
    if (remote !== undefined) facts.clockOffsetMs = clockSkewMs(remote, sent, Date.now());
    else problems.push(`${node.name}: cannot read the clock ("date +%s%N" printed ${excerptOf(clock.stdout) || 'nothing'})`);

    const version = await exec(sh, versionCommand(node), { quiet: true });
    const parsed = version.exitCode === 0 ? tryParse(() => parseMicrok8sVersion(version.stdout)) : undefined;
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
  };
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

/** A parse that may fail on output the command should not have printed: undefined instead. */
function tryParse<T>(parse: () => T): T | undefined {
  try {
    return parse();
  } catch {
    return undefined;
  }
}
