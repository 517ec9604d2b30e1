/**
 * `runbook remove-node`: take one node out of a cluster the documented way (behaviour reference, "Remove a node"):
 * drain it, `microk8s leave` on it, `microk8s remove-node` on a remaining control-plane node, and verify it is gone
 * from Kubernetes and dqlite. A lost node is removed with `remove-node --force`. Removals that would break quorum
 * or end high availability wait for an explicit approval.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { RemovalSurvey } from '../activities/remove-node';
import { RunbookController } from './runbook-controller';
import { stepOptions } from './step-options';
import type { RemoveNodeInput, RemoveNodeResult } from '../common/remove-node';

export async function removeNode(input: RemoveNodeInput): Promise<RemoveNodeResult> {
  const { inventory, node } = input;
  const rb = new RunbookController('remove-node', inventory.cluster, [node]);
  const pollMs = input.timing?.pollMs ?? 3_000;
  const settleTimeoutMs = input.timing?.settleTimeoutMs ?? 5 * 60_000;
  const nonRetryable = ['StillDqliteMember', 'OnlyVoter', 'DrainFailed', 'RemovalNotConverged'];
  const heartbeat = input.timing?.heartbeatTimeoutMs ?? 60_000;
  // No attempt cap (a lost worker is retried however often); a deadline per step; real failures end it at once.
  const probe = proxyActivities<Activities>(stepOptions({ startToClose: '5m', scheduleToClose: '15m', heartbeat, nonRetryable }));
  const change = proxyActivities<Activities>(
    stepOptions({ startToClose: '20m', scheduleToClose: '45m', heartbeat, nonRetryable, initialInterval: '2s' }),
  );
  const forceLost = input.forceLost ?? false;

  rb.step(`survey ${node} and the cluster`);
  rb.focus(node);
  const s: RemovalSurvey = await probe.surveyRemoval.executeWithOptions(
    { summary: `survey removal of ${node}` },
    [{ inventory, node, forceLost }],
  );
  const result = (changed: boolean, extra: Partial<RemoveNodeResult> = {}): RemoveNodeResult => ({
    plan: s.lines,
    changed,
    node,
    remover: s.remover,
    notes: rb.snapshot.notes,
    ...extra,
  });
  if (s.problems.length > 0) {
    rb.fail('PreflightFailed', `cannot remove ${node}; nothing was changed:\n- ${s.problems.join('\n- ')}`);
  }
  if (input.planOnly) return result(false);
  if (s.gone) {
    rb.node(node, 'removed', 'already gone');
    rb.note(`${node} is in neither Kubernetes nor dqlite: nothing to change`);
    return result(false);
  }
  await rb.approvePlan(s.lines, input.yes, `remove ${node} from ${inventory.cluster}`);
  if (s.guard) {
    rb.step(`quorum guard: waiting for approval to remove ${node}`);
    const outcome = await rb.requestApproval(`${s.guard}. Approve to remove ${node} anyway`);
    if (outcome !== 'approved') rb.fail('QuorumGuard', `refused to remove ${node}: ${s.guard}`);
    rb.note(`removal of ${node} approved despite: ${s.guard}`);
  }

  if (forceLost) {
    rb.step(`removeNode ${node} --force`);
    rb.node(node, 'stopping', 'remove-node --force (lost)');
    await change.removeNodeFromCluster.executeWithOptions(
      { summary: `remove lost node ${node} on ${s.remover} (--force)` },
      [{ inventory, remover: s.remover, node, force: true }],
    );
  } else {
    if (s.inKubernetes) {
      rb.step(`drainNode ${node}`);
      rb.node(node, 'draining');
      await change.drainDepartingNode.executeWithOptions({ summary: `drain ${node}` }, [{ inventory, remover: s.remover, node }]);
    }
    await rb.checkpoint();
    rb.step(`leaveCluster ${node}`);
    rb.node(node, 'stopping', 'microk8s leave');
    await change.leaveCluster.executeWithOptions({ summary: `leave: microk8s leave on ${node}` }, [{ inventory, node }]);
    await rb.checkpoint();
    rb.step(`removeNode ${node}`);
    await change.removeNodeFromCluster.executeWithOptions(
      { summary: `remove-node ${node} on ${s.remover}` },
      [{ inventory, remover: s.remover, node, force: false }],
    );
  }
  rb.step(`verify ${node} is gone`);
  rb.node(node, 'verifying', 'gone from kubectl and dqlite?');
  const gone = await change.waitNodeRemoved.executeWithOptions(
    { summary: `wait until ${node} is gone from Kubernetes and dqlite` },
    [{ inventory, remover: s.remover, node, options: { pollMs, settleTimeoutMs } }],
  );
  rb.node(node, 'removed');
  rb.focus(null);
  const members = gone.detail?.members ?? 0;
  const voters = gone.detail?.voters ?? 0;
  rb.note(`${node} removed: ${members} dqlite member(s) left, ${voters} voter(s), high-availability: ${voters > 2 ? 'yes' : 'no'}`);
  if (members === 2) rb.note('two control-plane nodes give no high availability: add a third');
  return result(true, { members, voters });
}
