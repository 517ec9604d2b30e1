/**
 * The HA rolling upgrade (issue 5), read as the manual procedure in ../shared/microk8s-behaviour.md:
 *   0. Plan from live state: one minor at a time, control planes first (leader last), workers in batches.
 *   1. Back up the dqlite datastore first.
 *   2. Hold snap auto-refresh on every node (released at the end, on failure and on cancel).
 *   3. Each node in turn, as a child workflow (workflows/upgrade-node.ts): drain, refresh, wait Ready, verify, uncordon.
 *   4. On failure: roll that node back and verify it; with --rollback all also the nodes this pass upgraded,
 *      newest first; then stop, or pause for an operator decision (retry, rollback, abort).
 */
import {
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowFailure,
  executeChild,
  isCancellation,
  patched,
  proxyActivities,
  upsertMemo,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { BackupNodeResult } from '../common/backup';
import { BAD_REQUEST_TYPE, CHILD_ID_PATCH, legacyNodeWorkflowId, nodeWorkflowId, UPGRADE_REQUEST_CHECK_PATCH } from '../common/constants';
import type { Inventory } from '../common/inventory';
import { minorOf } from '../common/versions';
import { RunbookController } from './runbook-controller';
import { failedAtDeadline, mayBeUnreachable, stepOptions } from './step-options';
import { NodeUpgradeFailed, rollbackNode, upgradeNode } from './upgrade-node';
import type { NodeFailure, RollbackNodeResult, UpgradeNodeResult, RollingUpgradeInput, RollingUpgradeResult, UpgradeFailureDetails } from '../common/upgrade-reports';
import { type Hop, type NodeStep, planHop, planUpgrade, type UpgradePlan } from './upgrade-plan';
import { type ClusterObservation, UpgradeOptions } from '../common/upgrade';
import { innermostMessage } from '../common/failures';

export { rollbackNode, upgradeNode } from './upgrade-node';

export const UpgradeFailed = 'UpgradeFailed';

/** How long a node whose step ran out of its deadline (or lost it) is given to answer before its rollback is skipped. */
const REACH_TIMEOUT_MS = 2 * 60_000;

export async function rollingUpgrade(input: RollingUpgradeInput): Promise<RollingUpgradeResult> {
  const { inventory } = input;
  const rb: RunbookController = new RunbookController('upgrade', inventory.cluster, inventory.nodes.map((n) => n.name));
  const parsed = UpgradeOptions.safeParse(pickOptions(input));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    rb.fail('InvalidInput', `${issue.path.join('.') || 'input'}: ${issue.message}`);
  }
  const opts = parsed.data;
  // No attempt cap: a lost worker is retried however often it happens; each step ends by --step-timeout at the
  // latest, and real failures end it at once (workflows/step-options.ts).
  const stepMs = opts.stepTimeoutSeconds * 1000;
  const act = proxyActivities<Activities>(stepOptions({ startToClose: '5m', scheduleToClose: stepMs, heartbeat: opts.heartbeatTimeoutSeconds * 1000 }));
  // "Does the node answer?", asked of a node whose step ran out of its deadline: a short deadline, not a full step's.
  const reach = proxyActivities<Activities>(
    stepOptions({ startToClose: '1m', scheduleToClose: Math.min(stepMs, REACH_TIMEOUT_MS), heartbeat: opts.heartbeatTimeoutSeconds * 1000 }),
  );
  const parentId = workflowInfo().workflowId;
  const compensations: string[] = [];
  const compensate = (line: string) => {
    compensations.push(line);
    rb.note(`compensation: ${line}`);
  };

  // 0. Plan from live state.
  rb.step('observeCluster');
  let obs: ClusterObservation = await act.observeUpgradeState.executeWithOptions(
    { summary: 'read versions, revisions, channels, readiness and dqlite roles' },
    [{ inventory }],
  );
  const checkRequest = patched(UPGRADE_REQUEST_CHECK_PATCH);
  const plan: UpgradePlan = planUpgrade(obs, checkRequest ? { ...opts, yes: input.yes } : opts, { checkRequest });
  if (plan.refusals.length) {
    rb.step('refused');
    await rb.approvePlan(plan.lines, true, 'refused');
    if (input.planOnly) return { outcome: 'refused', plan: plan.lines, versions: versionsOf(obs), compensations };
    if (plan.badRequest.length) rb.fail(BAD_REQUEST_TYPE, `nothing was changed: ${plan.badRequest.join('; ')}`);
    rb.fail('PreconditionFailed', `the cluster is not healthy enough to upgrade: ${plan.refusals.join('; ')}`);
  }
  if (input.planOnly) {
    rb.step('planned');
    await rb.approvePlan(plan.lines, true, 'plan only');
    return { outcome: 'planned', plan: plan.lines, versions: versionsOf(obs), compensations };
  }
  if (plan.hops.length === 0) {
    await rb.approvePlan(plan.lines, true, 'nothing to do');
    rb.step('nothing to do');
    for (const n of obs.nodes) rb.node(n.name, 'skipped', `${n.version} (${n.tracking})`);
    return { outcome: 'nothing-to-do', plan: plan.lines, versions: versionsOf(obs), compensations };
  }
  await rb.approvePlan(plan.lines, input.yes, `upgrade ${inventory.cluster} to ${plan.target}`);

  // 1. Back up first: a tarball of the dqlite backend on a voter, copied off the node, sha256 recorded.
  rb.step('backupDatastore');
  const voter = obs.nodes.find((n) => n.dqliteRole === 'voter' && !n.leader) ?? obs.nodes.find((n) => n.controlPlane)!;
  const backup: BackupNodeResult = await act.backupNode.executeWithOptions(
    { summary: `back up dqlite on ${voter.name}`, startToCloseTimeout: '30m', scheduleToCloseTimeout: 30 * 60_000 + stepMs },
    [{ inventory, node: voter.name, id: `pre-upgrade-${workflowInfo().runId.slice(0, 8)}`, label: `before upgrade to ${plan.target}` }],
  );
  rb.note(`backup ${backup.id} of ${voter.name}: ${backup.path} (${backup.size} bytes, sha256 ${backup.sha256})`);

  // 2. Hold auto-refresh on every node for the duration.
  const allNodes = inventory.nodes.map((n) => n.name);
  const wasCordoned = Object.fromEntries(obs.nodes.map((n) => [n.name, n.unschedulable]));
  let holdsTaken = false;
  const releaseHolds = async () => {
    if (!holdsTaken) return;
    rb.step('releaseRefreshHolds');
    const r = await act.holdRefreshes.executeWithOptions({ summary: 'release snap refresh holds' }, [
      { inventory, nodes: allNodes, release: true },
    ]);
    holdsTaken = false;
    if (r.failed.length) compensate(`refresh holds NOT released on: ${r.failed.join('; ')} (run: snap refresh --unhold microk8s)`);
    else rb.note('snap refresh holds released on every node');
  };

  // Nodes this pass upgraded, in order (rollback --all reverts them newest first), and where each pass started.
  let upgradedThisHop: string[] = [];
  const upgradedAll: string[] = [];
  let hopStart: Record<string, { revision: string; version: string }> = {};
  const inFlight = new Set<string>();
  const attempts = new Map<string, number>();

  const childInventory = (node: string): Inventory => ({
    ...inventory,
    nodes: inventory.nodes.filter((n) => n.name === node || n.role === 'controlplane'),
  });
  const childId = (what: string, node: string) => {
    const key = `${what}-${node}`;
    const n = (attempts.get(key) ?? 0) + 1;
    attempts.set(key, n);
    const step = n > 1 ? `${what}-${n}` : what;
    return patched(CHILD_ID_PATCH) ? nodeWorkflowId(parentId, step, node) : legacyNodeWorkflowId(parentId, step, node);
  };
  const timeouts = {
    drainTimeoutSeconds: opts.drainTimeoutSeconds,
    readyTimeoutSeconds: opts.readyTimeoutSeconds,
    readyPollMs: opts.readyPollMs,
    heartbeatTimeoutSeconds: opts.heartbeatTimeoutSeconds,
    stepTimeoutSeconds: opts.stepTimeoutSeconds,
  };

  /** Ask a human; a timeout pauses (never proceeds) and asks again after `runbook resume`. */
  const approval = async (summary: string): Promise<'approved' | 'rejected'> => {
    for (;;) {
      rb.step(`waiting for approval: ${summary}`);
      const outcome = await rb.requestApproval(summary, opts.approvalTimeoutSeconds * 1000);
      if (outcome !== 'timed-out') return outcome;
      rb.note(`approval "${summary}" timed out after ${opts.approvalTimeoutSeconds}s: paused; run \`runbook resume\` to ask again`);
      rb.snapshot.paused = true; // the controller's own pause flag: checkpoint() waits on it like a `runbook pause`
      await rb.checkpoint();
    }
  };

  const runUpgrade = async (hopIndex: number, step: NodeStep): Promise<UpgradeNodeResult> => {
    const before = obs.nodes.find((n) => n.name === step.node)!;
    rb.node(step.node, 'draining', `${before.version} → ${step.channel}`);
    inFlight.add(step.node);
    try {
      const result = await executeChild(upgradeNode, {
        workflowId: childId(`hop${hopIndex + 1}-upgrade`, step.node),
        staticSummary: `upgrade ${step.node} to ${step.channel}`,
        staticDetails: `Hop ${hopIndex + 1} of the rolling upgrade of \`${inventory.cluster}\` to ${plan.target}.`,
        parentClosePolicy: 'REQUEST_CANCEL',
        args: [
          {
            ...timeouts,
            inventory: childInventory(step.node),
            node: step.node,
            controlPlane: step.controlPlane,
            channel: step.channel,
            minor: step.minor,
            fromVersion: before.version,
            expect: { ha: obs.ha, voters: obs.voters },
            baseline: plan.baseline,
            soakSeconds: opts.soakSeconds,
            wasCordoned: wasCordoned[step.node],
          },
        ],
      });
      inFlight.delete(step.node);
      return result;
    } catch (err) {
      if (!isCancellation(err)) inFlight.delete(step.node); // cancelled: reportAfterCancel says how it ended
      throw err;
    }
  };

  const runRollback = async (node: string, reason: string): Promise<RollbackNodeResult | undefined> => {
    const start = hopStart[node];
    rb.node(node, 'reverting', reason);
    try {
      // A rollback runs to its end even when the runbook is cancelled meanwhile: half a revert is worse than none.
      const r = await CancellationScope.nonCancellable(() => executeChild(rollbackNode, {
        workflowId: childId('rollback', node),
        staticSummary: `roll back ${node} to revision ${start.revision} (${start.version})`,
        parentClosePolicy: 'REQUEST_CANCEL',
        args: [{ ...timeouts, inventory: childInventory(node), node, revision: start.revision, minor: minorString(start.version), wasCordoned: wasCordoned[node], reason }],
      }));
      for (const a of r.actions) compensate(a);
      rb.node(node, 'reverted', `${r.version} (rev ${r.revision})`);
      rollbackErrors.delete(node);
      return r;
    } catch (err) {
      const message = causeMessage(err);
      if (mayBeUnreachable(err)) doubtful.add(node);
      rollbackErrors.set(node, message);
      compensate(`rollback of ${node} FAILED: ${message}`);
      rb.node(node, 'failed', `rollback failed: ${message}`);
      return undefined;
    }
  };

  /** Nodes whose last rollback failed (its verification, say), with why: the final message must not say "rolled back". */
  const rollbackErrors = new Map<string, string>();
  /** Nodes whose step or rollback ran out of its deadline or lost the node: asked briefly, never for a full step. */
  const doubtful = new Set<string>();
  /** Nodes asked whether they answer that did not. */
  const unreachable = new Set<string>();
  /** Whether a node answers: one short read of its state (`reach`); any failure counts as no. */
  const answers = async (node: string): Promise<boolean> => {
    rb.step(`is ${node} reachable?`);
    try {
      await reach.readNodeState.executeWithOptions({ summary: `is ${node} reachable?` }, [{ inventory: childInventory(node), node }]);
      unreachable.delete(node);
      doubtful.delete(node);
      return true;
    } catch {
      unreachable.add(node);
      return false;
    }
  };

  /**
   * Roll the failed node back, if that is possible. A step that ran out of its deadline (--step-timeout) or lost its
   * node first asks whether the node answers; if it does not, no revert can run on it, and it is left as it is
   * (cordoned and drained, its snap as the failed step left it) for the operator. Returns whether it was rolled back.
   */
  const rollbackFailed = async (node: string, f: NodeFailure): Promise<boolean> => {
    if (f.mayBeUnreachable && !(await answers(node))) {
      f.unreachable = true;
      compensate(`rollback of ${node} not possible: it does not answer over SSH (${f.step}: ${f.message}); left as it is: cordoned, snap not reverted`);
      rb.node(node, 'failed', `does not answer since ${f.step}: not rolled back`);
      return false;
    }
    await runRollback(node, `${f.step} failed`);
    return true;
  };

  /** Stop the runbook: a failure naming the node, what was compensated, and what is left cordoned and why. */
  const stop = async (failure: NodeFailure, why: string): Promise<never> => {
    await CancellationScope.nonCancellable(releaseHolds);
    // A node that just did not answer is not asked again, a doubtful one only briefly; a read that fails leaves its
    // state unknown, never the run hung.
    let readError = 'it does not answer over SSH';
    const read = doubtful.has(failure.node) ? reach : act;
    const state = unreachable.has(failure.node)
      ? undefined
      : await CancellationScope.nonCancellable(() =>
          read.readNodeState.executeWithOptions({ summary: `read ${failure.node} after the failure` }, [{ inventory: childInventory(failure.node), node: failure.node }]),
        ).catch((err: unknown) => {
          readError = causeMessage(err);
          return undefined;
        });
    let left = '';
    let leftCordoned: string[] = [];
    if (state) {
      leftCordoned = state.unschedulable && !wasCordoned[failure.node] ? [failure.node] : [];
      if (leftCordoned.length) left = ` ${failure.node} is left cordoned (on ${state.snap.version}) for inspection; uncordon it when fixed.`;
    } else {
      leftCordoned = !wasCordoned[failure.node] && failure.step !== 'checkQuorum' ? [failure.node] : [];
      left =
        ` ${failure.node}'s state is unknown (${readError})` +
        (leftCordoned.length ? '; it was cordoned and drained by this run and is left so' : '') +
        `; once it is back, check its snap (snap list microk8s), revert or finish it, then uncordon it.`;
    }
    const details: UpgradeFailureDetails = { failure, compensations, leftCordoned, upgraded: [...upgradedAll] };
    rb.note(`stopped: ${why}.${left}`);
    throw ApplicationFailure.create({ type: UpgradeFailed, message: `upgrade stopped at ${failure.node} (${failure.step}): ${failure.message}. ${why}.${left}`, details: [details], nonRetryable: true });
  };

  /** Roll back the nodes this pass upgraded, newest first (workers before control planes: kubelet never newer). */
  const rollbackUpgraded = async () => {
    for (const node of [...upgradedThisHop].reverse()) await runRollback(node, 'rollback --all');
    upgradedThisHop = [];
  };

  /** A node failed: roll it back (after approval if asked), then stop or wait for an operator decision. */
  const recover = async (hopIndex: number, step: NodeStep, failure: NodeFailure): Promise<UpgradeNodeResult> => {
    let current = failure;
    for (;;) {
      rb.node(step.node, 'failed', current.message);
      rb.note(`${step.node}: ${current.step} failed: ${current.message}`);
      const others = opts.rollback === 'all' && opts.onFailure === 'rollback' ? [...upgradedThisHop].reverse() : [];
      const what = `roll back ${step.node}${others.length ? `, then ${others.join(', ')}` : ''} (${current.step} failed)`;
      const go = opts.approve === 'on-failure' ? await approval(what) : 'approved';
      let rolledBack = false;
      if (go === 'approved') rolledBack = await rollbackFailed(step.node, current);
      else compensate(`rollback of ${step.node} rejected by the operator: left as it is`);
      if (opts.onFailure === 'rollback') {
        if (others.length && go === 'approved') await rollbackUpgraded();
        if (go !== 'approved') return stop(current, 'the rollback was rejected; nodes left as they are');
        if (!rolledBack) {
          return stop(current, `${step.node} did not answer, so it could not be rolled back${others.length ? `; rolled back ${others.join(', ')} (--rollback all)` : ''}`);
        }
        const rollbackError = rollbackErrors.get(step.node);
        if (rollbackError) {
          return stop(current, `the rollback of ${step.node} FAILED (${rollbackError}); it is left as the rollback left it${others.length ? `; rolled back ${others.join(', ')} (--rollback all)` : ''}`);
        }
        return stop(current, opts.rollback === 'all' ? 'rolled back this pass (--rollback all)' : 'rolled back the failed node (--rollback node)');
      }
      const d = await rb.awaitDecision(`${step.node}: ${current.step} failed: ${current.message}`);
      rb.note(`decision by ${d.by}: ${d.decision}${d.reason ? ` (${d.reason})` : ''}`);
      if (d.decision === 'rollback') {
        // The failed node itself first, if it could not be rolled back before (it did not answer): it may now.
        if (go === 'approved' && !rolledBack) await rollbackFailed(step.node, current);
        await rollbackUpgraded();
        return stop(current, `rolled back on ${d.by}'s decision`);
      }
      if (d.decision === 'abort') return stop(current, `aborted by ${d.by}`);
      const retry = await attempt(hopIndex, step);
      if ('ok' in retry) return retry.ok;
      current = retry.failure;
    }
  };

  const attempt = async (hopIndex: number, step: NodeStep): Promise<{ ok: UpgradeNodeResult } | { failure: NodeFailure }> => {
    try {
      return { ok: await runUpgrade(hopIndex, step) };
    } catch (err) {
      const failure = nodeFailureOf(err, step.node);
      if (!failure) throw err;
      return { failure };
    }
  };

  const done = (r: UpgradeNodeResult) => {
    if (r.outcome === 'upgraded') {
      upgradedThisHop.push(r.node);
      upgradedAll.push(r.node);
    }
    rb.node(r.node, 'done', `${r.after.version}${r.outcome === 'already-on-target' ? ' (already there)' : ''}`);
  };

  /** One batch (a control plane alone, or up to --worker-batch workers) in parallel; failures handled after. */
  const runBatch = async (hopIndex: number, steps: NodeStep[]) => {
    await rb.checkpoint();
    if (opts.approve === 'each') {
      const go = await approval(`upgrade ${steps.map((s) => s.node).join(', ')} to ${steps[0].channel}`);
      if (go === 'rejected') {
        await CancellationScope.nonCancellable(releaseHolds);
        rb.fail('UpgradeRejected', `upgrade of ${steps.map((s) => s.node).join(', ')} rejected; stopped before touching it (${upgradedAll.length} node(s) upgraded so far)`);
      }
    }
    rb.focus(steps.length === 1 ? steps[0].node : null);
    const results = await Promise.allSettled(steps.map((s) => attempt(hopIndex, s)));
    for (const r of results) if (r.status === 'rejected') throw r.reason; // cancellation, or a bug
    const values = results.map((r) => (r as PromiseFulfilledResult<{ ok: UpgradeNodeResult } | { failure: NodeFailure }>).value);
    // Record every success first, so a `--rollback all` triggered by a sibling's failure reverts them too.
    for (const v of values) if ('ok' in v) done(v.ok);
    for (const [i, v] of values.entries()) if ('failure' in v) done(await recover(hopIndex, steps[i], v.failure));
  };

  try {
    rb.step('holdRefreshes');
    holdsTaken = true; // set first: a hold that half-succeeded is still released
    await act.holdRefreshes.executeWithOptions({ summary: 'hold snap auto-refresh on every node' }, [{ inventory, nodes: allNodes, release: false }]);

    for (const [i, planned] of plan.hops.entries()) {
      let hop: Hop = planned;
      if (i > 0) {
        // Live state again: the leader may have moved, and the plan's next pass starts from here.
        rb.step(`observeCluster before ${planned.label}`);
        obs = await act.observeUpgradeState.executeWithOptions({ summary: `read the cluster before ${planned.label}` }, [{ inventory }]);
        if (planned.kind === 'minor') hop = planHop(obs.nodes, planned.label, opts.workerBatch, { lastHop: i === plan.hops.length - 1 });
      }
      hopStart = Object.fromEntries(obs.nodes.map((n) => [n.name, { revision: n.revision, version: n.version }]));
      upgradedThisHop = [];
      rb.step(`${hop.kind === 'patch' ? 'patch pass' : `hop ${hop.label}`}: control planes first, one at a time`);
      for (const s of hop.skipped) rb.note(`${hop.label}: skipped ${s}`);
      for (const cp of hop.controlPlanes) await runBatch(i, [cp]);
      rb.step(`${hop.label}: workers in batches of ${opts.workerBatch}`);
      for (const batch of hop.workerBatches) await runBatch(i, batch);
    }
    await releaseHolds();
  } catch (err) {
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(async () => {
        rb.step('cancelled: compensating');
        await reportAfterCancel();
        await releaseHolds();
        upsertMemo({ compensations }); // a cancelled run has no failure details: keep the record in history
      });
    } else {
      await CancellationScope.nonCancellable(releaseHolds);
    }
    throw err;
  }

  rb.step('done');
  rb.focus(null);
  obs = await act.observeUpgradeState.executeWithOptions({ summary: 'read the cluster after the upgrade' }, [{ inventory }]);
  return {
    outcome: 'upgraded',
    plan: plan.lines,
    backup: { id: backup.id, node: backup.node, path: backup.path, sha256: backup.sha256, size: backup.size },
    versions: versionsOf(obs),
    compensations,
  };

  /** The node(s) in flight finished their own compensation (child workflows); say how each one ended. */
  async function reportAfterCancel(): Promise<void> {
    for (const node of inFlight) {
      let readError = '';
      const s = await act.readNodeState
        .executeWithOptions({ summary: `read ${node} after cancel` }, [{ inventory: childInventory(node), node }])
        .catch((err: unknown) => {
          readError = causeMessage(err);
          return undefined;
        });
      if (!s) {
        compensate(`cancel: ${node}: state unknown (${readError})`);
        continue;
      }
      const start = hopStart[node];
      const how = start && s.snap.revision !== start.revision ? `completed on ${s.snap.version}` : `reverted: still on ${s.snap.version}`;
      compensate(`cancel: ${node} ${how}, ${s.ready ? 'Ready' : 'NOT Ready'}, ${s.unschedulable ? 'cordoned' : 'uncordoned'}`);
    }
  }
}

function pickOptions(input: RollingUpgradeInput): unknown {
  const { inventory: _i, planOnly: _p, yes: _y, requestedBy: _r, ...rest } = input;
  return rest;
}

function versionsOf(obs: ClusterObservation): Record<string, string> {
  return Object.fromEntries(obs.nodes.map((n) => [n.name, n.version]));
}

function minorString(version: string): string {
  const m = minorOf(version);
  return m ? `${m.major}.${m.minor}` : version;
}

/** The NodeFailure a child attached to its NodeUpgradeFailed, or undefined for anything else. */
function nodeFailureOf(err: unknown, node: string): NodeFailure | undefined {
  if (!(err instanceof ChildWorkflowFailure) || isCancellation(err)) return undefined;
  const cause = err.cause;
  if (cause instanceof ApplicationFailure && cause.type === NodeUpgradeFailed && cause.details?.[0]) return cause.details[0] as NodeFailure;
  // Any other child failure (a step past its deadline, a bug) is still a failed node: handle it the same way.
  const message = failedAtDeadline(err) ? `${causeMessage(err)} (a step ran out of its deadline, --step-timeout, retries included)` : causeMessage(err);
  return { node, step: 'upgradeNode', message, refreshed: true, ...(mayBeUnreachable(err) ? { mayBeUnreachable: true } : {}) };
}

const causeMessage = innermostMessage;
