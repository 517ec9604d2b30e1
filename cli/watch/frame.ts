/**
 * The live screen of `runbook watch` on a terminal, as lines: runbook, cluster, elapsed time, current step, a node
 * table with time in state, the pending approval with the commands that answer it, and the latest notes.
 * Pure: the view decides how to draw it.
 */
import type { NodeProgress, RunbookProgress } from '../../common/messages';
import { answerCommands, clock } from './events';
import { columns } from '../columns';

export interface FrameInput {
  workflowId: string;
  /** The last answer of the `progress` query; undefined until a worker answers. */
  progress?: RunbookProgress;
  /** Why the last query got no answer (no worker polling, ...). */
  workerSilent?: string;
  taskQueue?: string;
  now: number;
}


/** `k8s-2  refreshing  1.28→1.29  00:41`, under a header. */
export function nodeTable(nodes: NodeProgress[], now: number): string[] {
  if (!nodes.length) return [];
  return columns([['NODE', 'STATE', 'DETAIL', 'IN STATE'], ...nodes.map((n) => [n.name, n.state, n.detail ?? '', clock(now - n.since)])]);
}

/** The pending approval and the exact commands that answer it. */
export function approvalLines(p: RunbookProgress, workflowId: string, now: number): string[] {
  const a = p.pendingApproval;
  if (!a) return [];
  const { approve, reject } = answerCommands(workflowId);
  const waited = clock(now - a.requestedAt);
  const deadline = a.deadline ? `, pauses in ${clock(a.deadline - now)}` : '';
  return [`waiting for approval (${a.id}, ${waited}${deadline}): ${a.summary}`, `  approve: ${approve}`, `  reject:  ${reject}`];
}

const MAX_NOTES = 5;

export function renderFrame(f: FrameInput): string[] {
  const p = f.progress;
  const lines: string[] = [];
  if (!p) {
    lines.push(`${f.workflowId}: waiting for the first answer of the progress query`);
  } else {
    lines.push(`${p.kind} on cluster ${p.cluster} · ${f.workflowId} · ${clock(f.now - p.startedAt)}${p.paused ? ' · PAUSED' : ''}`);
    lines.push(`step: ${p.step}`);
    const table = nodeTable(p.nodes, f.now);
    if (table.length) lines.push('', ...table);
    if (p.pendingApproval) {
      // The plan is what the first approval is about: show it with the question.
      if (p.plan?.length && p.pendingApproval.summary.startsWith('start:')) lines.push('', 'plan:', ...p.plan.map((l) => `  ${l}`));
      lines.push('', ...approvalLines(p, f.workflowId, f.now));
    }
    if (p.paused) lines.push('', `paused: runbook resume ${f.workflowId}`);
    if (p.notes.length) {
      const shown = p.notes.slice(-MAX_NOTES);
      lines.push('', `notes${p.notes.length > shown.length ? ` (last ${shown.length} of ${p.notes.length})` : ''}:`, ...shown.map((n) => `  ${n}`));
    }
  }
  if (f.workerSilent) {
    const queue = f.taskQueue ? ` on task queue ${f.taskQueue}` : '';
    lines.push('', `no worker answers the progress query (${f.workerSilent}); still polling. Is \`runbook worker\` running${queue}?`);
  }
  return lines;
}

/** Fit a frame to the terminal: no line wraps (the redraw counts lines) and it never scrolls. */
export function fitFrame(lines: string[], width: number, height: number): string[] {
  const cut = (l: string) => (l.length > width - 1 ? `${l.slice(0, Math.max(0, width - 2))}…` : l);
  const fitted = lines.map(cut);
  if (fitted.length < height) return fitted;
  return [...fitted.slice(0, Math.max(1, height - 2)), cut(`… ${fitted.length - height + 2} more lines (a taller terminal shows them)`)];
}
