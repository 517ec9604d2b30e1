/**
 * An in-memory MicroK8s cluster behind the upgrade activities' signatures, for workflow-logic tests on a real
 * dev server. It journals cordons, refreshes and reverts so tests assert the same invariants as on the lab.
 */
import { ApplicationFailure } from '@temporalio/common';
import { commandFailed, connectionFailed } from '../../activities/ssh/failures';
import type { UpgradeActivities } from '../../activities/upgrade';
import type { ObservedNode } from '../../common/upgrade';

export interface FakeNode {
  name: string;
  controlPlane: boolean;
  minor: number;
  patch: number;
  tracking: string;
  unschedulable: boolean;
  leader: boolean;
  held: boolean;
  /** Refreshing to this minor leaves the node NotReady (lab `fail-upgrade --to`). */
  failUpgradeTo?: number;
  /** Each snap revert of the node fails with this (a rollback that cannot be done). */
  failRevert?: string;
  broken: boolean;
  /** Drains are refused by a PodDisruptionBudget. */
  pdbBlocked: boolean;
  /** The health gates after its refresh find this problem (e.g. a kube-system pod not running). */
  unhealthy?: string;
  /** The node does not answer over SSH (lab `hang`): every command on the node itself fails to connect. */
  hung: boolean;
  /** Each drain of the node fails with this (a command's non-zero exit: a real failure, not a transient one). */
  drainError?: string;
  previous: Array<{ minor: number; patch: number; tracking: string }>;
}

export interface JournalEntry {
  t: number;
  node: string;
  event: 'cordon' | 'uncordon' | 'refresh' | 'revert' | 'hold' | 'unhold' | 'backup';
  detail?: string;
}

const LATEST_PATCH = 10;
export const revisionOf = (minor: number, patch: number) => String(5000 + minor * 40 + patch);
export const versionOf = (n: { minor: number; patch: number }) => `v1.${n.minor}.${n.patch}`;

export class FakeCluster {
  readonly nodes: FakeNode[];
  readonly journal: JournalEntry[] = [];
  /** Milliseconds each drain takes (cancel-mid-drain tests make it long). */
  drainMs = 0;
  /** This node hangs (stops answering over SSH) the moment its drain has cordoned it, as the lab's `hang` fault. */
  hangOnDrain?: string;
  /** Calls per activity and node (`drainNode k8s-2`): how often each step ran, tries in place included. */
  readonly calls = new Map<string, number>();
  private seq = 0;

  constructor(cps: number, workers: number, minor = 28, patch = LATEST_PATCH) {
    const mk = (name: string, controlPlane: boolean, i: number): FakeNode => ({
      name,
      controlPlane,
      minor,
      patch,
      tracking: `1.${minor}/stable`,
      unschedulable: false,
      leader: controlPlane && i === 0,
      held: false,
      broken: false,
      pdbBlocked: false,
      hung: false,
      previous: [],
    });
    this.nodes = [
      ...Array.from({ length: cps }, (_, i) => mk(`k8s-${i + 1}`, true, i)),
      ...Array.from({ length: workers }, (_, i) => mk(`w-${i + 1}`, false, i)),
    ];
  }

  node(name: string): FakeNode {
    return this.nodes.find((n) => n.name === name)!;
  }

  private log(node: string, event: JournalEntry['event'], detail?: string) {
    this.journal.push({ t: ++this.seq, node, event, detail });
  }

  events(event: JournalEntry['event']): JournalEntry[] {
    return this.journal.filter((e) => e.event === event);
  }

  private observed(n: FakeNode): ObservedNode {
    return {
      name: n.name,
      controlPlane: n.controlPlane,
      version: versionOf(n),
      revision: revisionOf(n.minor, n.patch),
      tracking: n.tracking,
      kubeletVersion: versionOf(n),
      ready: !n.broken,
      unschedulable: n.unschedulable,
      dqliteRole: n.controlPlane ? 'voter' : undefined,
      leader: n.leader,
    };
  }

  callsOf(activity: string, node: string): number {
    return this.calls.get(`${activity} ${node}`) ?? 0;
  }

  /** Count the call; a hung node's own commands fail as the SSH layer fails them (SshConnectionFailed). */
  private touch(activity: string, node: string, onNode: boolean): FakeNode {
    this.calls.set(`${activity} ${node}`, this.callsOf(activity, node) + 1);
    const n = this.node(node);
    if (onNode && n.hung) throw connectionFailed(`${node} (10.0.0.9:22): no SSH session within 15000 ms (Timed out while waiting for handshake)`);
    return n;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- stand-ins for activities of several input shapes
  activities(): Partial<Record<keyof UpgradeActivities | 'backupNode', (...args: any[]) => Promise<any>>> {
    const channels: Record<string, string> = {};
    for (let m = 20; m <= 32; m++) channels[`1.${m}/stable`] = `v1.${m}.${LATEST_PATCH}`;
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    return {
      observeUpgradeState: async () => ({
        nodes: this.nodes.map((n) => this.observed(n)),
        ha: true,
        voters: Math.min(3, this.nodes.filter((n) => n.controlPlane).length),
        failingSystemPods: [],
        failingWorkloadPods: [],
        channels,
        commands: [],
      }),
      backupNode: async (input: { node: string; id: string }) => {
        this.log(input.node, 'backup');
        return { id: input.id, node: input.node, path: `/tmp/${input.id}.tar`, sha256: 'ab'.repeat(32), size: 1234, files: [], entries: [], commands: [] };
      },
      holdRefreshes: async (input: { nodes: string[]; release: boolean }) => {
        const failed: string[] = [];
        for (const name of input.nodes) {
          if (this.node(name).hung) {
            if (!input.release) throw connectionFailed(`${name}: no SSH session within 15000 ms`);
            failed.push(`${name}: no SSH session within 15000 ms`);
            continue;
          }
          this.node(name).held = !input.release;
          this.log(name, input.release ? 'unhold' : 'hold');
        }
        return { commands: [], failed };
      },
      checkQuorum: async () => ({ ok: true, problems: [], commands: [] }),
      readNodeState: async (input: { node: string }) => {
        const n = this.touch('readNodeState', input.node, true);
        return {
          snap: { version: versionOf(n), revision: revisionOf(n.minor, n.patch), tracking: n.tracking, held: n.held },
          ready: !n.broken,
          unschedulable: n.unschedulable,
          kubeletVersion: versionOf(n),
          commands: [],
        };
      },
      drainNode: async (input: { node: string }) => {
        const n = this.touch('drainNode', input.node, false);
        if (n.drainError) throw commandFailed(n.drainError);
        if (!n.unschedulable) this.log(n.name, 'cordon');
        n.unschedulable = true;
        if (this.hangOnDrain === n.name) n.hung = true;
        if (this.drainMs) await sleep(this.drainMs);
        if (n.pdbBlocked) {
          return {
            drained: false,
            evicted: [],
            pdbBlocked: [{ pod: 'default/web-6d4cf56db6-abcde', budget: 'web-pdb' }],
            leftOver: ['default/web-6d4cf56db6-abcde'],
            message: 'global timeout reached',
            commands: [],
          };
        }
        return { drained: true, evicted: [], pdbBlocked: [], leftOver: [], commands: [] };
      },
      refreshSnap: async (input: { node: string; channel: string; minor: string }) => {
        const n = this.touch('refreshSnap', input.node, true);
        const before = { version: versionOf(n), revision: revisionOf(n.minor, n.patch), tracking: n.tracking, held: n.held };
        const minor = Number(input.minor.split('.')[1]);
        if (n.tracking === input.channel && n.minor === minor && n.patch === LATEST_PATCH) {
          return { skipped: true, before, after: before, commands: [] };
        }
        n.previous.unshift({ minor: n.minor, patch: n.patch, tracking: n.tracking });
        n.minor = minor;
        n.patch = LATEST_PATCH;
        n.tracking = input.channel;
        if (n.failUpgradeTo === minor) n.broken = true;
        this.log(n.name, 'refresh', input.channel);
        const after = { version: versionOf(n), revision: revisionOf(n.minor, n.patch), tracking: n.tracking, held: n.held };
        return { skipped: false, before, after, commands: [] };
      },
      waitNodeReady: async (input: { node: string; minor: string }) => {
        const n = this.node(input.node);
        const ok = !n.broken && `1.${n.minor}` === input.minor;
        return ok
          ? { ready: true, kubeletVersion: versionOf(n), waitedMs: 1 }
          : { ready: false, kubeletVersion: versionOf(n), waitedMs: 1, message: `${n.name} not Ready on ${input.minor}` };
      },
      checkNodeHealth: async (input: { node: string }) => {
        const problem = this.node(input.node).unhealthy;
        return { ok: !problem, problems: problem ? [problem] : [], commands: [] };
      },
      uncordonNode: async (input: { node: string; gate?: unknown }) => {
        const n = this.node(input.node);
        // With a gate, a failing health gate leaves the node cordoned (activities/upgrade.ts uncordonNode).
        if (input.gate && n.unhealthy) return { changed: false, uncordoned: false, problems: [n.unhealthy], commands: [] };
        const changed = n.unschedulable;
        if (changed) this.log(n.name, 'uncordon');
        n.unschedulable = false;
        return { changed, uncordoned: true, problems: [], commands: [] };
      },
      revertSnap: async (input: { node: string; revision: string }) => {
        const n = this.touch('revertSnap', input.node, true);
        if (n.failRevert) throw ApplicationFailure.nonRetryable(n.failRevert, 'RevertFailed');
        const before = { version: versionOf(n), revision: revisionOf(n.minor, n.patch), tracking: n.tracking, held: n.held };
        if (before.revision === input.revision) return { skipped: true, before, after: before, commands: [] };
        const prev = n.previous.shift();
        if (!prev || revisionOf(prev.minor, prev.patch) !== input.revision) throw new Error(`revision ${input.revision} not retained`);
        Object.assign(n, prev);
        n.broken = false;
        this.log(n.name, 'revert', input.revision);
        const after = { version: versionOf(n), revision: revisionOf(n.minor, n.patch), tracking: n.tracking, held: n.held };
        return { skipped: false, before, after, commands: [] };
      },
    };
  }
}

/**
 * The journal invariants: at most one control plane out of service at a time, no worker refreshed
 * before every control plane of the same pass, every cordoned node uncordoned (unless `allowCordoned`).
 */
export function checkInvariants(journal: JournalEntry[], nodes: FakeNode[], allowCordoned: string[] = []): string[] {
  const problems: string[] = [];
  const cp = new Set(nodes.filter((n) => n.controlPlane).map((n) => n.name));
  const out = new Set<string>();
  for (const e of journal) {
    if (e.event === 'cordon') out.add(e.node);
    if (e.event === 'uncordon') out.delete(e.node);
    const cpsOut = [...out].filter((n) => cp.has(n));
    if (cpsOut.length > 1) problems.push(`at t=${e.t} control planes out of service together: ${cpsOut.join(', ')}`);
  }
  const refreshes = journal.filter((e) => e.event === 'refresh');
  for (const channel of new Set(refreshes.map((e) => e.detail))) {
    const pass = refreshes.filter((e) => e.detail === channel);
    const lastCp = Math.max(...pass.filter((e) => cp.has(e.node)).map((e) => e.t));
    const early = pass.filter((e) => !cp.has(e.node) && e.t < lastCp);
    if (early.length) problems.push(`${channel}: workers refreshed before every control plane: ${early.map((e) => e.node).join(', ')}`);
  }
  for (const name of out) if (!allowCordoned.includes(name)) problems.push(`${name} left cordoned`);
  return problems;
}
