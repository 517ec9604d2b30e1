import type { CommandRecord } from './audit';
import type { DqliteMember, DqliteRole } from './dqlite';
import type { Inventory, Role } from './inventory';
import type { RunbookBaseInput } from './messages';

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

export interface FormInput extends RunbookBaseInput {
  /** Workers joining at once (`--worker-concurrency`, default 5). Control-plane joins are always sequential. */
  workerConcurrency?: number;
  /** Largest clock difference allowed between nodes (`--max-clock-skew`, default 2 s). */
  maxClockSkewMs?: number;
  /** Remove stale dqlite members that block a join without asking (`--clean-stale`). */
  cleanStale?: boolean;
  /** Polling and timeouts; tests shorten them. */
  timing?: Partial<FormTiming>;
}

export interface FormTiming {
  /** Poll interval while waiting for a node to be Ready and dqlite to settle. */
  pollMs: number;
  /** How long a joined node may take to show up Ready and in dqlite with settled roles. */
  settleTimeoutMs: number;
  /** A silent activity is retried on another worker after this long (a crashed worker). */
  heartbeatTimeoutMs: number;
  /** Join tokens live this long: long enough for retries within one join, short enough to be useless later. */
  tokenTtlSeconds: number;
}

export const DEFAULT_FORM_TIMING: FormTiming = {
  pollMs: 3_000,
  settleTimeoutMs: 5 * 60_000,
  heartbeatTimeoutMs: 60_000,
  tokenTtlSeconds: 300,
};

export interface FormResult {
  plan: string[];
  /** False when the cluster was already formed as the inventory says. */
  changed: boolean;
  primary: string;
  joined: string[];
  verification: Verification;
  /** The closing summary table, one line per row (markdown). */
  table: string[];
  /** Warnings and the report lines the run recorded (also in `runbook watch`). */
  notes: string[];
}
