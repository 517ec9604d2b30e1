/**
 * `runbook refresh-policy`: snap auto-refresh across the cluster (behaviour reference §14). snapd refreshes microk8s
 * on its own four times a day, nodes independently; an HA cluster wants that held, and upgrades run by hand.
 *   1. Read every node: tracked channel, version, microk8s's hold, a system-wide hold, the timer and next refresh.
 *   2. --status: report, with the drift between nodes. --hold / --unhold: the nodes to change, as the plan.
 *   3. Hold (`snap refresh --hold microk8s`) or release (`--unhold`) node by node, then read again and verify.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { autoRefreshHeld, type NodeRefreshPolicy, refreshDrift, type RefreshPolicyInput, type RefreshPolicyResult } from '../common/refresh-policy';
import { FailureType } from '../common/constants';
import { Checklist } from './checklist';
import { RunbookController } from './runbook-controller';
import { stepOptions } from './step-options';

const snap = proxyActivities<Activities>(stepOptions({ startToClose: '2m', scheduleToClose: '10m', heartbeat: '60s' }));

export async function refreshPolicy(input: RefreshPolicyInput): Promise<RefreshPolicyResult> {
  const { inventory, action } = input;
  const names = inventory.nodes.map((n) => n.name);
  const rb = new RunbookController('refresh-policy', inventory.cluster, names);
  const checklist = new Checklist(rb);
  const readAll = () =>
    Promise.all(names.map((node) => snap.readRefreshPolicy.executeWithOptions({ summary: `read ${node}'s snap refresh policy` }, [{ inventory, node }])));

  let nodes = await checklist.step('readRefreshPolicy', readAll);
  for (const n of nodes) rb.node(n.node, 'done', describeNode(n));
  const result = (plan: string[], changed: string[] = []): RefreshPolicyResult => ({ action, plan, nodes, changed, drift: refreshDrift(nodes) });
  if (action === 'status') {
    for (const d of refreshDrift(nodes)) rb.note(d);
    rb.step('done');
    return result([]);
  }

  const hold = action === 'hold';
  const todo = nodes.filter((n) => (hold ? n.hold !== 'forever' : !!n.hold));
  const plan = todo.length
    ? todo.map((n) =>
        hold
          ? `hold auto-refresh of microk8s on ${n.node} indefinitely (snap refresh --hold microk8s)${n.hold ? `; its hold now ends ${n.hold}` : ''}`
          : `release the auto-refresh hold of microk8s on ${n.node} (snap refresh --unhold microk8s; held ${n.hold})`,
      )
    : [`nothing to do: microk8s's auto-refresh is ${hold ? 'already held' : 'not held'} on every node`];
  if (input.planOnly) {
    await rb.approvePlan(plan, true, 'plan only');
    rb.step('plan only');
    return result(plan);
  }
  await rb.approvePlan(plan, input.yes || todo.length === 0, `${hold ? 'hold' : 'release'} snap auto-refresh on ${inventory.cluster}`);

  const changed: string[] = [];
  for (const n of todo) {
    await checklist.step(`${hold ? 'holdRefresh' : 'releaseRefreshHold'} ${n.node}`, async () => {
      rb.node(n.node, 'checking', hold ? 'holding' : 'releasing');
      const r = await snap.setRefreshHold.executeWithOptions({ summary: `${hold ? 'hold' : 'release'} auto-refresh on ${n.node}` }, [{ inventory, node: n.node, hold }]);
      if (r.changed) changed.push(n.node);
    });
  }

  nodes = await checklist.step('verifyRefreshPolicy', readAll);
  for (const n of nodes) rb.node(n.node, (hold ? n.hold === 'forever' : !n.hold) ? 'done' : 'failed', describeNode(n));
  const wrong = nodes.filter((n) => (hold ? n.hold !== 'forever' : !!n.hold));
  if (wrong.length) rb.fail(FailureType.RefreshPolicyNotApplied, `auto-refresh is still ${hold ? 'not held' : 'held'} on ${wrong.map((n) => n.node).join(', ')} after ${hold ? '--hold' : '--unhold'}; run it again or check snapd there (snap changes)`);
  // `--unhold microk8s` leaves a system-wide hold in place: say so, it still stops auto-refresh.
  if (!hold) for (const n of nodes.filter(autoRefreshHeld)) rb.note(`${n.node}: a system-wide hold (${n.systemHold}) still holds every snap; \`sudo snap refresh --unhold\` (no name) releases it`);
  for (const d of refreshDrift(nodes)) rb.note(d);
  rb.step('done');
  return result(plan, changed);
}

function describeNode(n: NodeRefreshPolicy): string {
  const held = n.hold ? `held ${n.hold}` : n.systemHold ? `system-wide hold ${n.systemHold}` : 'not held';
  return `${n.version} (${n.tracking ?? 'no channel'}), ${held}`;
}
