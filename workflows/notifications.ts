/**
 * Webhook notifications, the workflow side (README "Notifications"). Every runbook a client starts is wrapped once
 * by `notifying` (workflows/runbooks.ts): with webhooks in its inventory it tells them when it waits for an approval
 * or a decision, is paused, fails or ends, each with the command that answers. The waits are told by the runbook's
 * RunbookController, which finds this workflow's notifier with `runbookNotifier()`.
 *
 * A notice never holds up or fails a runbook: a wait's notice is started and the runbook goes on to wait; the last
 * one (failure or end) is awaited, bounded by the activity's 2 minutes, so it is sent before the run closes; a
 * delivery that fails in the end is a note on the run, nothing more. With no webhook in the inventory nothing is
 * scheduled at all, so histories recorded before notifications existed replay unchanged.
 */
import { RetryState } from '@temporalio/common';
import { ActivityFailure, CancellationScope, isCancellation, log, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { innermostMessage } from '../common/failures';
import type { RunbookBaseInput, RunbookKind, RunbookProgress } from '../common/messages';
import {
  approvalNotice,
  decisionNotice,
  describeTarget,
  endNotice,
  failureNotice,
  type Notice,
  type NoticeSubject,
  type NotificationTarget,
  pausedNotice,
} from '../common/notifications';

const DELIVERY_ATTEMPTS = 4;

// One POST is bounded at 10 s on the worker (activities/notifications.ts). A few attempts (1 s, 2 s, 4 s apart) and
// 2 minutes in all: a webhook that is down costs the runbook's end that much at most.
const webhooks = proxyActivities<Activities>({
  startToCloseTimeout: '15 seconds',
  scheduleToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: DELIVERY_ATTEMPTS },
});

/** What the notifier needs from the runbook's controller: where to note an undelivered notice, and the step it is at. */
export interface NotifiedRunbook {
  note(line: string): void;
  readonly snapshot: RunbookProgress;
}

export class RunbookNotifier {
  private runbook?: NotifiedRunbook;

  constructor(
    private readonly subject: NoticeSubject,
    private readonly targets: NotificationTarget[],
  ) {}

  attach(runbook: NotifiedRunbook): void {
    this.runbook = runbook;
  }

  /** Started, not awaited: the runbook goes on to wait for the answer while the webhook is called. */
  approvalWaiting(summary: string): void {
    void this.send(approvalNotice(this.subject, new Date(), summary));
  }

  awaitingDecision(failure: string): void {
    void this.send(decisionNotice(this.subject, new Date(), failure));
  }

  paused(before: string): void {
    void this.send(pausedNotice(this.subject, new Date(), before));
  }

  failed(message: string): Promise<void> {
    return this.send(failureNotice(this.subject, new Date(), message));
  }

  ended(outcome: 'succeeded' | 'cancelled', summary: string): Promise<void> {
    return this.send(endNotice(this.subject, new Date(), outcome, summary));
  }

  /** What the runbook was doing, for a cancelled run's notice. */
  whereItWas(): string {
    const p = this.runbook?.snapshot;
    if (!p) return 'starting';
    return p.pendingApproval ? `waiting for approval: ${p.pendingApproval.summary}` : `at step "${p.step}"`;
  }

  /** One delivery per target that takes this event, in parallel; resolves when all have ended and never rejects. */
  private async send(notice: Notice): Promise<void> {
    await Promise.all(this.targets.map((target, index) => (target.on.includes(notice.event) ? this.deliver(target, index, notice) : undefined)));
  }

  private async deliver(target: NotificationTarget, index: number, notice: Notice): Promise<void> {
    const name = describeTarget(target, index);
    try {
      const r = await webhooks.deliverNotification.executeWithOptions({ summary: `notify ${name}: ${notice.event}` }, [{ target, index, notice }]);
      if (!r.delivered) this.undelivered(name, notice, r.problem);
    } catch (err) {
      // A notice is never worth failing or holding up a runbook: whatever went wrong is noted, not thrown.
      if (isCancellation(err)) return; // the runbook is being cancelled: its end notice follows
      const tries = err instanceof ActivityFailure && err.retryState === RetryState.MAXIMUM_ATTEMPTS_REACHED ? ` (${DELIVERY_ATTEMPTS} attempts)` : '';
      this.undelivered(name, notice, `${innermostMessage(err)}${tries}`);
    }
  }

  private undelivered(name: string, notice: Notice, problem: string): void {
    const line = `the ${notice.event} notice to ${name} was not delivered: ${problem}`;
    if (this.runbook) this.runbook.note(line);
    else log.warn(line);
  }
}

/**
 * This workflow's notifier, if its inventory names webhooks. Module state is per workflow execution: the worker gives
 * every execution its own instances of the bundle's modules (its own webpack module cache), as it does its globals;
 * only modules named in the bundle's `preloadModules` are shared, and the worker names none.
 */
let active: RunbookNotifier | undefined;

export function runbookNotifier(): RunbookNotifier | undefined {
  return active;
}

/** Marks a wrapped runbook, so a test can check that every runbook a client starts is one. */
export const NOTIFYING = Symbol.for('microk8s-runbooks.notifying');

/**
 * The runbook `run` with its notifications: failure and end around it, its waits through its controller. `describe`
 * says in one line how a successful run ended. The wrapper keeps the runbook's name and signature.
 */
export function notifying<I extends RunbookBaseInput, R>(runbook: RunbookKind, run: (input: I) => Promise<R>, describe: (result: R) => string): (input: I) => Promise<R> {
  const wrapped = async (input: I): Promise<R> => {
    const targets = input.inventory?.notifications ?? [];
    if (!targets.length) return run(input);
    const info = workflowInfo();
    const notifier = new RunbookNotifier({ runbook, cluster: input.inventory.cluster, workflowId: info.workflowId }, targets);
    active = notifier;
    // A runbook run as a step of another (form re-joining a node for replace-node: its ID extends its parent's)
    // tells its waits, which are answered at its own ID, but not its end: the parent's notices say that.
    const step = !!info.parent && info.workflowId.startsWith(`${info.parent.workflowId}.`);
    let result: R;
    try {
      result = await run(input);
    } catch (err) {
      // Not cancellable: a cancelled run's scope would cancel the notice of its own end.
      if (!step) await CancellationScope.nonCancellable(() => (isCancellation(err) ? notifier.ended('cancelled', notifier.whereItWas()) : notifier.failed(innermostMessage(err))));
      throw err;
    }
    // A plan (--plan) is read by whoever asked for it, at the terminal.
    if (!step && !input.planOnly) await notifier.ended('succeeded', oneLine(describe, result));
    return result;
  };
  Object.defineProperty(wrapped, 'name', { value: run.name });
  Object.defineProperty(wrapped, NOTIFYING, { value: true });
  return wrapped;
}

/** `describe(result)`, guarded: a summary that cannot be made must not fail a runbook that succeeded. */
function oneLine<R>(describe: (result: R) => string, result: R): string {
  try {
    return describe(result);
  } catch {
    return 'completed';
  }
}
