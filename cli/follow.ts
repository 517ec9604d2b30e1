/**
 * Follow a runbook from the terminal until it ends: poll its `progress` query about once a second (the source of
 * truth while it runs), hand each snapshot and what changed to a view (cli/watch/views.ts), answer the plan
 * approval when the user confirms, and read the end state from describe().
 */
import * as readline from 'readline';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ExitCode } from '../common/constants';
import { approveUpdate, progressQuery, rejectUpdate, type RunbookProgress } from '../common/messages';
import { diffProgress, eventLines, finalStatusOf, type WatchEvent } from './watch/events';
import type { Ending } from './watch/summary';
import type { WatchView } from './watch/views';

export interface FollowOptions {
  view: WatchView;
  identity: string;
  /** Ask y/N for the plan (stdin and stdout are terminals). */
  interactive: boolean;
  /** Whether a completed result counts as success (default: yes). */
  resultOk?: (result: unknown) => boolean;
  pollMs?: number;
  /** A query with no worker to answer it waits; give up after this and say so. */
  queryTimeoutMs?: number;
}

export interface FollowOutcome {
  ending: Ending;
  /** The workflow's result when it completed. */
  result?: unknown;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function askYesNo(question: string): Promise<boolean> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
  // Ctrl-C at the prompt detaches like Ctrl-C anywhere else (readline would only pause).
  rl.on('SIGINT', () => process.emit('SIGINT'));
  try {
    const answer = await new Promise<string>((resolve) => rl.question(`${question} [y/N] `, resolve));
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

/** Prints what changed between two progress snapshots, one plain line per change. */
export class ProgressPrinter {
  private last?: RunbookProgress;

  constructor(
    private readonly say: (line: string) => void,
    private readonly workflowId = '',
  ) {}

  print(p: RunbookProgress): void {
    for (const e of diffProgress(this.last, p, this.workflowId)) for (const line of eventLines(e)) this.say(line);
    this.last = p;
  }
}

type Polled = { progress: RunbookProgress } | { silent: string };

async function queryProgress(handle: WorkflowHandle, timeoutMs: number): Promise<Polled> {
  try {
    return { progress: await handle.client.withDeadline(Date.now() + timeoutMs, () => handle.query(progressQuery)) };
  } catch (e) {
    return { silent: shortReason(e) };
  }
}

function shortReason(e: unknown): string {
  const msg = (e as Error).message ?? String(e);
  if (/deadline/i.test(msg)) return 'no answer within the query timeout';
  return msg.split('\n')[0].slice(0, 160);
}

async function answerPlan(handle: WorkflowHandle, p: RunbookProgress, o: FollowOptions, asked: Set<string>): Promise<void> {
  const pending = p.pendingApproval;
  if (!o.interactive || !pending || !pending.summary.startsWith('start:') || asked.has(pending.id)) return;
  asked.add(pending.id);
  o.view.release();
  const yes = await askYesNo(`${pending.summary.replace(/^start:\s*/, 'Start ')}?`);
  if (yes) {
    await handle.executeUpdate(approveUpdate, { args: [{ id: pending.id, by: o.identity }] });
    o.view.message(`approved by ${o.identity}`);
  } else {
    await handle.executeUpdate(rejectUpdate, { args: [{ id: pending.id, by: o.identity, reason: 'declined at the prompt' }] });
    o.view.message('rejected; nothing was changed');
  }
}

export async function followRunbook(handle: WorkflowHandle, o: FollowOptions): Promise<FollowOutcome> {
  const workflowId = handle.workflowId;
  const queryTimeoutMs = o.queryTimeoutMs ?? 5000;
  let finished: { ok: true; result: unknown } | { ok: false; error: unknown } | undefined;
  const done = handle.result().then(
    (result) => (finished = { ok: true, result }),
    (error) => (finished = { ok: false, error }),
  );
  const taskQueue = await handle.describe().then((d) => d.taskQueue, () => undefined);
  let last: RunbookProgress | undefined;
  let silent: string | undefined;
  const asked = new Set<string>();

  const poll = async (final: boolean) => {
    const polled = await queryProgress(handle, queryTimeoutMs);
    const events: WatchEvent[] = [];
    if ('progress' in polled) {
      if (silent !== undefined) events.push({ type: 'worker-answering' });
      silent = undefined;
      events.push(...diffProgress(last, polled.progress, workflowId));
      last = polled.progress;
    } else if (!final && !finished) {
      // A closed run no longer needs its worker: only a silence while running is worth saying.
      if (silent === undefined) events.push({ type: 'worker-silent', message: polled.silent });
      silent = polled.silent;
    }
    if (final) silent = undefined;
    o.view.update({ workflowId, progress: last, workerSilent: silent, taskQueue, now: Date.now() }, events);
  };

  while (!finished) {
    await poll(false);
    if (last && !finished) {
      await answerPlan(handle, last, o, asked).catch((e) => o.view.message(`could not answer the approval: ${(e as Error).message}`));
    }
    await Promise.race([done, sleep(o.pollMs ?? 1000)]);
  }
  await poll(true);

  const end = finished as { ok: true; result: unknown } | { ok: false; error: unknown };
  const desc = await handle.describe().catch(() => undefined);
  const status = desc ? finalStatusOf(desc.status.name) : end.ok ? 'completed' : 'failed';
  const ok = end.ok && status === 'completed' && (o.resultOk?.(end.result) ?? true);
  const ending: Ending = {
    workflowId,
    status,
    exitCode: ok ? ExitCode.OK : ExitCode.RUNBOOK_FAILED,
    progress: last,
    ...(end.ok ? {} : { message: failureMessage(end.error) }),
    ...(desc ? { workflowType: desc.type, startTime: desc.startTime, closeTime: desc.closeTime } : {}),
  };
  return { ending, ...(end.ok ? { result: end.result } : {}) };
}

/** The innermost cause is the useful line ("node k8s-2: host key mismatch ..."). */
export function failureMessage(e: unknown): string {
  if (e instanceof WorkflowFailedError) {
    let cause: Error | undefined = e.cause;
    while (cause && (cause as { cause?: Error }).cause) cause = (cause as { cause?: Error }).cause;
    return cause?.message ?? e.message;
  }
  return (e as Error).message;
}
