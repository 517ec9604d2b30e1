/**
 * Activities of the rolling upgrade (workflows/upgrade.ts). Each one observes before it acts, so a retry after
 * a crash at any line does nothing twice: drain and uncordon are idempotent in kubectl, a refresh is skipped when
 * the node already runs the target, a revert is pinned to the revision seen before the upgrade.
 * kubectl runs on a control-plane node other than the one being upgraded (its own API server restarts).
 */
import { ApplicationFailure, Context, heartbeat } from '@temporalio/activity';
import { FailureType } from '../common/constants';
import type { Inventory, NodeSpec } from '../common/inventory';
import { sameMinor } from '../common/versions';
import type { ObservedNode } from '../common/upgrade';
import { type ActivityDeps, findNode, openNode } from './deps';
import { budgetFor, budgetNamedIn, listPdbsCommand, parsePdbs, parsePodLabels } from './microk8s/drain';
import { holdCommand, unholdCommand, parseRefreshOutput, parseRevertOutput, parseSnapInfo, parseSnapList, refreshCommand, revertCommand, snapInfoCommand, snapListCommand } from './microk8s/snap';
import { type PdbBlock } from '../common/drain';
import { clusterMembersCommand, dqliteCommand, parseDqliteCluster, parseLeader } from './microk8s/dqlite';
import {
  drainCommand,
  getNodesCommand,
  getPodsCommand,
  type KubeNode,
  type KubePod,
  parseApiUnavailable,
  parseCordonOutput,
  parseDrainOutput,
  parseNodes,
  parsePods,
  parseWaitOutput,
  uncordonCommand,
  waitNodeReadyCommand,
} from './microk8s/kubectl';
import { parseStatus, statusCommand } from './microk8s/status';
import { UnexpectedOutputError } from './microk8s/unexpected-output';
import type { NodeSession } from './ssh/types';
import type { NodeActivityInput, SnapState, ObservedCluster, HealthReport, HealthGateInput, UncordonReport, DrainReport, RefreshReport, RevertReport, ReadyReport, NodeStateReport } from '../common/upgrade-reports';

const SNAP_TIMEOUT_MS = 30 * 60_000;
const POLL_MS = 1000;
/**
 * The longest single `kubectl wait`: one that runs on a control plane whose API server went away (its watch then
 * only retries) is given up after this and issued again, on the next control plane that answers.
 */
const WAIT_CHUNK_S = 30;

function failure(type: string, message: string, nonRetryable = false): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable });
}

/** The activity's first Temporal attempt (true outside an activity). */
function firstAttempt(): boolean {
  try {
    return Context.current().info.attempt <= 1;
  } catch {
    return true;
  }
}

/**
 * Failing: Failed, Unknown or Pending, or Running but not ready after restarts (crash-looping). A Running pod
 * that is merely not ready yet without restarts is starting, not failing.
 */
export function failingPods(pods: KubePod[]): KubePod[] {
  return pods.filter(
    (p) =>
      !p.terminating &&
      (['Failed', 'Unknown', 'Pending'].includes(p.phase) || (p.phase === 'Running' && !p.ready && p.restarts > 0)),
  );
}

/** A pod's workload identity survives rescheduling (new pod names), so baselines compare on it. */
export function workloadOf(p: KubePod): string {
  return p.ownerName ? `${p.namespace}/${p.ownerKind ?? 'owner'}/${p.ownerName}` : `${p.namespace}/${p.name}`;
}

/** Pods a drain must have evicted: not DaemonSet-managed, not static (owned by the Node), not finished. */
export function evictable(pods: KubePod[]): KubePod[] {
  return pods.filter((p) => p.ownerKind !== 'DaemonSet' && p.ownerKind !== 'Node' && !p.terminating && p.phase !== 'Succeeded' && p.phase !== 'Failed');
}

/** Per-node commands inside one activity run at most this many at a time (large clusters, small workers). */
const NODE_CONCURRENCY = 8;

async function eachLimited<T, R>(items: T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i]);
  };
  await Promise.all(Array.from({ length: Math.min(NODE_CONCURRENCY, items.length) }, lane));
  return out;
}

export function createUpgradeActivities(deps: ActivityDeps) {
  const session = (inventory: Inventory, node: NodeSpec): NodeSession => openNode(deps, inventory, node);

  /**
   * Run kubectl (or status) on a control plane, preferring ones other than `avoid`; moves on to the next when a
   * node is unreachable or its API server does not answer (it may be the one restarting).
   */
  async function onControlPlane<T>(
    inventory: Inventory,
    avoid: string | undefined,
    fn: (sh: NodeSession) => Promise<T>,
  ): Promise<T> {
    const cps = inventory.nodes.filter((n) => n.role === 'controlplane');
    const order = [...cps.filter((n) => n.name !== avoid), ...cps.filter((n) => n.name === avoid)];
    let last: unknown;
    for (const cp of order) {
      const sh = session(inventory, cp);
      try {
        return await fn(sh);
      } catch (err) {
        last = err;
        if (err instanceof ApplicationFailure && err.nonRetryable && err.type !== FailureType.SshConnectionFailed) throw err;
      }
    }
    throw last ?? failure(FailureType.PreconditionFailed, `no control-plane node in ${inventory.cluster} answered`);
  }

  /** kubectl that must succeed: API-down errors and non-zero exits throw (retryable), so the next CP is tried. */
  async function kubectl(sh: NodeSession, line: string, quiet = false): Promise<string> {
    const r = await sh.run(line, { quiet });
    if (r.exitCode !== 0) {
      const down = parseApiUnavailable(r.stderr);
      throw failure(
        down ? FailureType.ApiUnavailable : FailureType.CommandFailed,
        `${sh.node.name}: ${down ? `API server not answering (${down.line})` : (r.stderr.trim() || r.stdout.trim()).slice(0, 400)}`,
      );
    }
    return r.stdout;
  }

  async function snapState(sh: NodeSession, quiet = false): Promise<SnapState> {
    const r = await sh.check(snapListCommand(), { quiet });
    const list = parseSnapList(r.stdout);
    return { version: list.version, revision: list.revision, tracking: list.tracking, held: list.notes.includes('held') };
  }

  async function nodesAndPods(inventory: Inventory, avoid: string | undefined, quiet = false) {
    return onControlPlane(inventory, avoid, async (sh) => {
      const nodes = parseNodes(await kubectl(sh, getNodesCommand(sh.node), quiet));
      const pods = parsePods(await kubectl(sh, getPodsCommand(sh.node), quiet));
      return { nodes, pods };
    });
  }

  async function findKubeNode(inventory: Inventory, name: string, quiet = false): Promise<KubeNode | undefined> {
    return onControlPlane(inventory, name, async (sh) =>
      parseNodes(await kubectl(sh, getNodesCommand(sh.node), quiet)).find((n) => n.name === name),
    );
  }

  return {
    /** Versions, revisions, channels, readiness, dqlite roles and failing pods: the live state the plan is made from. */
    async observeUpgradeState(input: { inventory: Inventory }): Promise<ObservedCluster> {
      const { inventory } = input;
      const snaps = await eachLimited(inventory.nodes, async (n) => {
        return snapState(session(inventory, n));
      });
      heartbeat();
      const { nodes, pods } = await nodesAndPods(inventory, undefined);
      const dq = await onControlPlane(inventory, undefined, async (sh) => {
        const status = parseStatus((await sh.run(statusCommand(sh.node))).stdout, 0);
        const members = parseDqliteCluster((await sh.check(clusterMembersCommand(sh.node))).stdout);
        const leader = parseLeader((await sh.check(dqliteCommand(sh.node, '.leader', { format: 'tabular' }))).stdout);
        return { status, members, leader };
      });
      const info = await onControlPlane(inventory, undefined, async (sh) =>
        parseSnapInfo((await sh.check(snapInfoCommand())).stdout),
      );
      const channels: Record<string, string> = {};
      for (const [ch, rel] of Object.entries(info.channels)) if (rel !== 'closed') channels[ch] = rel.version;
      const host = (address: string) => address.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
      const observed: ObservedNode[] = inventory.nodes.map((n, i) => {
        const kube = nodes.find((k) => k.name === n.name);
        const member = dq.members.find((m) => host(m.address) === n.address);
        return {
          name: n.name,
          controlPlane: n.role === 'controlplane',
          version: snaps[i].version,
          revision: snaps[i].revision,
          tracking: snaps[i].tracking ?? '-',
          held: snaps[i].held,
          kubeletVersion: kube?.kubeletVersion,
          ready: kube?.ready === 'True',
          unschedulable: kube?.unschedulable ?? false,
          dqliteRole: n.role === 'controlplane' ? member?.role : undefined,
          leader: !!dq.leader && host(dq.leader) === n.address,
        };
      });
      const failing = failingPods(pods);
      return {
        nodes: observed,
        ha: dq.status.ha,
        voters: dq.members.filter((m) => m.role === 'voter').length,
        failingSystemPods: failing.filter((p) => p.namespace === 'kube-system').map((p) => `${p.namespace}/${p.name}`),
        failingWorkloadPods: [...new Set(failing.filter((p) => p.namespace !== 'kube-system').map(workloadOf))],
        channels,
      };
    },

    /** Hold (or release) snap auto-refresh of microk8s on each node; both are idempotent in snapd. */
    async holdRefreshes(input: { inventory: Inventory; nodes: string[]; release: boolean }): Promise<{ failed: string[] }> {
      const failed: string[] = [];
      await eachLimited(input.nodes, async (name) => {
        const sh = session(input.inventory, findNode(input.inventory, name));
        try {
          const r = await sh.run(input.release ? unholdCommand() : holdCommand());
          if (r.exitCode !== 0) failed.push(`${name}: ${(r.stderr || r.stdout).trim().slice(0, 200)}`);
        } catch (err) {
          if (!input.release) throw err;
          failed.push(`${name}: ${(err as Error).message}`);
        }
      });
      // A hold that did not take is a reason not to start; a release that failed is reported, not fatal.
      if (!input.release && failed.length) throw failure(FailureType.CommandFailed, `could not hold refreshes: ${failed.join('; ')}`);
      return { failed };
    },

    /** Before a control plane goes down: quorum with every voter present, HA as at the start, all CPs Ready. */
    async checkQuorum(input: NodeActivityInput & { expect: { ha: boolean; voters: number } }): Promise<HealthReport> {
      const problems: string[] = [];
      const status = await onControlPlane(input.inventory, input.node, async (sh) => {
        const r = await sh.run(statusCommand(sh.node));
        const st = parseStatus(r.stdout, r.exitCode ?? 1, r.stderr);
        if (!st.running) throw failure(FailureType.ApiUnavailable, `${sh.node.name}: microk8s not running (${st.message ?? st.notRunningReason})`);
        return st;
      });
      if (input.expect.ha && !status.ha) problems.push('high availability is off');
      if (status.voters.length < input.expect.voters) {
        problems.push(`${status.voters.length} dqlite voter(s), expected ${input.expect.voters}: taking a voter down now could lose quorum`);
      }
      const kube = await onControlPlane(input.inventory, input.node, async (sh) => parseNodes(await kubectl(sh, getNodesCommand(sh.node))));
      for (const cp of input.inventory.nodes.filter((n) => n.role === 'controlplane')) {
        const k = kube.find((n) => n.name === cp.name);
        if (k?.ready !== 'True') problems.push(`control plane ${cp.name} is not Ready`);
      }
      return { ok: problems.length === 0, problems };
    },

    /** Node readiness, schedulability and snap state, for reports and "drain again if needed". */
    async readNodeState(input: NodeActivityInput): Promise<NodeStateReport> {
      const sh = session(input.inventory, findNode(input.inventory, input.node));
      const snap = await snapState(sh);
      const k = await findKubeNode(input.inventory, input.node);
      return { snap, ready: k?.ready === 'True', unschedulable: k?.unschedulable ?? false, kubeletVersion: k?.kubeletVersion };
    },

    /**
     * Cordon and drain (`--ignore-daemonsets --delete-emptydir-data --timeout`), then check that no evictable pod
     * is left. A PodDisruptionBudget block comes back as data with pod and budget names, not as an error.
     */
    async drainNode(input: NodeActivityInput & { timeoutSeconds: number }): Promise<DrainReport> {
      // The drain runs on a control plane; the node's own SSH connection (refreshSnap next) opens meanwhile.
      deps.ssh.warm(findNode(input.inventory, input.node), { knownHosts: input.inventory.knownHosts, hostKeyPolicy: input.inventory.hostKeyPolicy });
      const out = await onControlPlane(input.inventory, input.node, async (sh) => {
        const r = await sh.run(drainCommand(sh.node, input.node, { timeoutS: input.timeoutSeconds }), {
          timeoutMs: (input.timeoutSeconds + 60) * 1000,
        });
        const down = r.exitCode !== 0 ? parseApiUnavailable(r.stderr) : undefined;
        if (down) throw failure(FailureType.ApiUnavailable, `${sh.node.name}: API server not answering (${down.line})`);
        const parsed = parseDrainOutput(r.stdout, r.stderr, r.exitCode ?? 1);
        let blocks: PdbBlock[] = parsed.blockedByPdb.map((pod) => ({ pod, budget: budgetNamedIn(`${r.stdout}\n${r.stderr}`, pod) }));
        if (blocks.some((b) => !b.budget)) blocks = await nameBudgets(sh, blocks);
        const pods = parsePods(await kubectl(sh, getPodsCommand(sh.node, { onNode: input.node })));
        return { parsed, blocks, leftOver: evictable(pods).map((p) => `${p.namespace}/${p.name}`) };
      });
      const drained = out.parsed.drained && out.leftOver.length === 0;
      return {
        drained,
        evicted: out.parsed.evicted,
        pdbBlocked: out.blocks,
        leftOver: out.leftOver,
        message: drained
          ? undefined
          : (out.parsed.message ?? (out.leftOver.length ? `pods still on ${input.node}: ${out.leftOver.join(', ')}` : 'drain did not finish')),
      };
    },

    /**
     * `snap refresh microk8s --channel X`, unless the node already runs the target (no second refresh). On the
     * target channel already, snapd itself says whether the track has a newer patch (a patch pass refreshes) or
     * not (`has no updates available`: nothing changes, as on a rerun after a crash), so the store is not asked first.
     */
    async refreshSnap(input: NodeActivityInput & { channel: string; minor: string }): Promise<RefreshReport> {
      const sh = session(input.inventory, findNode(input.inventory, input.node));
      const before = await snapState(sh);
      const onTarget = (s: SnapState) => s.tracking === input.channel && sameMinor(s.version, input.minor);
      const r = await sh.run(refreshCommand(input.channel), { timeoutMs: SNAP_TIMEOUT_MS });
      const outcome = parseRefreshOutput(r.stdout, r.stderr, r.exitCode ?? 1);
      if (outcome.outcome === 'change-in-progress') {
        throw failure(FailureType.SnapBusy, `${input.node}: snap has a "${outcome.change}" change in progress; retrying`);
      }
      if (outcome.outcome === 'no-updates' && onTarget(before)) return { skipped: true, before, after: before };
      const after = await snapState(sh);
      if (outcome.outcome === 'failed' || !onTarget(after)) {
        const why = outcome.outcome === 'failed' ? outcome.message : `now ${after.version} on ${after.tracking}`;
        throw failure(FailureType.RefreshFailed, `${input.node}: snap refresh microk8s --channel=${input.channel} failed: ${why}`, true);
      }
      return { skipped: false, before, after };
    },

    /**
     * Wait for Ready with a kubeletVersion of the expected minor; returns ready=false at the deadline. The waiting
     * is `kubectl wait` (a watch on a control plane other than the node): it returns as the node turns Ready, with
     * the Node object, so there is no poll interval to wait out. `pollMs` paces only what a watch cannot answer:
     * Ready but still reporting the old minor (kubelet's status not updated yet), a node not listed, no API server.
     */
    async waitNodeReady(input: NodeActivityInput & { minor: string; timeoutSeconds: number; pollMs?: number }): Promise<ReadyReport> {
      const started = Date.now();
      const deadline = started + input.timeoutSeconds * 1000;
      let last: KubeNode | undefined;
      let message: string | undefined;
      for (;;) {
        const chunkS = Math.min(WAIT_CHUNK_S, Math.max(1, Math.ceil((deadline - Date.now()) / 1000)));
        let pause = true;
        try {
          const w = await onControlPlane(input.inventory, input.node, async (sh) => {
            const r = await sh.run(waitNodeReadyCommand(sh.node, input.node, chunkS), { quiet: true, timeoutMs: (chunkS + 60) * 1000 });
            const down = r.exitCode !== 0 ? parseApiUnavailable(r.stderr) : undefined;
            if (down) throw failure(FailureType.ApiUnavailable, `${sh.node.name}: API server not answering (${down.line})`);
            return parseWaitOutput(r.stdout, r.stderr, r.exitCode ?? 1);
          });
          if (w.met) {
            last = w.node;
            if (sameMinor(last.kubeletVersion, input.minor)) {
              return { ready: true, kubeletVersion: last.kubeletVersion, waitedMs: Date.now() - started };
            }
            message = `Ready, but the kubelet still reports ${last.kubeletVersion}`;
          } else {
            message = w.timedOut ? undefined : w.message;
            pause = !w.timedOut; // a wait that ran out waited already
          }
        } catch (err) {
          if (err instanceof ApplicationFailure && err.nonRetryable) throw err;
          // Output kubectl wait cannot have printed will not parse on the next try either: end the step now.
          if (err instanceof UnexpectedOutputError) {
            throw failure(FailureType.UnexpectedOutput, `${input.node}: waiting for Ready: ${err.message}`, true);
          }
          message = (err as Error).message;
        }
        heartbeat({ node: input.node, waiting: 'Ready', kubeletVersion: last?.kubeletVersion });
        if (Date.now() >= deadline) break;
        if (pause) await Context.current().sleep(Math.min(input.pollMs ?? POLL_MS, Math.max(0, deadline - Date.now())));
      }
      // What the node reports now, for the message.
      try {
        last = (await findKubeNode(input.inventory, input.node, true)) ?? last;
      } catch {
        // the message below says what was last seen
      }
      const seen = last ? `${last.ready === 'True' ? 'Ready' : 'NotReady'} on ${last.kubeletVersion}` : 'not seen';
      return {
        ready: false,
        kubeletVersion: last?.kubeletVersion,
        waitedMs: Date.now() - started,
        message: `${input.node} not Ready on ${input.minor} after ${input.timeoutSeconds}s (${message ?? seen})`,
      };
    },

    /**
     * Health gates after a refresh: the node Ready, its kube-system pods running, HA and voters as before (control
     * planes), and no failing workload beyond the baseline taken at the start.
     */
    async checkNodeHealth(input: NodeActivityInput & HealthGateInput): Promise<HealthReport> {
      const problems = await healthProblems(input);
      return { ok: problems.length === 0, problems };
    },

    /**
     * `kubectl uncordon`: "already uncordoned" is success. With `gate`, the health gates run first (the same as
     * checkNodeHealth) and the node is uncordoned only when they pass: one step instead of two, and a rerun does
     * both again (the gate reads, the uncordon is idempotent).
     */
    async uncordonNode(input: NodeActivityInput & { gate?: HealthGateInput }): Promise<UncordonReport> {
      if (input.gate) {
        const problems = await healthProblems({ inventory: input.inventory, node: input.node, ...input.gate });
        if (problems.length) return { changed: false, uncordoned: false, problems };
      }
      const res = await onControlPlane(input.inventory, input.node, async (sh) =>
        parseCordonOutput(await kubectl(sh, uncordonCommand(sh.node, input.node))),
      );
      return { changed: res.changed, uncordoned: true, problems: [] };
    },

    /** `snap revert microk8s --revision=N` to the revision seen before the upgrade; skipped when already there. */
    async revertSnap(input: NodeActivityInput & { revision: string }): Promise<RevertReport> {
      const sh = session(input.inventory, findNode(input.inventory, input.node));
      const before = await snapState(sh);
      if (before.revision === input.revision) return { skipped: true, before, after: before };
      const r = await sh.run(revertCommand({ revision: input.revision }), { timeoutMs: SNAP_TIMEOUT_MS });
      const outcome = parseRevertOutput(r.stdout, r.stderr, r.exitCode ?? 1);
      if (outcome.outcome === 'change-in-progress') {
        throw failure(FailureType.SnapBusy, `${input.node}: snap has a "${outcome.change}" change in progress; retrying`);
      }
      const after = await snapState(sh);
      if (after.revision !== input.revision) {
        const why = outcome.outcome === 'failed' ? outcome.message : `still on revision ${after.revision}`;
        throw failure(FailureType.RevertFailed, `${input.node}: snap revert microk8s --revision=${input.revision} failed: ${why}`, true);
      }
      return { skipped: false, before, after };
    },
  };

  /**
   * The health gates after a refresh: the node Ready (unless waitNodeReady has just seen it, on a first attempt),
   * its kube-system pods running, HA and voters as before (control planes), and no failing workload beyond the
   * baseline taken at the start.
   */
  async function healthProblems(input: NodeActivityInput & HealthGateInput): Promise<string[]> {
    const problems: string[] = [];
    const askReady = !(input.readyVerified && firstAttempt());
    const { nodes, pods } = await onControlPlane(input.inventory, input.node, async (sh) => ({
      nodes: askReady ? parseNodes(await kubectl(sh, getNodesCommand(sh.node))) : undefined,
      pods: parsePods(await kubectl(sh, getPodsCommand(sh.node))),
    }));
    if (nodes && nodes.find((n) => n.name === input.node)?.ready !== 'True') problems.push(`${input.node} is not Ready`);
    const system = failingPods(pods.filter((p) => p.namespace === 'kube-system' && p.node === input.node));
    if (system.length) problems.push(`kube-system pods not running on ${input.node}: ${system.map((p) => p.name).join(', ')}`);
    const beyond = [...new Set(failingPods(pods.filter((p) => p.namespace !== 'kube-system')).map(workloadOf))].filter(
      (w) => !input.baseline.includes(w),
    );
    if (beyond.length) problems.push(`workload pods failing beyond the baseline: ${beyond.join(', ')}`);
    if (input.controlPlane) {
      const st = await onControlPlane(input.inventory, undefined, async (sh) => {
        const r = await sh.run(statusCommand(sh.node));
        return parseStatus(r.stdout, r.exitCode ?? 1, r.stderr);
      });
      if (input.expect.ha && !st.ha) problems.push('high availability is off after the upgrade');
      if (st.voters.length < input.expect.voters) problems.push(`${st.voters.length} voter(s) after the upgrade, ${input.expect.voters} before`);
    }
    return problems;
  }

  /** kubectl never names the budget: match each blocked pod's labels against the PodDisruptionBudgets. */
  async function nameBudgets(sh: NodeSession, blocks: PdbBlock[]): Promise<PdbBlock[]> {
    const [pdbOut, podOut] = [await sh.run(listPdbsCommand(sh.node)), await sh.run(getPodsCommand(sh.node), { quiet: true })];
    if (pdbOut.exitCode !== 0 || podOut.exitCode !== 0) return blocks;
    const pdbs = parsePdbs(pdbOut.stdout);
    const labels = parsePodLabels(podOut.stdout);
    return blocks.map((b) => (b.budget ? b : { ...b, budget: budgetFor(b.pod.split('/')[0], labels.get(b.pod) ?? {}, pdbs) }));
  }
}

export type UpgradeActivities = ReturnType<typeof createUpgradeActivities>;
