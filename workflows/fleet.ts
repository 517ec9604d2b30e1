/**
 * `runbook fleet upgrade|check|backup`: one runbook over many clusters, as an SRE would roll it out by hand.
 *   1. Plan: the canary (the fleet file's first cluster), then the rest at most `maxParallel` at a time; stop
 *      starting clusters after `stopAfterFailures` failures. Approve.
 *   2. The canary alone: its own runbook (upgrade, check or backup) as a child under the cluster's lock ID.
 *   3. The others, a new one whenever one ends, until none is left or too many failed. A cluster another runbook
 *      holds is reported busy and skipped (it does not count as a failure); a pause holds new starts.
 *   4. The table: each cluster's outcome and one line about it.
 * A cluster's runbook is the same workflow `runbook upgrade` starts, so `runbook status runbook-<cluster>` and the UI
 * show it; cancelling the fleet cancels the running ones, which clean up as they do on their own.
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { CancellationScope, executeChild, isCancellation } from '@temporalio/workflow';
import { clusterWorkflowId, FailureType } from '../common/constants';
import { innermostMessage } from '../common/failures';
import { describeClusterResult, FLEET_RUNBOOKS, type FleetClusterResult, type FleetInput, type FleetResult } from '../common/fleet';
import type { Inventory } from '../common/inventory';
import { RunbookController } from './runbook-controller';

export async function fleetRun(input: FleetInput): Promise<FleetResult> {
  const names = input.clusters.map((c) => c.cluster);
  const rb = new RunbookController('fleet', input.fleet, names);
  const stopAfter = input.stopAfterFailures ?? Infinity;
  const [canary, ...rest] = input.clusters;
  if (!canary) rb.fail(FailureType.InvalidInput, 'the fleet has no cluster');

  // 1. Plan.
  const plan = [
    `${input.kind} on ${names.length} cluster(s) of fleet ${input.fleet}, each with its own runbook under its own lock (runbook-<cluster>); a cluster another runbook holds is skipped`,
    `canary: ${canary.cluster} alone first`,
    ...(rest.length ? [`then ${rest.map((c) => c.cluster).join(', ')}: at most ${input.maxParallel} at a time`] : []),
    Number.isFinite(stopAfter) ? `no new cluster starts after ${stopAfter} failure(s); running ones finish` : 'every cluster runs, whatever fails',
    ...(input.kind === 'upgrade' && input.upgrade ? [`each cluster: rolling upgrade to ${input.upgrade.to}, planned from its own live state, without asking again`] : []),
  ];
  const results: FleetClusterResult[] = input.clusters.map((c) => ({ cluster: c.cluster, outcome: 'not-started', workflowId: clusterWorkflowId(c.cluster), detail: 'not started' }));
  const result = (stoppedEarly: boolean): FleetResult => ({ fleet: input.fleet, kind: input.kind, plan, clusters: results, stoppedEarly });
  if (input.planOnly) {
    await rb.approvePlan(plan, true, 'plan only');
    rb.step('plan only');
    return result(false);
  }
  await rb.approvePlan(plan, input.yes, `${input.kind} fleet ${input.fleet} (${names.length} clusters)`);

  let failures = 0;
  const running = new Map<string, Promise<void>>();
  const start = (inv: Inventory) => {
    const one = runCluster(inv).finally(() => running.delete(inv.cluster));
    running.set(inv.cluster, one);
  };
  try {
    // 2. The canary alone.
    rb.step(`canary ${canary.cluster}`);
    await runCluster(canary);
    // 3. The others.
    const queue = [...rest];
    while (queue.length && failures < stopAfter) {
      await rb.checkpoint();
      while (queue.length && running.size < input.maxParallel && failures < stopAfter) start(queue.shift()!);
      rb.step(`running: ${[...running.keys()].join(', ')}`);
      await Promise.race(running.values());
    }
    await Promise.all(running.values());
  } catch (err) {
    if (!isCancellation(err)) throw err;
    // The children got the cancel too (they clean up as they would alone): wait for them to say how they ended.
    await Promise.allSettled(running.values());
    throw err;
  }

  // 4. The table.
  const stoppedEarly = results.some((r) => r.outcome === 'not-started');
  for (const r of results.filter((x) => x.outcome === 'not-started')) {
    r.detail = `not started: ${failures} failure(s) reached --stop-after-failures ${stopAfter}`;
    rb.node(r.cluster, 'skipped', r.detail);
  }
  // Failed clusters do not fail the fleet run: its table is the result (the CLI exits 1 unless every one succeeded).
  const count = (o: string) => results.filter((r) => r.outcome === o).length;
  rb.step(`done: ${count('succeeded')} succeeded, ${failures} failed, ${count('busy')} busy, ${count('not-started')} not started`);
  return result(stoppedEarly);

  async function runCluster(inv: Inventory): Promise<void> {
    const r = results.find((x) => x.cluster === inv.cluster)!;
    r.startedAt = new Date().toISOString();
    rb.node(inv.cluster, 'running', r.workflowId);
    try {
      const out = await executeChild(FLEET_RUNBOOKS[input.kind], {
        workflowId: r.workflowId,
        args: [{ ...(input.kind === 'upgrade' ? input.upgrade : input.kind === 'backup' && input.keep ? { keep: input.keep } : {}), inventory: inv, yes: true, planOnly: false, requestedBy: input.requestedBy }],
        staticSummary: `${input.kind} on ${inv.cluster}, part of fleet ${input.fleet}`,
        parentClosePolicy: 'REQUEST_CANCEL',
      });
      const d = describeClusterResult(input.kind, out);
      Object.assign(r, { outcome: d.ok ? 'succeeded' : 'failed', detail: d.detail });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        Object.assign(r, { outcome: 'busy', detail: `another runbook holds cluster ${inv.cluster} (${r.workflowId} is running); skipped` });
      } else if (isCancellation(err)) {
        const withFleet = CancellationScope.current().consideredCancelled;
        Object.assign(r, { outcome: 'cancelled', detail: withFleet ? 'cancelled with the fleet' : `${r.workflowId} was cancelled` });
        if (withFleet) {
          r.endedAt = new Date().toISOString();
          rb.node(inv.cluster, 'cancelled', r.detail);
          throw err;
        }
      } else {
        Object.assign(r, { outcome: 'failed', detail: innermostMessage(err) });
      }
    }
    r.endedAt = new Date().toISOString();
    if (r.outcome === 'failed') failures++;
    rb.node(inv.cluster, r.outcome === 'succeeded' ? 'done' : r.outcome === 'busy' ? 'busy' : r.outcome === 'cancelled' ? 'cancelled' : 'failed', r.detail);
  }
}
