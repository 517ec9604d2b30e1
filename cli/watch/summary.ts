/** The summary `runbook watch` ends with: outcome, duration, final node states, approvals, notes, failure. */
import type { RunbookProgress } from '../../common/messages';
import { clock, type FinalStatus } from './events';
import { printableDeep } from '../../common/text';
import { columns } from '../columns';

export interface Ending {
  workflowId: string;
  status: FinalStatus;
  exitCode: number;
  /** The failure's innermost message, for failed, cancelled, terminated and timed-out runs. */
  message?: string;
  /** The failure's innermost type (an ApplicationFailure's), when it has one. */
  failureType?: string;
  /** What the runbook attached to its failure (its partial result: a drill's verdict, an upgrade's compensations). */
  failureDetails?: unknown;
  /** The last progress seen (undefined when no worker ever answered). */
  progress?: RunbookProgress;
  /** From describe(): the workflow type and times, when progress is missing. */
  workflowType?: string;
  startTime?: Date;
  closeTime?: Date;
}

export function durationOf(e: Ending): number | undefined {
  const start = e.startTime?.getTime() ?? e.progress?.startedAt;
  const end = e.closeTime?.getTime();
  return start !== undefined && end !== undefined ? end - start : undefined;
}

export function approvalHistory(p: RunbookProgress): string[] {
  return p.approvals.map((a) => `  ${a.id} ${a.decision}${a.by ? ` by ${a.by}` : ''}: ${a.summary}${a.reason ? ` (${a.reason})` : ''}`);
}

export function summaryLines(e: Ending): string[] {
  const p = e.progress;
  const what = p ? `${p.kind} on cluster ${p.cluster}` : (e.workflowType ?? 'runbook');
  const ms = durationOf(e);
  const lines = [`${e.workflowId}: ${e.status}${ms !== undefined ? ` after ${clock(ms)}` : ''} (${what}); exit code ${e.exitCode}`];
  if (p) {
    lines.push(`  last step: ${p.step}`);
    if (p.nodes.length) lines.push(...columns(p.nodes.map((n) => [n.name, n.state, n.detail ?? ''])).map((l) => `  ${l}`));
    if (p.approvals.length) lines.push('  approvals:', ...approvalHistory(p).map((l) => `  ${l}`));
    if (p.notes.length) lines.push('  notes:', ...p.notes.map((n) => `    ${n}`));
  }
  if (e.message) lines.push(`  ${e.status === 'failed' ? 'failure' : 'reason'}: ${e.message}`);
  return lines;
}

/** A run that did not complete, for `--json` readers: how it ended, why, and what the runbook attached to its failure. */
export function failedJson(e: Ending): Record<string, unknown> {
  return printableDeep({
    workflowId: e.workflowId,
    status: e.status,
    exitCode: e.exitCode,
    ...(e.message !== undefined ? { message: e.message } : {}),
    ...(e.failureType !== undefined ? { failureType: e.failureType } : {}),
    ...(e.failureDetails !== undefined ? { details: e.failureDetails } : {}),
  }) as Record<string, unknown>;
}
