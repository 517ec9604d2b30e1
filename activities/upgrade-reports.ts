/** What the upgrade activities take and report: the contract between them and the upgrade workflows. */
import type { CommandRecord } from '../common/audit';
import type { Inventory } from '../common/inventory';
import type { ClusterObservation } from '../common/upgrade';
import type { PdbBlock } from './microk8s/drain';

/** What every upgrade activity needs: the (slim) inventory and the node it is about. */
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
  commands: CommandRecord[];
}

export interface HealthReport {
  ok: boolean;
  problems: string[];
  commands: CommandRecord[];
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
  commands: CommandRecord[];
}

export interface DrainReport {
  drained: boolean;
  evicted: string[];
  pdbBlocked: PdbBlock[];
  /** Evictable pods still on the node after the drain (should be none). */
  leftOver: string[];
  message?: string;
  commands: CommandRecord[];
}

export interface RefreshReport {
  /** The node already ran the target: no refresh was run (a rerun after a crash, or an earlier run). */
  skipped: boolean;
  before: SnapState;
  after: SnapState;
  commands: CommandRecord[];
}

export interface RevertReport {
  skipped: boolean;
  before: SnapState;
  after: SnapState;
  commands: CommandRecord[];
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
  commands: CommandRecord[];
}
