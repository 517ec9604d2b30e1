/**
 * Follow a runbook from the terminal until it ends: poll its `progress` query about once a second (the source of
 * truth while it runs), hand each snapshot and what changed to a view (cli/watch/views.ts), answer the plan
 * approval when the user confirms, and read the end state from describe().
 */
import * as readline from 'readline';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { BAD_REQUEST_TYPE, ExitCode } from '../common/constants';
import { printable, printableDeep } from '../common/text';
import { approveUpdate, progressQuery, rejectUpdate, type RunbookProgress } from '../common/messages';
import { diffProgress, eventLines, finalStatusOf, type WatchEvent } from './watch/events';
import type { Ending } from './watch/summary';
import type { WatchView } from './watch/views';
import { CliExit } from '../local/exit';
import { isConnectionLoss, Outage, withReconnect } from './reconnect';
import { innermostMessage, innermostType } from '../common/failures';

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

type Polled = { progress: RunbookProgress } | { silent: string; lost?: unknown };

async function queryProgress(handle: WorkflowHandle, timeoutMs: number): Promise<Polled> {
  try {
    // Stored text (notes, reasons, node output) is another operator's input: escape control characters once, here.
    return { progress: printableDeep(await handle.client.withDeadline(Date.now() + timeoutMs, () => handle.query(progressQuery))) };
  } catch (e) {
    // A query that gets no answer is a silent worker, unless the server itself does not answer: ask it directly
    // (gRPC retries a refused connection until the query's deadline, so the query's error cannot tell).
    const serverDown = await handle.client
      .withDeadline(Date.now() + 2000, () => handle.client.workflowService.getSystemInfo({}))
      .then(
        () => undefined,
        (probe: unknown) => probe,
      );
    return serverDown !== undefined ? { silent: shortReason(e), lost: serverDown } : { silent: shortReason(e) };
  }
}

function shortReason(e: unknown): string {
  const msg = (e as Error).message ?? String(e);
  if (/deadline/i.test(msg)) return 'no answer within the query timeout';
  return printable(msg.split('\n')[0].slice(0, 160));
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

/**
 * Why the runbook cannot make progress although it runs: its workflow task keeps failing on the worker (a codec key
 * the worker lacks, a workflow bundle that does not match). Undefined while it is healthy or only retried once.
 */
export async function workflowTaskTrouble(handle: WorkflowHandle, minAttempts = 3): Promise<string | undefined> {
  const desc = await handle.describe();
  const attempt = desc.raw.pendingWorkflowTask?.attempt ?? 0;
  if (attempt < minAttempts) return undefined;
  // The server records the first failure of a series; later attempts are transient and not in history.
  const page = await handle.client.workflowService.getWorkflowExecutionHistoryReverse({
    namespace: handle.client.options.namespace,
    execution: { workflowId: handle.workflowId, runId: desc.runId },
    maximumPageSize: 100,
  });
  const failed = page.history?.events?.find((e) => e.workflowTaskFailedEventAttributes)?.workflowTaskFailedEventAttributes;
  const reason = failed?.failure?.message ? printable(failed.failure.message.split('\n')[0]).slice(0, 300) : 'no reason recorded';
  return `its workflow task has failed ${attempt} times on the worker: ${reason}`;
}

const TROUBLE_CHECK_MS = 5000;

export async function followRunbook(handle: WorkflowHandle, o: FollowOptions): Promise<FollowOutcome> {
  const workflowId = handle.workflowId;
  const queryTimeoutMs = o.queryTimeoutMs ?? 5000;
  const outage = new Outage((line) => o.view.message(line));
  let finished: { ok: true; result: unknown } | { ok: false; error: unknown } | undefined;
  // result() long-polls the server: a restart or a dropped connection rejects it without the runbook ending.
  let lost: unknown;
  let done!: Promise<unknown>;
  const awaitResult = () => {
    done = handle.result().then(
      (result) => (finished = { ok: true, result }),
      (error) => (isConnectionLoss(error) ? (lost = error) : (finished = { ok: false, error })),
    );
  };
  awaitResult();
  const taskQueue = await withReconnect(() => handle.describe(), (l) => o.view.message(l)).then(
    (d) => d.taskQueue,
    (e) => {
      if (e instanceof CliExit) throw e;
      return undefined;
    },
  );
  let last: RunbookProgress | undefined;
  let silent: string | undefined;
  let troubleCheckedAt = 0;
  const asked = new Set<string>();

  const poll = async (final: boolean) => {
    const polled = await queryProgress(handle, queryTimeoutMs);
    const events: WatchEvent[] = [];
    if ('progress' in polled) {
      outage.back();
      if (silent !== undefined) events.push({ type: 'worker-answering' });
      silent = undefined;
      events.push(...diffProgress(last, polled.progress, workflowId));
      last = polled.progress;
    } else if (polled.lost) {
      outage.lost(polled.lost);
    } else if (!final && !finished) {
      // A closed run no longer needs its worker: only a silence while running is worth saying.
      if (silent === undefined) events.push({ type: 'worker-silent', message: polled.silent });
      silent = polled.silent;
    }
    if (final) silent = undefined;
    o.view.update({ workflowId, progress: last, workerSilent: silent, taskQueue, now: Date.now() }, events);
  };

  while (!finished) {
    if (lost !== undefined) {
      outage.lost(lost);
      lost = undefined;
      awaitResult();
    }
    await poll(false);
    if (silent !== undefined && !outage.active && Date.now() - troubleCheckedAt > TROUBLE_CHECK_MS) {
      troubleCheckedAt = Date.now();
      const trouble = await workflowTaskTrouble(handle).catch(() => undefined);
      if (trouble) {
        o.view.release();
        throw new CliExit(
          ExitCode.RUNBOOK_FAILED,
          `${workflowId} cannot make progress: ${trouble}.\n` +
            '  It still holds the cluster. Fix the worker (e.g. give it the codec key the CLI uses: RUNBOOK_CODEC_KEY_FILE) and it resumes by itself,\n' +
            `  or end it: temporal workflow terminate -w ${workflowId} --reason "worker cannot run it"`,
        );
      }
    }
    if (last && !finished) {
      await answerPlan(handle, last, o, asked).catch((e) => o.view.message(`could not answer the approval: ${printable((e as Error).message)}`));
    }
    await Promise.race([done, sleep(o.pollMs ?? 1000)]);
  }
  await poll(true);

  const end = finished as { ok: true; result: unknown } | { ok: false; error: unknown };
  const desc = await withReconnect(() => handle.describe(), (l) => o.view.message(l)).catch((e) => {
    if (e instanceof CliExit) throw e;
    return undefined;
  });
  const status = desc ? finalStatusOf(desc.status.name) : end.ok ? 'completed' : 'failed';
  const ok = end.ok && status === 'completed' && (o.resultOk?.(end.result) ?? true);
  const ending: Ending = {
    workflowId,
    status,
    // A request the runbook refused after reading live state (nothing changed) is bad input, like a bad flag.
    exitCode: ok ? ExitCode.OK : failureType(end.ok ? undefined : end.error) === BAD_REQUEST_TYPE ? ExitCode.BAD_INPUT : ExitCode.RUNBOOK_FAILED,
    progress: last,
    ...(end.ok ? {} : { message: failureMessage(end.error), failureType: failureType(end.error), failureDetails: failureDetails(end.error) }),
    ...(desc ? { workflowType: desc.type, startTime: desc.startTime, closeTime: desc.closeTime } : {}),
  };
  return { ending, ...(end.ok ? { result: end.result } : {}) };
}

/** The innermost failure's type (an ApplicationFailure's `type`), if any. */
export function failureType(e: unknown): string | undefined {
  return e instanceof WorkflowFailedError ? innermostType(e.cause) : undefined;
}

/** The runbook's own failure's first detail (workflows attach their partial result there), if any. */
export function failureDetails(e: unknown): unknown {
  const details = e instanceof WorkflowFailedError ? (e.cause as { details?: unknown[] } | undefined)?.details : undefined;
  return Array.isArray(details) ? details[0] : undefined;
}

/** The innermost cause is the useful line ("node k8s-2: host key mismatch ..."). */
export function failureMessage(e: unknown): string {
  if (e instanceof WorkflowFailedError) return printable(e.cause ? innermostMessage(e.cause) : e.message);
  return printable((e as Error).message);
}
