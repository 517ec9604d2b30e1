/** `runbook status ID`: one screen about one runbook, running or ended. Pure, from describe() and the query. */
import type { RunbookProgress } from '../../common/messages';
import { clock } from './events';
import { approvalLines, nodeTable } from './frame';
import { approvalHistory } from './summary';

export interface StatusFacts {
  workflowId: string;
  /** `running`, `completed`, `failed`, ... */
  status: string;
  workflowType: string;
  kind?: string;
  cluster?: string;
  startedBy?: string;
  startTime: Date;
  closeTime?: Date;
  taskQueue?: string;
  uiLink: string;
  progress?: RunbookProgress;
  /** Why progress is missing (no worker answered the query). */
  progressError?: string;
  now: number;
}

const ago = (ms: number) => (ms < 90_000 ? `${Math.round(ms / 1000)} s ago` : ms < 5_400_000 ? `${Math.round(ms / 60_000)} min ago` : `${(ms / 3_600_000).toFixed(1)} h ago`);

export function statusScreen(f: StatusFacts): string[] {
  const p = f.progress;
  const kind = p?.kind ?? f.kind ?? f.workflowType;
  const cluster = p?.cluster ?? f.cluster ?? '?';
  const lines = [`${f.workflowId}: ${f.status}${p?.paused ? ' (paused)' : ''} · ${kind} on cluster ${cluster}`];
  lines.push(`  started:  ${f.startTime.toISOString()} (${ago(f.now - f.startTime.getTime())})${f.startedBy ? ` by ${f.startedBy}` : ''}`);
  if (f.closeTime) lines.push(`  ended:    ${f.closeTime.toISOString()}, after ${clock(f.closeTime.getTime() - f.startTime.getTime())}`);
  if (p) {
    lines.push(`  step:     ${p.step}`);
    const table = nodeTable(p.nodes, f.closeTime?.getTime() ?? f.now);
    if (table.length) lines.push('', ...table.map((l) => `  ${l}`));
    const pending = approvalLines(p, f.workflowId, f.now);
    if (pending.length) lines.push('', ...pending.map((l) => `  ${l}`));
    if (p.approvals.length) lines.push('', '  approvals:', ...approvalHistory(p).map((l) => `  ${l}`));
    if (p.notes.length) lines.push('', '  notes:', ...p.notes.slice(-8).map((n) => `    ${n}`));
  } else if (f.progressError) {
    lines.push(`  progress: no worker answered the progress query (${f.progressError})${f.taskQueue ? `; is a worker polling ${f.taskQueue}?` : ''}`);
  }
  lines.push('', `  UI:       ${f.uiLink}`, `  history:  runbook history ${f.workflowId}`);
  return lines;
}
