/**
 * The audit model `runbook history` builds from a workflow's event history: who started a runbook and with what,
 * the plan and its approval, every remote command, failure, compensation and file change. `--json` prints it as is.
 */
import type { CommandRecord, FileChange } from '../../common/audit';

export type AuditStatus = 'running' | 'completed' | 'failed' | 'cancelled' | 'terminated' | 'timed-out' | 'continued-as-new';

/** Where a record came from: the runbook's own history or a per-node child workflow's. */
export interface AuditOrigin {
  /** The workflow whose history holds the record. */
  workflowId: string;
  /** Set for records from a per-node child workflow: the node it works on. */
  childNode?: string;
}

export interface AuditCommand extends CommandRecord, AuditOrigin {
  /** The activity that ran it, e.g. `joinNode`. */
  activity: string;
  /** The activity's UI summary ("drain k8s-1"). */
  activitySummary?: string;
  /** False when the command came from a failed activity's failure details. */
  activityCompleted: boolean;
}

/** An operator's say in the run: an update (approve, reject, pause, resume, decide), a cancel or terminate request. */
export interface AuditOperatorAction extends AuditOrigin {
  at: string;
  /** The update's name, or `cancel` / `terminate`. */
  action: string;
  /** The approval id asked for (`approval-1`), when given. */
  id?: string;
  by?: string;
  reason?: string;
  /** Temporal client identity that sent the update. */
  identity?: string;
  /** From the update's result: approved / rejected, or the decision (retry, rollback, abort). */
  decision?: string;
  /** What was approved ("start: upgrade prod to 1.29/stable"). */
  summary?: string;
  /** `failed` when the workflow refused it after accepting it; validator rejections leave no history. */
  outcome: 'completed' | 'accepted' | 'failed';
  failure?: string;
}

export type FailureSource = 'activity' | 'child-workflow' | 'workflow' | 'update';

export interface AuditFailure extends AuditOrigin {
  at: string;
  source: FailureSource;
  /** Activity type, child workflow ID, or workflow type. */
  name: string;
  /** The activity's or child's UI summary. */
  summary?: string;
  message: string;
  type?: string;
  /** For activities: the attempt that failed last (earlier attempts leave no event). */
  attempt?: number;
  retryState?: string;
}

export interface AuditCompensation extends AuditOrigin {
  line: string;
}

export interface AuditFileChange extends FileChange, AuditOrigin {
  activity: string;
  at: string;
}

export interface AuditChild {
  workflowId: string;
  runId?: string;
  workflowType: string;
  node?: string;
  summary?: string;
  startedAt?: string;
  endedAt?: string;
  status: AuditStatus | 'initiated' | 'start-failed';
  failure?: string;
  /** False when the child's own history was not read (`--file`, or fetching it failed). */
  included: boolean;
}

export interface RunbookAudit {
  workflowId: string;
  runId?: string;
  workflowType: string;
  taskQueue?: string;
  /** The UI summary given at start (staticSummary). */
  summary?: string;
  startedAt: string;
  /** Temporal client identity of the starter (user@host for the runbook CLI). */
  startedBy?: string;
  /** `requestedBy` from the input: who asked for the runbook. */
  requestedBy?: string;
  /** The workflow input, with fields named like secrets replaced by `<redacted>`. */
  input: unknown[];
  status: AuditStatus;
  endedAt?: string;
  failure?: { message: string; type?: string };
  /** The plan as recorded in history, and how it was decided (approved, rejected, or not asked with --yes). */
  plan?: {
    lines: string[];
    /** Where it was read: memo, workflow result, or the planning activity's result. */
    source: string;
    decision?: { decision: string; by?: string; at?: string; reason?: string };
  };
  operatorActions: AuditOperatorAction[];
  commands: AuditCommand[];
  failures: AuditFailure[];
  compensations: AuditCompensation[];
  fileChanges: AuditFileChange[];
  children: AuditChild[];
  /** Things the audit could not read (undecodable payloads, child histories not fetched). */
  warnings: string[];
}
