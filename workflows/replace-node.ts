/**
 * `runbook replace-node`: the documented replacement of a failed node (behaviour reference §13), step by step:
 *   1. Survey: where the old node stands (answers? in Kubernetes? a dqlite member?), who can remove it, the health
 *      the cluster must get back to (voters, HA), and that the replacement answers.
 *   2. Plan and approve; going through two members (no HA until the replacement joins) is said in the plan.
 *   3. The old node out: `microk8s leave` + `remove-node` when it answers and is still clustered (a node retired
 *      alive); else `remove-node <name> --force` on a control plane, which also clears its dqlite member, so a host
 *      rebuilt at the same IP is not refused `already known to dqlite` (#2212, #3694). Verified gone from both.
 *   4. The replacement in, with the old node's role and failure domain: the form runbook as a child workflow, stale
 *      members cleaned (`--clean-stale`), control planes one at a time.
 *   5. Verify: the voters and HA back to what they were, the replacement Ready.
 * Every step is safe to rerun: a node already gone is not removed again, a node already joined is not joined again.
 */
import { executeChild, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { FailureType } from '../common/constants';
import { sameMinor } from '../common/versions';
import type { Inventory } from '../common/inventory';
import type { ReplaceNodeInput, ReplaceNodeResult } from '../common/replace-node';
import { Checklist } from './checklist';
import { form } from './form';
import { RunbookController } from './runbook-controller';
import { stepOptions } from './step-options';

export async function replaceNode(input: ReplaceNodeInput): Promise<ReplaceNodeResult> {
  const { inventory, node: old, replacement } = input;
  const inPlace = old === replacement;
  const rb = new RunbookController('replace-node', inventory.cluster, inPlace ? [old] : [old, replacement]);
  const checklist = new Checklist(rb);
  const heartbeat = input.timing?.heartbeatTimeoutMs ?? 60_000;
  const nonRetryable = ['StillDqliteMember', 'OnlyVoter', 'DrainFailed', 'RemovalNotConverged'];
  const probe = proxyActivities<Activities>(stepOptions({ startToClose: '5m', scheduleToClose: '15m', heartbeat, nonRetryable }));
  const change = proxyActivities<Activities>(stepOptions({ startToClose: '20m', scheduleToClose: '45m', heartbeat, nonRetryable, initialInterval: '2s' }));
  const notListed = (name: string) => rb.fail(FailureType.InvalidInput, `${name} is not in the inventory; name inventory entries with --node and --with`);
  const oldSpec = inventory.nodes.find((n) => n.name === old) ?? notListed(old);
  const newSpec = inventory.nodes.find((n) => n.name === replacement) ?? notListed(replacement);
  if (oldSpec.role !== newSpec.role) rb.fail(FailureType.InvalidInput, `--with ${replacement} is a ${newSpec.role}, ${old} a ${oldSpec.role}: a replacement takes the same role`);
  // The replacement takes the dead node's failure domain (§13) unless the inventory gives it one.
  const joined: Inventory = {
    ...inventory,
    nodes: inventory.nodes.filter((n) => n.name !== old || inPlace).map((n) => (n.name === replacement ? { ...n, failureDomain: n.failureDomain ?? oldSpec.failureDomain } : n)),
  };
  const cps = joined.nodes.filter((n) => n.role === 'controlplane');
  const trust = { knownHosts: inventory.knownHosts, hostKeyPolicy: inventory.hostKeyPolicy };

  // 1. Survey.
  rb.focus(old);
  const s = await checklist.step(`survey ${old} and the cluster`, () => probe.surveyRemoval.executeWithOptions({ summary: `survey ${old}` }, [{ inventory, node: old, forceLost: true }]));
  const fresh = await checklist.step(`check ${replacement}`, () => probe.checkNode.executeWithOptions({ summary: `check ${replacement} answers, MicroK8s installed` }, [{ node: newSpec, trust }]));
  const before = await checklist.step('healthBefore', () => probe.checkCluster.executeWithOptions({ summary: 'voters and HA before' }, [{ candidates: cps.filter((n) => n.name !== old), trust }]));
  // The replacement must run the cluster's minor: a join across minors fails and leaves a stale member (#3694).
  const clusterVersion = before.nodes.find((n) => n.name !== old && n.name !== replacement && n.ready === 'True')?.version;
  const wrongMinor = fresh.microk8s?.version && clusterVersion && !sameMinor(fresh.microk8s.version, clusterVersion);
  const refusals = [
    ...(wrongMinor ? [`${replacement} runs MicroK8s ${fresh.microk8s!.version} (${fresh.microk8s!.channel ?? 'no channel'}), the cluster ${clusterVersion}: install it from the cluster's channel first (sudo snap refresh microk8s --channel=<the cluster's>/stable); a join across minors fails and leaves a stale member (#3694)`] : []),
    ...s.problems,
    ...(!fresh.reachable ? [`${replacement} does not answer over SSH (${fresh.sshError ?? fresh.hostKey}); install the new machine first`] : []),
    ...(fresh.reachable && !fresh.microk8s?.installed ? [`${replacement} has no MicroK8s; install it on the cluster's channel first (a wrong channel fails the join, #3694)`] : []),
  ];
  if (refusals.length) rb.fail(FailureType.PreconditionFailed, `cannot replace ${old}; nothing was changed:\n- ${refusals.join('\n- ')}`);
  // The join runs form on the members Kubernetes knows and the replacement only: other nodes of the inventory that
  // are not in the cluster (another dead one) are not joined as a side effect.
  const members = joined.nodes.filter((n) => n.name === replacement || before.nodes.some((k) => k.name === n.name));
  const joinInventory: Inventory = { ...joined, nodes: members };
  const memberCps = members.filter((n) => n.role === 'controlplane').length;
  // MicroK8s keeps one voter below three members (§13), three from three on.
  const target = { voters: memberCps >= 3 ? 3 : 1, ha: memberCps >= 3 };
  // Rebuilt in place and already clustered again (a rerun after the replacement): nothing to remove.
  const rejoined = inPlace && s.reachable && s.clustered;
  const graceful = !inPlace && s.reachable && s.clustered;
  const removal: ReplaceNodeResult['removal'] = s.gone || rejoined ? 'already-gone' : graceful ? 'leave' : 'force';
  const plan = [
    removal === 'already-gone'
      ? `${old}: ${rejoined ? 'already rebuilt and clustered again' : 'already gone from Kubernetes and dqlite'}, nothing to remove`
      : graceful
        ? `${old} answers and is clustered: drain it, microk8s leave on it, microk8s remove-node ${old} on ${s.remover}, then verify it is gone`
        : `${old}${s.reachable ? ' (rebuilt: it answers, but as a fresh machine)' : ' does not answer'}: microk8s remove-node ${old} --force on ${s.remover} (its Node object and its dqlite member), then verify it is gone`,
    ...(s.guard ? [`while it is out: ${s.guard}`] : []),
    `${replacement}: join as ${newSpec.role === 'controlplane' ? 'a control plane' : 'a worker'}${newSpec.role === 'controlplane' && (newSpec.failureDomain ?? oldSpec.failureDomain) !== undefined ? ` in failure domain ${newSpec.failureDomain ?? oldSpec.failureDomain}` : ''} (runbook form, stale dqlite members cleaned)`,
    `verify: ${replacement} Ready, ${target.voters} dqlite voter(s)${target.ha ? ', high availability back' : ''} (before: ${before.voters.length} voter(s), HA ${before.ha ? 'yes' : 'no'})`,
    ...(memberCps < 3 && newSpec.role === 'controlplane' ? [`note: ${memberCps} control plane(s) after this: no high availability until a third joins`] : []),
  ];
  const result = (extra: Partial<ReplaceNodeResult> = {}): ReplaceNodeResult => ({ plan, node: old, replacement, removal, joined: [], voters: before.voters.length, ha: before.ha, notes: rb.snapshot.notes, ...extra });
  if (input.planOnly) {
    await rb.approvePlan(plan, true, 'plan only');
    rb.step('plan only');
    return result();
  }
  await rb.approvePlan(plan, input.yes, `replace ${old} with ${replacement} in ${inventory.cluster}`);

  // 2. The old node out.
  if (removal !== 'already-gone') {
    rb.node(old, 'stopping', graceful ? 'leave' : 'remove-node --force');
    if (graceful) {
      if (s.inKubernetes) await checklist.step(`drainNode ${old}`, () => change.drainDepartingNode.executeWithOptions({ summary: `drain ${old}` }, [{ inventory, remover: s.remover, node: old }]));
      await checklist.step(`leaveCluster ${old}`, () => change.leaveCluster.executeWithOptions({ summary: `microk8s leave on ${old}` }, [{ inventory, node: old }]));
    }
    await checklist.step(`removeNode ${old}${graceful ? '' : ' --force'}`, () =>
      change.removeNodeFromCluster.executeWithOptions({ summary: `remove-node ${old}${graceful ? '' : ' --force'} on ${s.remover}` }, [{ inventory, remover: s.remover, node: old, force: !graceful }]),
    );
    await checklist.step(`verify ${old} is gone`, () =>
      change.waitNodeRemoved.executeWithOptions({ summary: `wait until ${old} is gone from Kubernetes and dqlite` }, [
        { inventory, remover: s.remover, node: old, options: { pollMs: input.timing?.pollMs ?? 3_000, settleTimeoutMs: input.timing?.settleTimeoutMs ?? 5 * 60_000 } },
      ]),
    );
  }
  rb.node(old, 'removed', inPlace ? 'its old membership removed' : 'out of the cluster');

  // 3. The replacement in.
  rb.focus(replacement);
  rb.node(replacement, 'joining', newSpec.role);
  const formed = await checklist.step(`join ${replacement}`, () =>
    executeChild(form, {
      workflowId: `${workflowInfo().workflowId}.join-${replacement}`,
      staticSummary: `join ${replacement} in place of ${old}`,
      parentClosePolicy: 'REQUEST_CANCEL',
      args: [{ inventory: joinInventory, requestedBy: input.requestedBy, yes: true, cleanStale: true, ...(input.timing ? { timing: input.timing } : {}) }],
    }),
  );

  // 4. Verify.
  const after = await checklist.step('healthAfter', () => probe.checkCluster.executeWithOptions({ summary: 'voters and HA after' }, [{ candidates: members.filter((n) => n.role === 'controlplane'), trust }]));
  const problems = [
    ...(after.ready.includes(replacement) ? [] : [`${replacement} is not Ready`]),
    ...(after.voters.length < target.voters ? [`${after.voters.length} dqlite voter(s), ${target.voters} expected`] : []),
    ...(target.ha && !after.ha ? ['high availability is not back'] : []),
  ];
  if (problems.length) rb.fail(FailureType.JoinNotConverged, `${replacement} joined, but: ${problems.join('; ')}`);
  rb.node(replacement, 'done', `${after.voters.length} voter(s), HA ${after.ha ? 'yes' : 'no'}`);
  rb.focus(null);
  rb.step('done');
  return result({ joined: formed.joined, voters: after.voters.length, ha: after.ha });
}
