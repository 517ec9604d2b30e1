/**
 * Runbooks on a schedule (Temporal Schedules): which runbooks may run unattended, and what one scheduled run
 * reports. A scheduled run goes through a small launcher workflow that starts the runbook under the cluster's lock
 * ID (a drill: the cluster's drill ID): when another runbook holds it, the scheduled one is skipped and says so.
 * Workflow-safe.
 */
import type { BackupInput, BackupResult } from './backup';
import type { CheckInput, CheckResult } from './check';
import { clusterWorkflowId } from './constants';
import { drillWorkflowId, type DrillInput, type DrillResult } from './drill';

/**
 * Runbooks that change nothing a person must watch: a backup (running MicroK8s, or `--stopped`), a check, and a
 * restore drill (in a lab: the cluster is not touched). Kind → workflow type.
 */
export const SCHEDULABLE = { backup: 'backup', check: 'check', drill: 'restoreDrill' } as const;
export type ScheduledKind = keyof typeof SCHEDULABLE;

/** The ID a scheduled run starts its runbook under: the cluster's lock, or for a drill the cluster's drill ID. */
export function lockIdFor(kind: ScheduledKind, cluster: string): string {
  return kind === 'drill' ? drillWorkflowId(cluster) : clusterWorkflowId(cluster);
}

export interface ScheduledRunInput {
  scheduleId: string;
  kind: ScheduledKind;
  /** The runbook's whole input (`yes`: a scheduled run does not wait for a plan approval). */
  input: BackupInput | CheckInput | DrillInput;
}

export interface ScheduledRunResult {
  scheduleId: string;
  kind: ScheduledKind;
  /** `skipped`: another runbook held the cluster at the scheduled time (overlaps are skipped, never queued). */
  outcome: 'ran' | 'skipped';
  /** The runbook's workflow ID (the cluster's lock ID) and run. */
  workflowId: string;
  runId?: string;
  reason?: string;
  /** One line about the result: the backup's id, or the check's verdict. */
  summary?: string;
  result?: BackupResult | CheckResult | DrillResult;
}

/** The schedule's ID: one schedule per cluster and runbook unless `--id` names another. */
export function scheduleIdFor(cluster: string, kind: ScheduledKind): string {
  return `runbook-${cluster}.${kind}`;
}

/** The launcher's workflow ID (Temporal appends the scheduled time); the "." keeps it apart from any cluster's lock ID. */
export function scheduledRunWorkflowId(scheduleId: string): string {
  return `${scheduleId}.scheduled`;
}
