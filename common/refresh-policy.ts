/** The refresh-policy runbook's contract (workflow-safe): snap auto-refresh holds across the cluster (§14). */
import type { RunbookBaseInput } from './messages';

export type RefreshPolicyAction = 'status' | 'hold' | 'unhold';

export interface RefreshPolicyInput extends RunbookBaseInput {
  action: RefreshPolicyAction;
  /** A lost worker is noticed after this long (default 60 s; tests shorten it). */
  heartbeatTimeoutSeconds?: number;
  /** The most one node's hold or release may take, retries included, before the run stops naming it (default 180 s). */
  stepTimeoutSeconds?: number;
}

/** One node's snap and how auto-refresh treats it. */
export interface NodeRefreshPolicy {
  node: string;
  /** Tracked channel (`1.29/stable`), version and revision, from `snap list microk8s`. */
  tracking?: string;
  version: string;
  revision: string;
  /** microk8s's own hold (`snap info`'s `hold:`): `forever` or when it ends (RFC3339). Absent: not held. */
  hold?: string;
  /** A system-wide hold (`snap refresh --time`'s `hold:`): holds every snap's auto-refresh too. */
  systemHold?: string;
  /** `refresh.timer` and the next auto-refresh as snapd plans it. */
  timer?: string;
  next?: string;
  /** The node did not answer over SSH: why. Nothing else about it is known (`version` and `revision` are empty). */
  unreachable?: string;
}

export interface RefreshPolicyResult {
  action: RefreshPolicyAction;
  plan: string[];
  nodes: NodeRefreshPolicy[];
  /** Nodes whose holds this run changed. */
  changed: string[];
  /** Where the nodes differ (channel, version, hold): each is a line an operator should read. */
  drift: string[];
}

/** Whether auto-refresh of microk8s is held on this node (its own hold or a system-wide one). */
export function autoRefreshHeld(n: NodeRefreshPolicy): boolean {
  return !!n.hold || !!n.systemHold;
}

/** The differences between nodes that matter before an upgrade: channels, versions, holds. */
export function refreshDrift(all: NodeRefreshPolicy[]): string[] {
  // A node that does not answer is named on its own line; the comparisons are between the nodes that answered.
  const drift: string[] = all.filter((n) => n.unreachable).map((n) => `${n.node} does not answer over SSH (${n.unreachable}): its channel, version and holds are unknown`);
  const nodes = all.filter((n) => !n.unreachable);
  const by = (key: (n: NodeRefreshPolicy) => string) => {
    const groups = new Map<string, string[]>();
    for (const n of nodes) groups.set(key(n), [...(groups.get(key(n)) ?? []), n.node]);
    return groups;
  };
  const describe = (groups: Map<string, string[]>) => [...groups].map(([v, ns]) => `${v} (${ns.join(', ')})`).join(' vs ');
  const channels = by((n) => n.tracking ?? 'no channel');
  if (channels.size > 1) drift.push(`nodes track different channels: ${describe(channels)}`);
  const versions = by((n) => n.version);
  if (versions.size > 1) drift.push(`nodes run different versions: ${describe(versions)}`);
  const holds = by((n) => (n.hold ? `held ${n.hold}` : n.systemHold ? `system-wide hold ${n.systemHold}` : 'not held'));
  if (holds.size > 1) drift.push(`auto-refresh is held on some nodes only: ${describe(holds)}; a node not held may refresh on its own (runbook refresh-policy --hold)`);
  return drift;
}
