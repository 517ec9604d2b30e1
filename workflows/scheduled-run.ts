/**
 * `scheduledRun`: what a `runbook schedule` starts at each scheduled time. It starts the runbook as a child under the
 * cluster's lock ID (`runbook-<cluster>`), so the one-runbook-per-cluster rule holds for schedules too: when another
 * runbook holds the cluster (an upgrade, a recovery), this run is skipped and says why, and the next time tries again.
 * A restore drill touches no node of the cluster: it runs under the cluster's drill ID, one drill at a time.
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { executeChild, workflowInfo } from '@temporalio/workflow';
import type { BackupResult } from '../common/backup';
import type { CheckResult } from '../common/check';
import type { DrillResult } from '../common/drill';
import { lockIdFor, SCHEDULABLE, type ScheduledRunInput, type ScheduledRunResult } from '../common/schedules';

export async function scheduledRun(input: ScheduledRunInput): Promise<ScheduledRunResult> {
  const cluster = input.input.inventory.cluster;
  const workflowId = lockIdFor(input.kind, cluster);
  const base = { scheduleId: input.scheduleId, kind: input.kind, workflowId };
  try {
    const result = await executeChild(SCHEDULABLE[input.kind], {
      workflowId,
      args: [{ ...input.input, yes: true, planOnly: false }],
      staticSummary: `${input.kind} on ${cluster}, scheduled (${input.scheduleId})`,
      staticDetails: `Started by the schedule \`${input.scheduleId}\` at ${new Date(workflowInfo().startTime).toISOString()}.`,
      // The runbook finishes on its own if this launcher is terminated: a backup is never cut off halfway.
      parentClosePolicy: 'ABANDON',
    });
    const r = result as BackupResult | CheckResult | DrillResult;
    return { ...base, outcome: 'ran', summary: summarize(input.kind, r), result: r };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      const holder = input.kind === 'drill' ? `another drill of cluster ${cluster} is running (${workflowId})` : `another runbook holds cluster ${cluster} (${workflowId} is running)`;
      return { ...base, outcome: 'skipped', reason: `${holder}; skipped, the next scheduled time tries again` };
    }
    throw err;
  }
}

function summarize(kind: ScheduledRunInput['kind'], r: BackupResult | CheckResult | DrillResult): string {
  if (kind === 'drill') {
    const d = r as DrillResult;
    return `drill of ${d.backup.id}: ${d.outcome === 'ok' ? `restores, ${d.verdict?.restored.length ?? 0} Node objects back, dqlite leader ${d.verdict?.leader?.node ?? '?'}` : d.outcome}`;
  }
  if (kind === 'backup') {
    const b = (r as BackupResult).backup;
    return b ? `backup ${b.id} of ${b.node}` : 'no backup made';
  }
  const c = r as CheckResult;
  return c.healthy ? 'healthy' : `${c.problems.length} problem(s): ${c.problems[0] ?? ''}`;
}
