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
import { failedUnreachable, heartbeatMs, mayBeUnreachable, stepOptions } from './step-options';
import { innermostMessage } from '../common/failures';

export async function refreshPolicy(input: RefreshPolicyInput): Promise<RefreshPolicyResult> {
  const { inventory, action } = input;
  const heartbeat = heartbeatMs(input.heartbeatTimeoutSeconds);
  const snap = proxyActivities<Activities>(stepOptions({ startToClose: '2m', scheduleToClose: '10m', heartbeat }));
  // A hold is one quick snap command: a node that stops answering is reported after this, not retried for ten minutes.
  const stepTimeout = Math.min(Math.max(input.stepTimeoutSeconds ?? 180, 10), 3600) * 1000;
  const set = proxyActivities<Activities>(stepOptions({ startToClose: '2m', scheduleToClose: stepTimeout, heartbeat }));
  const names = inventory.nodes.map((n) => n.name);
  const rb = new RunbookController('refresh-policy', inventory.cluster, names);
  const checklist = new Checklist(rb);
  const readAll = () =>
    Promise.all(names.map((node) => snap.readRefreshPolicy.executeWithOptions({ summary: `read ${node}'s snap refresh policy` }, [{ inventory, node }])));

  let nodes = await checklist.step('readRefreshPolicy', readAll);
  for (const n of nodes) rb.node(n.node, n.unreachable ? 'failed' : 'done', describeNode(n));
  const result = (plan: string[], changed: string[] = []): RefreshPolicyResult => ({ action, plan, nodes, changed, drift: refreshDrift(nodes) });
  if (action === 'status') {
    for (const d of refreshDrift(nodes)) rb.note(d);
    rb.step('done');
    return result([]);
  }

  const hold = action === 'hold';
  // Every node or none: a node that does not answer cannot be changed, and the cluster would be left half-held.
  rb.refuseSilentNodes(nodes, ` (${hold ? '--hold' : '--unhold'} changes every node or none)`);
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

  const done: string[] = [];
  for (const n of todo) {
    await checklist.step(`${hold ? 'holdRefresh' : 'releaseRefreshHold'} ${n.node}`, async () => {
      rb.node(n.node, 'checking', hold ? 'holding' : 'releasing');
      try {
        await set.setRefreshHold.executeWithOptions({ summary: `${hold ? 'hold' : 'release'} auto-refresh on ${n.node}` }, [{ inventory, node: n.node, hold }]);
      } catch (err) {
        if (!mayBeUnreachable(err)) throw err;
        // A node lost in the middle: say which nodes are done and which are not; a rerun skips the done ones.
        const why = failedUnreachable(err) ? `stopped answering over SSH (${innermostMessage(err).split('\n')[0]})` : `did not finish within ${stepTimeout / 1000}s, retries included`;
        rb.node(n.node, 'failed', why);
        const left = todo.map((t) => t.node).filter((x) => !done.includes(x));
        rb.fail(
          FailureType.RefreshPolicyNotApplied,
          `${n.node} ${why}; ${hold ? 'held' : 'released'} so far: ${done.join(', ') || 'none'}; not yet: ${left.join(', ')}. ` +
            `Run it again when ${n.node} answers: the nodes already ${hold ? 'held' : 'released'} are skipped`,
        );
      }
      done.push(n.node);
    });
  }

  nodes = await checklist.step('verifyRefreshPolicy', readAll);
  const applied = (n: NodeRefreshPolicy) => !n.unreachable && (hold ? n.hold === 'forever' : !n.hold);
  for (const n of nodes) rb.node(n.node, applied(n) ? 'done' : 'failed', describeNode(n));
  const wrong = nodes.filter((n) => !applied(n));
  if (wrong.length) {
    rb.fail(
      FailureType.RefreshPolicyNotApplied,
      `auto-refresh is still ${hold ? 'not held' : 'held'} on ${wrong.map((n) => (n.unreachable ? `${n.node} (does not answer: ${n.unreachable})` : n.node)).join(', ')} after ${hold ? '--hold' : '--unhold'}; run it again or check snapd there (snap changes)`,
    );
  }
  // The nodes the plan saw otherwise and that are as asked now: this run's doing, also when a worker crash made a
  // retried step find its node already done (setRefreshHold's own `changed` says false then).
  const changed = todo.map((t) => t.node).filter((name) => nodes.some((n) => n.node === name && applied(n)));
  // `--unhold microk8s` leaves a system-wide hold in place: say so, it still stops auto-refresh.
  if (!hold) for (const n of nodes.filter(autoRefreshHeld)) rb.note(`${n.node}: a system-wide hold (${n.systemHold}) still holds every snap; \`sudo snap refresh --unhold\` (no name) releases it`);
  for (const d of refreshDrift(nodes)) rb.note(d);
  rb.step('done');
  return result(plan, changed);
}

function describeNode(n: NodeRefreshPolicy): string {
  if (n.unreachable) return `does not answer: ${n.unreachable}`;
  const held = n.hold ? `held ${n.hold}` : n.systemHold ? `system-wide hold ${n.systemHold}` : 'not held';
  return `${n.version} (${n.tracking ?? 'no channel'}), ${held}`;
}
