/**
 * The HA rolling upgrade (issue 5), read as the manual procedure in ../shared/microk8s-behaviour.md:
 *   0. Observe the cluster and plan from live state: one minor at a time, control planes first (leader last),
 *      workers in batches; approve the plan.
 *   1. Back up the dqlite datastore first.
 *   2. Hold snap auto-refresh on every node (undone at the end, on failure and on cancel: the checklist's stack).
 *   3. Control planes one at a time, then workers in batches; each node as a child workflow
 *      (workflows/upgrade-node.ts): drain, refresh, wait Ready, verify, uncordon.
 *   4. On failure (workflows/upgrade-failure.ts): roll that node back and verify it; with --rollback all also the
 *      nodes this pass upgraded, newest first; then stop, or pause for an operator decision (retry, rollback, abort).
 *   5. Release the holds; read the versions the nodes ended on.
 */
import { CancellationScope, isCancellation, patched, upsertMemo } from '@temporalio/workflow';
import { BAD_REQUEST_TYPE, UPGRADE_REQUEST_CHECK_PATCH } from '../common/constants';
import { type ClusterObservation, UpgradeOptions } from '../common/upgrade';
import type { RollingUpgradeInput, RollingUpgradeResult } from '../common/upgrade-reports';
import { RunbookController } from './runbook-controller';
import { attempt, recover, reportAfterCancel } from './upgrade-failure';
import { type Hop, type NodeStep, planHop, planUpgrade, type UpgradePlan } from './upgrade-plan';
import { upgradeActivities, UpgradeRun } from './upgrade-run';

export { rollbackNode, upgradeNode } from './upgrade-node';

export async function rollingUpgrade(input: RollingUpgradeInput): Promise<RollingUpgradeResult> {
  const { inventory } = input;
  const rb: RunbookController = new RunbookController('upgrade', inventory.cluster, inventory.nodes.map((n) => n.name));
  const opts = upgradeOptions(input, rb);
  const { act, reach } = upgradeActivities(opts);

  // 0. Observe the cluster and plan from live state.
  rb.step('observeCluster');
  const observed: ClusterObservation = await act.observeUpgradeState.executeWithOptions(
    { summary: 'read versions, revisions, channels, readiness and dqlite roles' },
    [{ inventory }],
  );
  const checkRequest = patched(UPGRADE_REQUEST_CHECK_PATCH);
  const plan: UpgradePlan = planUpgrade(observed, checkRequest ? { ...opts, yes: input.yes } : opts, { checkRequest });
  const planned = { plan: plan.lines, versions: versionsOf(observed), compensations: [] };
  if (plan.refusals.length) {
    rb.step('refused');
    await rb.approvePlan(plan.lines, true, 'refused');
    if (input.planOnly) return { outcome: 'refused', ...planned };
    if (plan.badRequest.length) rb.fail(BAD_REQUEST_TYPE, `nothing was changed: ${plan.badRequest.join('; ')}`);
    rb.fail('PreconditionFailed', `the cluster is not healthy enough to upgrade: ${plan.refusals.join('; ')}`);
  }
  if (input.planOnly) {
    rb.step('planned');
    await rb.approvePlan(plan.lines, true, 'plan only');
    return { outcome: 'planned', ...planned };
  }
  if (plan.hops.length === 0) {
    await rb.approvePlan(plan.lines, true, 'nothing to do');
    rb.step('nothing to do');
    for (const n of observed.nodes) rb.node(n.name, 'skipped', `${n.version} (${n.tracking})`);
    return { outcome: 'nothing-to-do', ...planned };
  }
  await rb.approvePlan(plan.lines, input.yes, `upgrade ${inventory.cluster} to ${plan.target}`);

  const run = new UpgradeRun(rb, inventory, opts, plan, observed, act, reach);
  const { checklist } = run;
  // 1. Back up first: a tarball of the dqlite backend on a voter, copied off the node, sha256 recorded.
  const backup = await checklist.step('backupDatastore', () => run.backupDatastore());
  try {
    // 2. Hold auto-refresh on every node for the duration (undone first thing on any way out).
    await checklist.step('holdRefreshes', () => run.holdRefreshes(), { undo: () => run.releaseHolds() });
    for (const [i, planned] of plan.hops.entries()) {
      const hop = i === 0 ? planned : await observeBeforePass(run, planned, i === plan.hops.length - 1);
      run.startPass();
      // 3. Control planes one at a time, then workers in batches.
      await checklist.step(`${hop.kind === 'patch' ? 'patch pass' : `hop ${hop.label}`}: control planes first, one at a time`, async () => {
        for (const s of hop.skipped) rb.note(`${hop.label}: skipped ${s}`);
        for (const cp of hop.controlPlanes) await upgradeBatch(run, i, [cp]);
      });
      await checklist.step(`${hop.label}: workers in batches of ${opts.workerBatch}`, async () => {
        for (const batch of hop.workerBatches) await upgradeBatch(run, i, batch);
      });
    }
    // 5. Release the holds.
    await checklist.undo();
  } catch (err) {
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(async () => {
        rb.step('cancelled: compensating');
        await reportAfterCancel(run);
        await checklist.undo();
        upsertMemo({ compensations: run.compensations }); // a cancelled run has no failure details: keep the record in history
      });
    } else {
      await CancellationScope.nonCancellable(() => checklist.undo());
    }
    throw err;
  }

  rb.step('done');
  rb.focus(null);
  const after = await act.observeUpgradeState.executeWithOptions({ summary: 'read the cluster after the upgrade' }, [{ inventory }]);
  return {
    outcome: 'upgraded',
    plan: plan.lines,
    backup: { id: backup.id, node: backup.node, path: backup.path, sha256: backup.sha256, size: backup.size },
    versions: versionsOf(after),
    compensations: run.compensations,
  };
}

/** The options the runbook was started with, validated again here: a bad one fails the run before anything. */
function upgradeOptions(input: RollingUpgradeInput, rb: RunbookController): UpgradeOptions {
  const parsed = UpgradeOptions.safeParse(pickOptions(input));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    rb.fail('InvalidInput', `${issue.path.join('.') || 'input'}: ${issue.message}`);
  }
  return parsed.data;
}

/** Live state again before a later pass: the leader may have moved, and the plan's next pass starts from here. */
async function observeBeforePass(run: UpgradeRun, planned: Hop, lastHop: boolean): Promise<Hop> {
  run.rb.step(`observeCluster before ${planned.label}`);
  run.obs = await run.act.observeUpgradeState.executeWithOptions({ summary: `read the cluster before ${planned.label}` }, [{ inventory: run.inventory }]);
  return planned.kind === 'minor' ? planHop(run.obs.nodes, planned.label, run.opts.workerBatch, { lastHop }) : planned;
}

/** One batch (a control plane alone, or up to --worker-batch workers) in parallel; failures handled after. */
async function upgradeBatch(run: UpgradeRun, hopIndex: number, steps: NodeStep[]): Promise<void> {
  const { rb } = run;
  await rb.checkpoint();
  if (run.opts.approve === 'each') {
    const go = await run.approval(`upgrade ${steps.map((s) => s.node).join(', ')} to ${steps[0].channel}`);
    if (go === 'rejected') {
      await CancellationScope.nonCancellable(() => run.checklist.undo());
      rb.fail('UpgradeRejected', `upgrade of ${steps.map((s) => s.node).join(', ')} rejected; stopped before touching it (${run.upgradedAll.length} node(s) upgraded so far)`);
    }
  }
  rb.focus(steps.length === 1 ? steps[0].node : null);
  const results = await Promise.allSettled(steps.map((s) => attempt(run, hopIndex, s)));
  for (const r of results) if (r.status === 'rejected') throw r.reason; // cancellation, or a bug
  const values = results.map((r) => (r as PromiseFulfilledResult<Awaited<ReturnType<typeof attempt>>>).value);
  // Record every success first, so a `--rollback all` triggered by a sibling's failure reverts them too.
  for (const v of values) if ('ok' in v) run.done(v.ok);
  for (const [i, v] of values.entries()) if ('failure' in v) run.done(await recover(run, hopIndex, steps[i], v.failure));
}

function pickOptions(input: RollingUpgradeInput): unknown {
  const { inventory: _i, planOnly: _p, yes: _y, requestedBy: _r, ...rest } = input;
  return rest;
}

function versionsOf(obs: ClusterObservation): Record<string, string> {
  return Object.fromEntries(obs.nodes.map((n) => [n.name, n.version]));
}
