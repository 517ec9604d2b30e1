/**
 * Restore drills (`runbook drill`): a backup restored into a fresh lab copy of the cluster's topology must serve, or
 * it is reported broken. The contract between the CLI, the workflow and its activities, and the pure judgement of
 * what the restored cluster serves. Workflow-safe.
 */
import { clusterWorkflowId } from './constants';
import type { Inventory } from './inventory';
import type { RunbookBaseInput } from './messages';

export interface DrillInput extends RunbookBaseInput {
  /** A backup id of the inventory's cluster, or `latest` (the newest, whatever took it). */
  backup: string;
  /** The MicroK8s channel of the lab, when the backup does not record the one it was taken on. */
  channel?: string;
}

/** The backup a drill restores, as found in the engine's state directory (no file list: history stays small). */
export interface DrillBackup {
  id: string;
  cluster: string;
  node: string;
  path: string;
  createdAt: string;
  size: number;
  sha256: string;
  files: number;
  stopped: boolean;
  label?: string;
  channel?: string;
  kubernetesNodes?: string[];
  /** The tarball still has the sha256 recorded when it was taken. */
  intact: boolean;
  /** Closed segments, open segments and snapshots in the archive: the files that hold the datastore's entries. */
  raftEntryFiles: number;
}

export interface DrillTopology {
  controlPlanes: number;
  workers: number;
  channel: string;
  /** Workers left out because a lab holds at most `LAB_MAX_NODES` nodes. */
  workersLeftOut: number;
}

/** A drill lab as made by `makeDrillLab`: its inventory is the lab's, never the cluster's. */
export interface DrillLab {
  name: string;
  dir: string;
  /** When making it began: a Node object created before this came from the backup, not from the lab's kubelets. */
  createdAt: string;
  inventory: Inventory;
  /** An earlier attempt's lab of the same name was removed first (a worker died while making it). */
  replaced: boolean;
}

export interface ListedNode {
  name: string;
  created?: string;
  ready: string;
}

/** What `proveItServes` saw on the restored cluster, and the verdict. */
export interface ServeVerdict {
  ok: boolean;
  reason?: string;
  /** The dqlite leader's address and lab node. */
  leader?: { address: string; node?: string };
  /** Node objects listed that are older than the lab: they came back from the backup. */
  restored: string[];
  /** Node objects the lab's own kubelets registered after the restore. */
  registeredByLab: string[];
  /** Node objects of the backup's cluster that did not come back. */
  missing: string[];
  /** What `kubectl get nodes` listed. */
  listed?: ListedNode[];
}

export interface DrillResult {
  plan: string[];
  outcome: 'planned' | 'ok' | 'broken' | 'cannot-judge';
  backup: DrillBackup;
  topology?: DrillTopology;
  /** The Node objects a restore must bring back, and where that list comes from. */
  expected: { nodes: string[]; from: 'backup' | 'inventory' };
  lab?: { name: string; removed: boolean };
  verdict?: ServeVerdict;
  /** Why the backup is broken (also the failure's message). */
  reason?: string;
}

/** A lab holds at most this many nodes (lab/index.ts). */
export const LAB_MAX_NODES = 250;

/**
 * A drill's workflow ID: not the cluster's lock (`runbook-<cluster>`), since a drill touches none of its nodes and may
 * run during an upgrade, but still one drill per cluster at a time (conflict policy FAIL). The "." keeps it apart
 * from every cluster's lock ID.
 */
export function drillWorkflowId(cluster: string): string {
  return `${clusterWorkflowId(cluster)}.drill`;
}

/** FNV-1a, 32 bits, as 8 hex digits: a short stable suffix (workflow-safe, no crypto). */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/**
 * The drill lab's name, from the drill's workflow ID: every attempt and rerun of a cluster's drill finds the same
 * lab, so a crash never leaves two. A lowercase DNS label, as lab names must be.
 */
export function drillLabName(workflowId: string): string {
  const base = workflowId.replace(/\.drill$/, '').replace(/^runbook-/, '').toLowerCase().replace(/[^a-z0-9-]+/g, '-');
  const name = `drill-${base}`.replace(/-+$/, '');
  return name.length <= 63 ? name : `${name.slice(0, 54).replace(/-+$/, '')}-${fnv1a(workflowId)}`;
}

/** The lab's shape: the inventory's control planes and workers (workers capped to what a lab holds), the channel. */
export function drillTopology(inventory: Inventory, channel: string): DrillTopology {
  const controlPlanes = inventory.nodes.filter((n) => n.role === 'controlplane').length;
  const allWorkers = inventory.nodes.length - controlPlanes;
  const workers = Math.max(0, Math.min(allWorkers, LAB_MAX_NODES - controlPlanes));
  return { controlPlanes, workers, channel, workersLeftOut: allWorkers - workers };
}

/** ISO time to epoch ms, whole seconds: Kubernetes timestamps have no fraction. */
function wholeSeconds(iso: string): number {
  return Math.floor(Date.parse(iso) / 1000) * 1000;
}

/**
 * Does the restored cluster serve what the backup held? A dqlite leader, an API that answers, and every Node object
 * the backup's cluster had listed with a creation time before the lab existed: a Node object created later was
 * registered by the lab's own kubelet, not restored (an empty backup still lists the lab's nodes).
 */
export function judgeServed(input: {
  cluster: string;
  leader?: { address: string; node?: string };
  leaderProblem?: string;
  apiProblem?: string;
  listed: ListedNode[];
  expected: string[];
  labCreatedAt: string;
}): ServeVerdict {
  const { leader } = input;
  const base = { leader, restored: [] as string[], registeredByLab: [] as string[], missing: [...input.expected] };
  if (!leader) return { ...base, ok: false, reason: `no dqlite leader on the restored cluster (${input.leaderProblem ?? 'none answered'})` };
  if (input.apiProblem) return { ...base, ok: false, reason: `the Kubernetes API does not answer on the restored cluster (${input.apiProblem})` };
  const before = wholeSeconds(input.labCreatedAt);
  const isRestored = (n: ListedNode) => !!n.created && Date.parse(n.created) < before;
  const restored = input.listed.filter(isRestored).map((n) => n.name).sort();
  const registeredByLab = input.listed.filter((n) => !isRestored(n)).map((n) => n.name).sort();
  const missing = input.expected.filter((e) => !restored.includes(e));
  const verdict: ServeVerdict = { ok: missing.length === 0, leader, restored, registeredByLab, missing };
  if (verdict.ok) return verdict;
  const what = missing.length === input.expected.length ? `none of the ${missing.length} Node objects` : `${missing.length} of the ${input.expected.length} Node objects`;
  const lab = registeredByLab.length ? `; the API lists ${registeredByLab.join(', ')} only because the lab's own nodes registered them after the restore` : '';
  const serves = `dqlite leader ${leader.node ?? leader.address}, the API answers`;
  return { ...verdict, reason: `the restored cluster serves (${serves}), but ${what} cluster ${input.cluster} had came back: ${missing.join(', ')} missing${lab}` };
}
