/**
 * What a rolling upgrade does when a node fails (step 4 of the procedure): roll that node back and verify it, with
 * `--rollback all` also the nodes this pass upgraded, newest first; then stop with a failure that says what was
 * compensated and what is left cordoned and why, or pause for an operator's decision (retry, rollback, abort).
 * Workflow code: deterministic.
 */
import { ApplicationFailure, CancellationScope, ChildWorkflowFailure, isCancellation } from '@temporalio/workflow';
import { innermostMessage } from '../common/failures';
import type { NodeFailure, UpgradeFailureDetails, UpgradeNodeResult } from '../common/upgrade-reports';
import { failedAtDeadline, mayBeUnreachable } from './step-options';
import { NodeUpgradeFailed } from './upgrade-node';
import type { NodeStep } from '../common/upgrade';
import type { UpgradeRun } from './upgrade-run';

export const UpgradeFailed = 'UpgradeFailed';

export type Attempt = { ok: UpgradeNodeResult } | { failure: NodeFailure };

/** Upgrade one node; a failed node comes back as its NodeFailure, anything else (a cancel, a bug) is thrown. */
export async function attempt(run: UpgradeRun, hopIndex: number, step: NodeStep): Promise<Attempt> {
  try {
    return { ok: await run.upgradeNode(hopIndex, step) };
  } catch (err) {
    const failure = nodeFailureOf(err, step.node);
    if (!failure) throw err;
    return { failure };
  }
}

/** A node failed: roll it back (after approval if asked), then stop or wait for an operator decision. */
export async function recover(run: UpgradeRun, hopIndex: number, step: NodeStep, failure: NodeFailure): Promise<UpgradeNodeResult> {
  const { rb, opts } = run;
  let current = failure;
  for (;;) {
    rb.node(step.node, 'failed', current.message);
    rb.note(`${step.node}: ${current.step} failed: ${current.message}`);
    const others = opts.rollback === 'all' && opts.onFailure === 'rollback' ? [...run.upgradedThisHop].reverse() : [];
    const what = `roll back ${step.node}${others.length ? `, then ${others.join(', ')}` : ''} (${current.step} failed)`;
    const go = opts.approve === 'on-failure' ? await run.approval(what) : 'approved';
    let rolledBack = false;
    if (go === 'approved') rolledBack = await rollbackFailed(run, step.node, current);
    else run.compensate(`rollback of ${step.node} rejected by the operator: left as it is`);
    if (opts.onFailure === 'rollback') {
      if (others.length && go === 'approved') await rollbackUpgraded(run);
      if (go !== 'approved') return stop(run, current, 'the rollback was rejected; nodes left as they are');
      if (!rolledBack) {
        return stop(run, current, `${step.node} did not answer, so it could not be rolled back${others.length ? `; rolled back ${others.join(', ')} (--rollback all)` : ''}`);
      }
      const rollbackError = run.rollbackErrors.get(step.node);
      if (rollbackError) {
        return stop(run, current, `the rollback of ${step.node} FAILED (${rollbackError}); it is left as the rollback left it${others.length ? `; rolled back ${others.join(', ')} (--rollback all)` : ''}`);
      }
      return stop(run, current, opts.rollback === 'all' ? 'rolled back this pass (--rollback all)' : 'rolled back the failed node (--rollback node)');
    }
    const d = await rb.awaitDecision(`${step.node}: ${current.step} failed: ${current.message}`);
    rb.note(`decision by ${d.by}: ${d.decision}${d.reason ? ` (${d.reason})` : ''}`);
    if (d.decision === 'rollback') {
      // The failed node itself first, if it could not be rolled back before (it did not answer): it may now.
      if (go === 'approved' && !rolledBack) await rollbackFailed(run, step.node, current);
      await rollbackUpgraded(run);
      return stop(run, current, `rolled back on ${d.by}'s decision`);
    }
    if (d.decision === 'abort') return stop(run, current, `aborted by ${d.by}`);
    const retry = await attempt(run, hopIndex, step);
    if ('ok' in retry) return retry.ok;
    current = retry.failure;
  }
}

/**
 * Roll the failed node back, if that is possible. A step that ran out of its deadline (--step-timeout) or lost its
 * node first asks whether the node answers; if it does not, no revert can run on it, and it is left as it is
 * (cordoned and drained, its snap as the failed step left it) for the operator. Returns whether it was rolled back.
 */
async function rollbackFailed(run: UpgradeRun, node: string, f: NodeFailure): Promise<boolean> {
  if (f.mayBeUnreachable && !(await run.answers(node))) {
    f.unreachable = true;
    run.compensate(`rollback of ${node} not possible: it does not answer over SSH (${f.step}: ${f.message}); left as it is: cordoned, snap not reverted`);
    run.rb.node(node, 'failed', `does not answer since ${f.step}: not rolled back`);
    return false;
  }
  await run.rollbackNode(node, `${f.step} failed`);
  return true;
}

/** Roll back the nodes this pass upgraded, newest first (workers before control planes: kubelet never newer). */
async function rollbackUpgraded(run: UpgradeRun): Promise<void> {
  for (const node of [...run.upgradedThisHop].reverse()) await run.rollbackNode(node, 'rollback --all');
  run.upgradedThisHop = [];
}

/** Stop the runbook: a failure naming the node, what was compensated, and what is left cordoned and why. */
async function stop(run: UpgradeRun, failure: NodeFailure, why: string): Promise<never> {
  await CancellationScope.nonCancellable(() => run.checklist.undo());
  // A node that just did not answer is not asked again, a doubtful one only briefly; a read that fails leaves its
  // state unknown, never the run hung.
  let readError = 'it does not answer over SSH';
  const read = run.doubtful.has(failure.node) ? run.reach : run.act;
  const state = run.unreachable.has(failure.node)
    ? undefined
    : await CancellationScope.nonCancellable(() =>
        read.readNodeState.executeWithOptions({ summary: `read ${failure.node} after the failure` }, [{ inventory: run.childInventory(failure.node), node: failure.node }]),
      ).catch((err: unknown) => {
        readError = innermostMessage(err);
        return undefined;
      });
  let left = '';
  let leftCordoned: string[] = [];
  if (state) {
    leftCordoned = state.unschedulable && !run.wasCordoned[failure.node] ? [failure.node] : [];
    if (leftCordoned.length) left = ` ${failure.node} is left cordoned (on ${state.snap.version}) for inspection; uncordon it when fixed.`;
  } else {
    leftCordoned = !run.wasCordoned[failure.node] && failure.step !== 'checkQuorum' ? [failure.node] : [];
    left =
      ` ${failure.node}'s state is unknown (${readError})` +
      (leftCordoned.length ? '; it was cordoned and drained by this run and is left so' : '') +
      `; once it is back, check its snap (snap list microk8s), revert or finish it, then uncordon it.`;
  }
  const details: UpgradeFailureDetails = { failure, compensations: run.compensations, leftCordoned, upgraded: [...run.upgradedAll] };
  run.rb.note(`stopped: ${why}.${left}`);
  throw ApplicationFailure.create({ type: UpgradeFailed, message: `upgrade stopped at ${failure.node} (${failure.step}): ${failure.message}. ${why}.${left}`, details: [details], nonRetryable: true });
}

/** The node(s) in flight when the runbook was cancelled finished their own compensation (child workflows): say how each ended. */
export async function reportAfterCancel(run: UpgradeRun): Promise<void> {
  for (const node of run.inFlight) {
    let readError = '';
    const s = await run.act.readNodeState
      .executeWithOptions({ summary: `read ${node} after cancel` }, [{ inventory: run.childInventory(node), node }])
      .catch((err: unknown) => {
        readError = innermostMessage(err);
        return undefined;
      });
    if (!s) {
      run.compensate(`cancel: ${node}: state unknown (${readError})`);
      continue;
    }
    const start = run.hopStart[node];
    const how = start && s.snap.revision !== start.revision ? `completed on ${s.snap.version}` : `reverted: still on ${s.snap.version}`;
    run.compensate(`cancel: ${node} ${how}, ${s.ready ? 'Ready' : 'NOT Ready'}, ${s.unschedulable ? 'cordoned' : 'uncordoned'}`);
  }
}

/** The NodeFailure a child attached to its NodeUpgradeFailed, or undefined for anything else. */
function nodeFailureOf(err: unknown, node: string): NodeFailure | undefined {
  if (!(err instanceof ChildWorkflowFailure) || isCancellation(err)) return undefined;
  const cause = err.cause;
  if (cause instanceof ApplicationFailure && cause.type === NodeUpgradeFailed && cause.details?.[0]) return cause.details[0] as NodeFailure;
  // Any other child failure (a step past its deadline, a bug) is still a failed node: handle it the same way.
  const message = failedAtDeadline(err) ? `${innermostMessage(err)} (a step ran out of its deadline, --step-timeout, retries included)` : innermostMessage(err);
  return { node, step: 'upgradeNode', message, refreshed: true, ...(mayBeUnreachable(err) ? { mayBeUnreachable: true } : {}) };
}
