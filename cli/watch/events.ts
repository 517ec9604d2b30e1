/**
 * What changed between two `progress` snapshots, as events: the one model behind the plain lines, the JSON lines
 * and the end summary of `runbook watch` (and of starting a runbook).
 */
import { answerCommands as allAnswerCommands } from '../../common/answer-commands';
import type { ApprovalRecord, NodeState, RunbookKind, RunbookProgress } from '../../common/messages';

/** How a runbook ended, in the words `runbook list --status` takes. */
export type FinalStatus = 'completed' | 'failed' | 'cancelled' | 'terminated' | 'timed-out' | 'continued-as-new';

export type WatchEvent =
  | { type: 'runbook'; kind: RunbookKind; cluster: string; startedAt: string }
  | { type: 'step'; step: string }
  | { type: 'node'; node: string; state: NodeState; detail?: string; since: string }
  | { type: 'plan'; lines: string[] }
  | { type: 'approval-pending'; id: string; summary: string; approve: string; reject: string; deadline?: string }
  | { type: 'approval-answered'; id: string; summary: string; decision: ApprovalRecord['decision']; by?: string; reason?: string }
  | { type: 'note'; text: string }
  | { type: 'paused'; resume: string }
  | { type: 'resumed' }
  | { type: 'worker-silent'; message: string }
  | { type: 'worker-answering' }
  | { type: 'final'; status: FinalStatus; exitCode: number; durationMs?: number; message?: string; result?: unknown };

const iso = (ms: number) => new Date(ms).toISOString();

/** The exact commands that answer a pending approval (worded once for watch, the UI and webhooks). */
export function answerCommands(workflowId: string): { approve: string; reject: string } {
  const { approve, reject } = allAnswerCommands(workflowId);
  return { approve, reject };
}

/** Events that turn `prev` into `next`; with no `prev`, everything `next` shows (the runbook header included). */
export function diffProgress(prev: RunbookProgress | undefined, next: RunbookProgress, workflowId: string): WatchEvent[] {
  const events: WatchEvent[] = [];
  if (!prev) events.push({ type: 'runbook', kind: next.kind, cluster: next.cluster, startedAt: iso(next.startedAt) });
  if (next.step !== prev?.step) events.push({ type: 'step', step: next.step });
  for (const n of next.nodes) {
    const before = prev?.nodes.find((p) => p.name === n.name);
    if (before && before.state === n.state && before.detail === n.detail) continue;
    events.push({ type: 'node', node: n.name, state: n.state, ...(n.detail ? { detail: n.detail } : {}), since: iso(n.since) });
  }
  if (next.plan?.length && !prev?.plan?.length) events.push({ type: 'plan', lines: next.plan });
  for (const a of next.approvals.slice(prev?.approvals.length ?? 0)) {
    events.push({
      type: 'approval-answered',
      id: a.id,
      summary: a.summary,
      decision: a.decision,
      ...(a.by ? { by: a.by } : {}),
      ...(a.reason ? { reason: a.reason } : {}),
    });
  }
  const pending = next.pendingApproval;
  if (pending && pending.id !== prev?.pendingApproval?.id) {
    events.push({
      type: 'approval-pending',
      id: pending.id,
      summary: pending.summary,
      ...answerCommands(workflowId),
      ...(pending.deadline ? { deadline: iso(pending.deadline) } : {}),
    });
  }
  for (const text of next.notes.slice(prev?.notes.length ?? 0)) events.push({ type: 'note', text });
  const paused: WatchEvent = { type: 'paused', resume: allAnswerCommands(workflowId).resume };
  if (prev && next.paused !== prev.paused) events.push(next.paused ? paused : { type: 'resumed' });
  else if (!prev && next.paused) events.push(paused);
  return events;
}

/** Temporal's execution status name (`TIMED_OUT`) in the CLI's words (`timed-out`). */
export function finalStatusOf(statusName: string): FinalStatus {
  const s = statusName.toLowerCase().replace(/_/g, '-');
  if (s === 'canceled') return 'cancelled';
  return (['completed', 'failed', 'cancelled', 'terminated', 'timed-out', 'continued-as-new'] as string[]).includes(s)
    ? (s as FinalStatus)
    : 'failed';
}

/** `hh:mm:ss` past an hour, `mm:ss` below it. */
export function clock(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const two = (n: number) => String(n).padStart(2, '0');
  return h ? `${two(h)}:${two(m)}:${two(s)}` : `${two(m)}:${two(s)}`;
}

/** Plain lines for an event, for logs and pipes (none: nothing worth a line). */
export function eventLines(e: WatchEvent): string[] {
  switch (e.type) {
    case 'runbook':
      return [];
    case 'step':
      return [`step: ${e.step}`];
    case 'node':
      return [`  ${e.node}: ${e.state}${e.detail ? ` (${e.detail})` : ''}`];
    case 'plan':
      return ['plan:', ...e.lines.map((l) => `  ${l}`)];
    case 'approval-pending':
      return [`waiting for approval: ${e.summary}`, `  approve: ${e.approve}    reject: ${e.reject}`];
    case 'approval-answered':
      return [`  ${e.decision}: ${e.summary}${e.by ? ` by ${e.by}` : ''}${e.reason ? ` (${e.reason})` : ''}`];
    case 'note':
      return [`  note: ${e.text}`];
    case 'paused':
      return [`paused (resume: ${e.resume})`];
    case 'resumed':
      return ['resumed'];
    case 'worker-silent':
      return [`no worker answers the progress query (${e.message}); still polling`];
    case 'worker-answering':
      return ['a worker answers again'];
    case 'final':
      return [];
  }
}
