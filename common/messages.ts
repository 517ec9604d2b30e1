/**
 * Queries and updates every runbook answers, defined once at module scope (workflow-safe).
 * The CLI (`watch`, `approve`, `reject`, `pause`, `resume`) talks to any runbook through these.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';

export type RunbookKind = 'check' | 'form' | 'remove-node' | 'upgrade' | 'upgrade-node' | 'backup' | 'restore-backup' | 'recover-quorum' | 'refresh-policy' | 'refresh-certs' | 'reboot' | 'replace-node' | 'fleet' | 'drill';

/** Per-node state, as `runbook watch` shows it. Runbooks use the subset that applies to them (a fleet: per cluster). */
export type NodeState =
  | 'pending'
  | 'checking'
  | 'joining'
  | 'joined'
  | 'draining'
  | 'refreshing'
  | 'verifying'
  | 'soaking'
  | 'patching'
  | 'rebooting'
  | 'done'
  | 'reverting'
  | 'reverted'
  | 'stopping'
  | 'stopped'
  | 'backing-up'
  | 'restoring'
  | 'starting'
  | 'removed'
  | 'skipped'
  | 'running'
  | 'busy'
  | 'cancelled'
  | 'failed';

export interface NodeProgress {
  name: string;
  state: NodeState;
  /** Short free text, e.g. "1.28→1.29" or "join as control plane". */
  detail?: string;
  /** Workflow time (ms since epoch) the node entered this state. */
  since: number;
}

export interface PendingApproval {
  id: string;
  /** What is being approved, e.g. "upgrade k8s-2" or "roll back k8s-2". */
  summary: string;
  requestedAt: number;
  /** Workflow time after which the runbook pauses instead of proceeding. */
  deadline?: number;
}

export interface ApprovalRecord {
  id: string;
  summary: string;
  decision: 'approved' | 'rejected' | 'timed-out';
  by?: string;
  reason?: string;
  at: number;
}

export interface RunbookProgress {
  kind: RunbookKind;
  cluster: string;
  /** The step running now, named after the manual procedure ("drainNode k8s-2"). */
  step: string;
  startedAt: number;
  paused: boolean;
  pendingApproval?: PendingApproval;
  approvals: ApprovalRecord[];
  nodes: NodeProgress[];
  /** The plan computed from live state, one line per step; shown before approval and kept in history. */
  plan?: string[];
  /** Lines a human should read: warnings, what was left behind, what to do next. */
  notes: string[];
}

/** Inputs every runbook workflow takes besides its own. */
export interface RunbookBaseInput {
  inventory: import('./inventory').Inventory;
  /** Compute and return the plan from live state, change nothing. */
  planOnly?: boolean;
  /** Skip the plan approval (`--yes`). Without it the runbook waits for `approve` after planning. */
  yes?: boolean;
  /** `user@host` of whoever started it. */
  requestedBy: string;
}

export interface ApprovalInput {
  /** Must match the pending approval's id when given; the validator rejects stale answers. */
  id?: string;
  /** `user@host` of the approver (the CLI fills it in). */
  by: string;
  reason?: string;
}

export const progressQuery = defineQuery<RunbookProgress>('progress');
export const approveUpdate = defineUpdate<ApprovalRecord, [ApprovalInput]>('approve');
export const rejectUpdate = defineUpdate<ApprovalRecord, [ApprovalInput]>('reject');
export const pauseUpdate = defineUpdate<boolean, [{ by: string; reason?: string }]>('pause');
export const resumeUpdate = defineUpdate<boolean, [{ by: string; reason?: string }]>('resume');
/** Operator decision after a failure with `--on-failure pause`. */
export type FailureDecision = 'retry' | 'rollback' | 'abort';
export const decideUpdate = defineUpdate<FailureDecision, [{ decision: FailureDecision; by: string; reason?: string }]>(
  'decide',
);
