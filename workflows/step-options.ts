/**
 * Activity options shared by every runbook: how a step is retried and when it gives up.
 *
 * A worker killed in the middle of an activity shows up as a heartbeat (or start-to-close) timeout, and Temporal
 * counts it as an attempt. So no step has an attempt cap: worker loss is retried however often it happens, and a
 * step ends at its `scheduleToCloseTimeout` at the latest (a deadline per step kind, set where the proxies are made).
 * Real failures still end a step at once, because they are non-retryable: by type (`nonRetryableErrorTypes`, the
 * activities' own refusals), or because the activity tried again in place and gave up
 * (activities/failure-budget.ts). What Temporal keeps retrying until the deadline is worker loss and
 * `TRANSIENT_TYPES` (an unreachable node, an API server that does not answer yet).
 */
import type { Duration } from '@temporalio/common';
import { ApplicationFailure, TimeoutFailure, type ActivityOptions } from '@temporalio/workflow';
import { NODE_UNREACHABLE_TYPES, NON_RETRYABLE_TYPES } from '../common/constants';

export interface StepProfile {
  /** One attempt: the step's own work (a drain, a snap refresh, a wait) and the commands around it. */
  startToClose: Duration;
  /** The whole step, every retry included. When it runs out, the step fails whatever the attempt count. */
  scheduleToClose: Duration;
  heartbeat?: Duration;
  /** Failure types that end the step at once, on top of `NON_RETRYABLE_TYPES`. */
  nonRetryable?: readonly string[];
  initialInterval?: Duration;
  /** Retries after a lost worker or an unreachable node are at most this far apart. Default 10 s. */
  maximumInterval?: Duration;
}

export function stepOptions(p: StepProfile): ActivityOptions {
  return {
    startToCloseTimeout: p.startToClose,
    scheduleToCloseTimeout: p.scheduleToClose,
    ...(p.heartbeat !== undefined ? { heartbeatTimeout: p.heartbeat } : {}),
    retry: {
      // No maximumAttempts: unlimited (the SDK refuses 0; unset means no cap).
      initialInterval: p.initialInterval ?? '1s',
      maximumInterval: p.maximumInterval ?? '10s',
      nonRetryableErrorTypes: [...new Set([...NON_RETRYABLE_TYPES, ...(p.nonRetryable ?? [])])],
    },
  };
}

/** A runbook's `heartbeatTimeoutSeconds` input (default 60 s, bounded 5 s to 10 min) as a heartbeat timeout in ms. */
export function heartbeatMs(heartbeatTimeoutSeconds: number | undefined): number {
  return Math.min(Math.max(heartbeatTimeoutSeconds ?? 60, 5), 600) * 1000;
}

/**
 * True when a step failed because its node did not answer: the last attempt's failure, anywhere under the
 * activity's (or a child workflow's) failure, is one of `NODE_UNREACHABLE_TYPES`.
 */
export function failedUnreachable(err: unknown): boolean {
  return causes(err).some((e) => e instanceof ApplicationFailure && !!e.type && NODE_UNREACHABLE_TYPES.includes(e.type));
}

/**
 * True when a step ran out of its deadline (`scheduleToCloseTimeout`), its retries included. When the deadline
 * falls in the middle of an attempt, the server reports the timeout alone, without the attempt's own failure: whether
 * the node answers must then be asked.
 */
export function failedAtDeadline(err: unknown): boolean {
  return causes(err).some((e) => e instanceof TimeoutFailure && e.timeoutType === 'SCHEDULE_TO_CLOSE');
}

/** The step may have lost its node: ask whether it answers before acting on it again. */
export function mayBeUnreachable(err: unknown): boolean {
  return failedUnreachable(err) || failedAtDeadline(err);
}

function causes(err: unknown): Error[] {
  const out: Error[] = [];
  for (let e: unknown = err; e instanceof Error && out.length < 10; e = (e as Error & { cause?: unknown }).cause) out.push(e);
  return out;
}
