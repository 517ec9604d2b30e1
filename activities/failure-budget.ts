/**
 * Real failures end a step; lost workers and unreachable nodes do not.
 *
 * Runbook steps retry with no attempt cap (workflows/step-options.ts): a worker killed mid-activity is a heartbeat
 * timeout, and Temporal counts it as an attempt, so a cap let a crash loop fail a healthy runbook. Without a cap,
 * a failure left retryable that retrying cannot fix would loop until the step's deadline. This wrapper sorts what
 * an activity throws:
 * - non-retryable (a refusal, `NON_RETRYABLE_TYPES`) or a cancellation: thrown as it is;
 * - transient (`TRANSIENT_TYPES`: the node, the network or an API server did not answer): thrown retryable, and
 *   Temporal retries it until the step's deadline, since the node may come back;
 * - anything else (a command's non-zero exit, unexpected output, a failed leave, a bug): the activity runs again in
 *   place, `REAL_FAILURE_TRIES` times in all (1 s, 2 s, 4 s apart, heartbeating meanwhile), and then the failure is
 *   thrown non-retryable with its type and message unchanged: the step fails within seconds, as it did with
 *   Temporal's attempt cap. Activities are idempotent (they check state before acting), so running one again in
 *   place is what a Temporal retry would do.
 * The tries restart with each Temporal attempt: a worker crash in the middle costs a few more tries, never a loop.
 */
import { Context, log } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { NON_RETRYABLE_TYPES, TRANSIENT_TYPES } from '../common/constants';

/** A real failure is tried this many times within one attempt before it ends the step. */
export const REAL_FAILURE_TRIES = 4;
const BACKOFF_MS = [1_000, 2_000, 4_000];

export type FailureKind = 'final' | 'transient' | 'real';

export function classifyFailure(e: unknown): FailureKind {
  if (e instanceof CancelledFailure) return 'final';
  if (e instanceof ApplicationFailure) {
    if (e.nonRetryable) return 'final';
    const type = e.type ?? '';
    if ((NON_RETRYABLE_TYPES as readonly string[]).includes(type)) return 'final';
    if (TRANSIENT_TYPES.includes(type)) return 'transient';
  }
  return 'real';
}

function currentContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined; // called outside an activity (benchmarks, scripts)
  }
}

/** Wait between tries, heartbeating so the wait is not mistaken for a lost worker; a cancel ends it. */
async function backoff(ctx: Context | undefined, ms: number): Promise<void> {
  if (!ctx) return new Promise((resolve) => setTimeout(resolve, ms));
  for (let left = ms; left > 0; left -= 1_000) {
    ctx.heartbeat();
    await ctx.sleep(Math.min(1_000, left));
  }
}

/** The failure as the last try saw it, made final: same type, message and details. */
function final(e: unknown): ApplicationFailure {
  if (e instanceof ApplicationFailure) {
    return ApplicationFailure.create({
      message: e.message,
      type: e.type ?? undefined,
      nonRetryable: true,
      details: e.details ? [...e.details] : undefined,
      category: e.category ?? undefined,
      cause: e.cause,
    });
  }
  const err = e instanceof Error ? e : new Error(String(e));
  return ApplicationFailure.create({ message: err.message, type: err.name, nonRetryable: true, cause: err });
}

export interface FailureBudgetOptions {
  /** Tries in all (default REAL_FAILURE_TRIES). */
  tries?: number;
  /** Waits between tries (default 1 s, 2 s, 4 s; the last repeats). */
  backoffMs?: readonly number[];
}

/** Wrap every activity of a factory with the failure budget above. */
export function withFailureBudget<A extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: A, opts: FailureBudgetOptions = {}): A {
  const tries = opts.tries ?? REAL_FAILURE_TRIES;
  const waits = opts.backoffMs?.length ? opts.backoffMs : BACKOFF_MS;
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    wrapped[name] = async (...args: never[]) => {
      const ctx = currentContext();
      for (let tryNo = 1; ; tryNo++) {
        try {
          return await fn(...args);
        } catch (e) {
          if (classifyFailure(e) !== 'real' || ctx?.cancellationSignal.aborted) throw e;
          if (tryNo >= tries) throw final(e);
          const wait = waits[Math.min(tryNo - 1, waits.length - 1)];
          if (ctx) {
            log.warn(`${name} failed; trying again in place in ${wait} ms (try ${tryNo} of ${tries})`, {
              type: e instanceof ApplicationFailure ? e.type : e instanceof Error ? e.name : typeof e,
              message: e instanceof Error ? e.message.slice(0, 500) : String(e),
            });
          }
          await backoff(ctx, wait);
        }
      }
    };
  }
  return wrapped as A;
}
