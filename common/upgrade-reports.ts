/** What every upgrade activity needs: the (slim) inventory and the node it is about. */
import type { ClusterObservation, UpgradeOptions } from './upgrade';
import type { CommandRecord } from './audit';
import type { Inventory } from './inventory';
import type { PdbBlock } from './drain';
import type { RunbookBaseInput } from './messages';

export interface NodeActivityInput {
  inventory: Inventory;
  node: string;
}

export interface SnapState {
  version: string;
  revision: string;
  tracking?: string;
  held: boolean;
}

export interface ObservedCluster extends ClusterObservation {
  /** Added by the command audit (activities/ssh/audit.ts): every command the activity ran. */
  commands?: CommandRecord[];
}

export interface HealthReport {
  ok: boolean;
  problems: string[];
  /** Added by the command audit (activities/ssh/audit.ts): every command the activity ran. */
  commands?: CommandRecord[];
}

/** What the health gates after a refresh compare against. */
export interface HealthGateInput {
  controlPlane: boolean;
  expect: { ha: boolean; voters: number };
  baseline: string[];
  /**
   * waitNodeReady has just seen the node Ready on the target minor: the gate does not ask again (one kubectl less).
   * Honoured on the activity's first attempt only; a retry, later, looks again.
   */
  readyVerified?: boolean;
}

export interface UncordonReport {
  /** False for `already uncordoned`. */
  changed: boolean;
  /** False when the health gate failed: the node was left cordoned (nothing changed). */
  uncordoned: boolean;
  /** The gate's problems (empty without a gate or when it passed). */
  problems: string[];
  /** Added by the command audit (activities/ssh/audit.ts): every command the activity ran. */
  commands?: CommandRecord[];
}

export interface DrainReport {
  drained: boolean;
  evicted: string[];
  pdbBlocked: PdbBlock[];
  /** Evictable pods still on the node after the drain (should be none). */
  leftOver: string[];
  message?: string;
  /** Added by the command audit (activities/ssh/audit.ts): every command the activity ran. */
  commands?: CommandRecord[];
}

export interface RefreshReport {
  /** The node already ran the target: no refresh was run (a rerun after a crash, or an earlier run). */
  skipped: boolean;
  before: SnapState;
  after: SnapState;
  /** Added by the command audit (activities/ssh/audit.ts): every command the activity ran. */
  commands?: CommandRecord[];
}

export interface RevertReport {
  skipped: boolean;
  before: SnapState;
  after: SnapState;
  /** Added by the command audit (activities/ssh/audit.ts): every command the activity ran. */
  commands?: CommandRecord[];
}

export interface ReadyReport {
  ready: boolean;
  kubeletVersion?: string;
  waitedMs: number;
  message?: string;
}

export interface NodeStateReport {
  snap: SnapState;
  ready: boolean;
  unschedulable: boolean;
  kubeletVersion?: string;
  /** Added by the command audit (activities/ssh/audit.ts): every command the activity ran. */
  commands?: CommandRecord[];
}

export interface NodeTimeouts {
  drainTimeoutSeconds: number;
  readyTimeoutSeconds: number;
  readyPollMs: number;
  heartbeatTimeoutSeconds: number;
  /** `--step-timeout`: each step's deadline, retries included (absent in runs started before it existed). */
  stepTimeoutSeconds?: number;
}

/** `--step-timeout`'s default: 30 minutes, the snap command's own timeout. */
export const DEFAULT_STEP_TIMEOUT_SECONDS = 1800;

export interface UpgradeNodeInput extends NodeTimeouts {
  /** The node and the control planes kubectl can run on: never the whole inventory (history size). */
  inventory: Inventory;
  node: string;
  controlPlane: boolean;
  channel: string;
  /** The Kubernetes minor the node must report afterwards (`1.29`). */
  minor: string;
  fromVersion: string;
  /** HA and voter count before the upgrade, for the quorum check and the health gate. */
  expect: { ha: boolean; voters: number };
  /** Failing workloads at the start of the run. */
  baseline: string[];
  soakSeconds: number;
  /** Cordoned before this run started: an operator's cordon is left in place. */
  wasCordoned: boolean;
}

export interface UpgradeNodeResult {
  node: string;
  /** `already-on-target`: no refresh was run (a rerun, or a retry after a crash). */
  outcome: 'upgraded' | 'already-on-target';
  before: SnapState;
  after: SnapState;
  kubeletVersion?: string;
  uncordoned: boolean;
}

export interface NodeFailure {
  node: string;
  /** The step that failed, named after the procedure (`drainNode`, `refreshSnap`, `waitNodeReady`…). */
  step: string;
  message: string;
  pdbBlocked?: PdbBlock[];
  /** Whether the snap was touched: decides between a revert and a plain uncordon. */
  refreshed: boolean;
  /**
   * The step ran out of its deadline (`--step-timeout`) or lost its node over SSH: before any rollback, the node is
   * asked whether it answers at all.
   */
  mayBeUnreachable?: boolean;
  /** Asked again after such a failure, the node did not answer: no rollback can run on it. Set by the parent. */
  unreachable?: boolean;
}

export interface RollbackNodeInput extends NodeTimeouts {
  inventory: Inventory;
  node: string;
  /** The revision the node ran before the upgrade. */
  revision: string;
  /** Its minor (`1.28`): Ready is awaited on it. */
  minor: string;
  wasCordoned: boolean;
  reason: string;
}

export interface RollbackNodeResult {
  node: string;
  reverted: boolean;
  drainedAgain: boolean;
  uncordoned: boolean;
  version: string;
  revision: string;
  /** What was done, in order: the compensation record. */
  actions: string[];
}

export type RollingUpgradeInput = RunbookBaseInput & import('zod').input<typeof UpgradeOptions>;

export interface RollingUpgradeResult {
  outcome: 'planned' | 'refused' | 'nothing-to-do' | 'upgraded';
  plan: string[];
  backup?: { id: string; node: string; path: string; sha256: string; size: number };
  /** Node → version it ended on. */
  versions: Record<string, string>;
  /** Every compensation, in order (rollbacks, uncordons after cancel, hold releases that failed). */
  compensations: string[];
}

/** Details attached to an UpgradeFailed failure: what was done, and what was left behind and why. */
export interface UpgradeFailureDetails {
  failure: NodeFailure;
  compensations: string[];
  leftCordoned: string[];
  upgraded: string[];
}
