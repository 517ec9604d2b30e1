/**
 * One node's turn in the rolling upgrade, as child workflows so each node has its own page in the UI:
 * `upgradeNode` (the manual procedure's steps 1-5: drain, refresh, wait Ready, verify, uncordon; the last two are one
 * activity, the uncordon gated on the verification) and
 * `rollbackNode` (drain again if needed, `snap revert`, wait Ready on the old version, uncordon).
 * A failed step throws `NodeUpgradeFailed` with a NodeFailure in its details; the parent decides what follows.
 */
import {
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  proxyActivities,
  sleep,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { type HealthGateInput, DEFAULT_STEP_TIMEOUT_SECONDS, type NodeFailure, type NodeTimeouts, type RollbackNodeInput, type RollbackNodeResult, type UpgradeNodeInput, type UpgradeNodeResult } from '../common/upgrade-reports';
import { RunbookController } from './runbook-controller';
import { failedAtDeadline, failedUnreachable, mayBeUnreachable, stepOptions } from './step-options';
import { innermostMessage } from '../common/failures';
import { describePdbBlock } from '../common/drain';

export const NodeUpgradeFailed = 'NodeUpgradeFailed';
export const NodeRollbackFailed = 'NodeRollbackFailed';

/**
 * No attempt cap: a lost worker is retried however often it happens. Every step ends by its deadline
 * (scheduleToClose): `--step-timeout` (T), plus the drain's or the Ready wait's own timeout for those two; a snap
 * refresh or revert must fit in T. A node that never answers again fails its step after that, and the parent's
 * `--on-failure` policy applies. Real failures end a step at once (workflows/step-options.ts).
 */
function activityProfiles(t: NodeTimeouts) {
  const stepMs = (t.stepTimeoutSeconds ?? DEFAULT_STEP_TIMEOUT_SECONDS) * 1000;
  const base: ActivityOptions = stepOptions({ startToClose: '3m', scheduleToClose: stepMs, heartbeat: t.heartbeatTimeoutSeconds * 1000 });
  const own = (ms: number): ActivityOptions => ({ startToCloseTimeout: ms, scheduleToCloseTimeout: ms + stepMs });
  return {
    act: proxyActivities<Activities>(base),
    drainTimeout: own((t.drainTimeoutSeconds + 180) * 1000),
    readyTimeout: own((t.readyTimeoutSeconds + 120) * 1000),
    snapTimeout: { startToCloseTimeout: Math.min(45 * 60_000, stepMs), scheduleToCloseTimeout: stepMs },
  };
}

function nodeFailed(failure: NodeFailure): never {
  throw ApplicationFailure.create({
    type: NodeUpgradeFailed,
    message: `${failure.node}: ${failure.step} failed: ${failure.message}`,
    details: [failure],
    nonRetryable: true,
  });
}

/** What upgradeNode does to each node, as the plan says it (the steps below, in their order). */
export function describeNodeUpgrade(): string {
  return 'Per node: cordon and drain, snap refresh, wait Ready on the new minor, health gates, soak, uncordon.';
}

/** Upgrade one node: the manual procedure's per-node steps, in order. */
export async function upgradeNode(input: UpgradeNodeInput): Promise<UpgradeNodeResult> {
  const { node } = input;
  const rb = new RunbookController('upgrade-node', input.inventory.cluster, [node]);
  rb.focus(node);
  const { act, drainTimeout, readyTimeout, snapTimeout } = activityProfiles(input);
  const target = { inventory: input.inventory, node };
  const move = `${input.fromVersion} → ${input.channel}`;
  let cordonedByUs = false;
  let refreshStarted = false;

  try {
    if (input.controlPlane) {
      rb.step(`checkQuorum before ${node}`);
      const q = await act.checkQuorum.executeWithOptions({ summary: `quorum before ${node}` }, [{ ...target, expect: input.expect }]);
      if (!q.ok) nodeFailed({ node, step: 'checkQuorum', message: q.problems.join('; '), refreshed: false });
    }

    rb.step(`drainNode ${node}`);
    rb.node(node, 'draining', move);
    cordonedByUs = !input.wasCordoned; // drain cordons first; set now so a cancel mid-drain uncordons
    const drain = await act.drainNode.executeWithOptions({ summary: `drain ${node}`, ...drainTimeout }, [
      { ...target, timeoutSeconds: input.drainTimeoutSeconds },
    ]);
    if (!drain.drained) {
      const message = drain.pdbBlocked.length
        ? describePdbBlock(node, drain.pdbBlocked)
        : (drain.message ?? 'drain did not finish');
      nodeFailed({ node, step: 'drainNode', message, pdbBlocked: drain.pdbBlocked, refreshed: false });
    }

    rb.step(`refreshSnap ${node} --channel=${input.channel}`);
    rb.node(node, 'refreshing', move);
    refreshStarted = true;
    // A refresh is never interrupted halfway: a cancel takes effect once it has finished.
    const refresh = await CancellationScope.nonCancellable(() =>
      act.refreshSnap
        .executeWithOptions({ summary: `snap refresh ${node} --channel=${input.channel}`, ...snapTimeout }, [
          { ...target, channel: input.channel, minor: input.minor },
        ])
        .catch((err) =>
          nodeFailed({ node, step: 'refreshSnap', message: stepFailureMessage(err, input), refreshed: true, ...(mayBeUnreachable(err) ? { mayBeUnreachable: true } : {}) }),
        ),
    );

    rb.step(`waitNodeReady ${node} on ${input.minor}`);
    rb.node(node, 'verifying', `${move}${refresh.skipped ? ' (already refreshed)' : ''}`);
    const ready = await act.waitNodeReady.executeWithOptions({ summary: `wait for ${node} Ready on ${input.minor}`, ...readyTimeout }, [
      { ...target, minor: input.minor, timeoutSeconds: input.readyTimeoutSeconds, pollMs: input.readyPollMs },
    ]);
    if (!ready.ready) nodeFailed({ node, step: 'waitNodeReady', message: ready.message ?? 'not Ready', refreshed: true });

    // Health gates, then uncordon. Right after waitNodeReady the gates take its Ready as seen; after a soak they look again.
    let gateStep = 'checkNodeHealth';
    if (input.soakSeconds > 0) {
      await healthGate(act, input, gateStep, true);
      rb.step(`soak ${node} for ${input.soakSeconds}s`);
      rb.node(node, 'soaking', move);
      await sleep(input.soakSeconds * 1000, { summary: `soak ${node} ${input.soakSeconds}s` });
      gateStep = 'checkNodeHealth after soak';
    }
    const readyVerified = input.soakSeconds === 0;

    let uncordoned = false;
    if (cordonedByUs) {
      // One step: the gates, and the uncordon only when they pass (a failed gate leaves the node cordoned).
      rb.step(`${gateStep}, uncordonNode ${node}`);
      const u = await act.uncordonNode.executeWithOptions({ summary: `health gates, then uncordon ${node}` }, [
        { ...target, gate: gateOf(input, readyVerified) },
      ]);
      if (!u.uncordoned) nodeFailed({ node, step: gateStep, message: u.problems.join('; '), refreshed: true });
      uncordoned = true;
    } else {
      await healthGate(act, input, gateStep, readyVerified);
    }
    rb.node(node, 'done', `${refresh.after.version} (${input.channel})`);
    rb.step('done');
    return {
      node,
      outcome: refresh.skipped ? 'already-on-target' : 'upgraded',
      before: refresh.before,
      after: refresh.after,
      kubeletVersion: ready.kubeletVersion,
      uncordoned,
    };
  } catch (err) {
    if (isCancellation(err)) {
      // Cancelled: end in a verified state. Refreshed → complete the node; not refreshed → undo the cordon.
      await CancellationScope.nonCancellable(async () => {
        if (refreshStarted) {
          rb.step(`cancelled: completing ${node}`);
          const ready = await act.waitNodeReady.executeWithOptions({ summary: `wait for ${node} Ready (cancel)`, ...readyTimeout }, [
            { ...target, minor: input.minor, timeoutSeconds: input.readyTimeoutSeconds, pollMs: input.readyPollMs },
          ]);
          if (cordonedByUs && ready.ready) await act.uncordonNode.executeWithOptions({ summary: `uncordon ${node} (cancel)` }, [target]);
          rb.node(node, ready.ready ? 'done' : 'failed', ready.ready ? `cancelled: completed on ${input.minor}` : `cancelled: ${ready.message}`);
        } else {
          rb.step(`cancelled: restoring ${node}`);
          if (cordonedByUs) await act.uncordonNode.executeWithOptions({ summary: `uncordon ${node} (cancel)` }, [target]);
          rb.node(node, 'reverted', 'cancelled before the refresh: uncordoned, version unchanged');
        }
      });
    } else {
      rb.node(node, 'failed', err instanceof ApplicationFailure ? err.message : String(err));
    }
    throw err;
  }
}

function gateOf(input: UpgradeNodeInput, readyVerified: boolean): HealthGateInput {
  return { controlPlane: input.controlPlane, expect: input.expect, baseline: input.baseline, readyVerified };
}

async function healthGate(act: ReturnType<typeof activityProfiles>['act'], input: UpgradeNodeInput, step: string, readyVerified: boolean): Promise<void> {
  const health = await act.checkNodeHealth.executeWithOptions({ summary: `health gates ${input.node}` }, [
    { inventory: input.inventory, node: input.node, ...gateOf(input, readyVerified) },
  ]);
  if (!health.ok) nodeFailed({ node: input.node, step, message: health.problems.join('; '), refreshed: true });
}

/** What a failed step says: its innermost message, and the deadline when it ran out of it. */
export function stepFailureMessage(err: unknown, t: Pick<NodeTimeouts, 'stepTimeoutSeconds'>): string {
  if (!failedAtDeadline(err)) return causeOf(err);
  const deadline = `not done within its deadline (--step-timeout ${t.stepTimeoutSeconds ?? DEFAULT_STEP_TIMEOUT_SECONDS}s, retries included)`;
  return failedUnreachable(err) ? `${deadline}; last: ${causeOf(err)}` : deadline;
}

/** The innermost message of an activity failure. */
export const causeOf = innermostMessage;

/** Roll one node back to the revision it ran before, and verify it: Ready on the old minor, uncordoned. */
export async function rollbackNode(input: RollbackNodeInput): Promise<RollbackNodeResult> {
  const { node } = input;
  const rb = new RunbookController('upgrade-node', input.inventory.cluster, [node]);
  rb.focus(node);
  const { act, drainTimeout, readyTimeout, snapTimeout } = activityProfiles(input);
  const target = { inventory: input.inventory, node };
  const actions: string[] = [];
  const fail = (message: string): never => {
    rb.node(node, 'failed', message);
    throw ApplicationFailure.create({ type: NodeRollbackFailed, message: `${node}: rollback failed: ${message}`, nonRetryable: true, details: [{ actions }] });
  };
  rb.node(node, 'reverting', input.reason);

  rb.step(`readNodeState ${node}`);
  const state = await act.readNodeState.executeWithOptions({ summary: `read ${node} before rollback` }, [target]);
  const needsRevert = state.snap.revision !== input.revision;
  let drainedAgain = false;
  if (needsRevert && !state.unschedulable) {
    // Uncordoned since its upgrade, so it may run new workloads: drain again before the revert restarts it.
    rb.step(`drainNode ${node} (before revert)`);
    const drain = await act.drainNode.executeWithOptions({ summary: `drain ${node} before revert`, ...drainTimeout }, [
      { ...target, timeoutSeconds: input.drainTimeoutSeconds },
    ]);
    drainedAgain = true;
    actions.push(drain.drained ? `drained ${node} again` : `drain of ${node} incomplete (${drain.message}); reverting anyway`);
  }
  let after = state.snap;
  if (needsRevert) {
    rb.step(`revertSnap ${node} --revision=${input.revision}`);
    const revert = await act.revertSnap
      .executeWithOptions({ summary: `snap revert ${node} --revision=${input.revision}`, ...snapTimeout }, [{ ...target, revision: input.revision }])
      .catch((err) => fail(causeOf(err)));
    after = revert.after;
    // Skipped means an interrupted attempt (a worker crash) already reverted: say so rather than "N → N".
    actions.push(
      revert.skipped
        ? `snap revert ${node}: already on revision ${after.revision} (${after.version}); an interrupted attempt had reverted it`
        : `snap revert ${node}: revision ${revert.before.revision} (${revert.before.version}) → ${after.revision} (${after.version})`,
    );
  } else {
    actions.push(`${node} still on revision ${input.revision}: nothing to revert`);
  }

  rb.step(`waitNodeReady ${node} on ${input.minor}`);
  const ready = await act.waitNodeReady.executeWithOptions({ summary: `wait for ${node} Ready on ${input.minor}`, ...readyTimeout }, [
    { ...target, minor: input.minor, timeoutSeconds: input.readyTimeoutSeconds, pollMs: input.readyPollMs },
  ]);
  if (!ready.ready) fail(`${ready.message}; ${node} left cordoned`);
  actions.push(`${node} Ready on ${ready.kubeletVersion}`);

  let uncordoned = false;
  if (!input.wasCordoned) {
    rb.step(`uncordonNode ${node}`);
    await act.uncordonNode.executeWithOptions({ summary: `uncordon ${node}` }, [target]);
    uncordoned = true;
    actions.push(`uncordoned ${node}`);
  }
  rb.node(node, 'reverted', `${after.version} (rev ${after.revision})`);
  rb.step('done');
  return { node, reverted: needsRevert, drainedAgain, uncordoned, version: after.version, revision: after.revision, actions };
}
