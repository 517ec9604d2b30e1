/** What the form activities take and report: the contract between them and the form workflow. */
import type { CommandRecord } from '../common/audit';
import { type Inventory, type Role } from '../common/inventory';
import { type DqliteMember, type DqliteRole } from './microk8s/dqlite';

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
