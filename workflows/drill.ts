/**
 * `runbook drill`: prove that a backup restores. Its dqlite data is restored into a fresh lab of the cluster's shape
 * (the same control planes and workers, the MicroK8s channel the backup was taken on), made the lab's own with the
 * documented quorum-recovery reconfigure, and the lab must then serve it: a dqlite leader, an API that answers, and
 * the Node objects the cluster had. A backup that does not is broken: the run fails naming the backup and what is
 * missing. The lab is removed on every way out, failure and cancel included. No node of the cluster is touched, so
 * the drill does not take the cluster's lock (common/drill.ts, drillWorkflowId).
 */
import { ActivityCancellationType, ActivityFailure, ApplicationFailure, CancellationScope, isCancellation, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { FailureType } from '../common/constants';
import { innermostMessage } from '../common/failures';
import { type DrillBackup, type DrillInput, type DrillLab, type DrillResult, type DrillTopology, type ServeVerdict, LAB_MAX_NODES, drillLabName, drillTopology } from '../common/drill';
import { invalidInput, local } from './backup-steps';
import { RunbookController } from './runbook-controller';
import { stepOptions } from './step-options';

/** Making and removing the lab: work on the worker's own machine, retried after a lost worker until the deadline. */
const labOps = proxyActivities<Activities>(stepOptions({ startToClose: '15 minutes', scheduleToClose: '30 minutes', heartbeat: '1 minute' }));

/**
 * The restore on the lab's nodes, with restore-backup's and recover-quorum's activities: a real failure ends it. On a
 * cancel the step in flight is waited for (its remote command killed) before the lab is removed under it.
 */
const restoreOps = proxyActivities<Activities>({
  ...stepOptions({
    startToClose: '20 minutes',
    scheduleToClose: '40 minutes',
    heartbeat: '30 seconds',
    nonRetryable: ['BackupCorrupt', 'RestoreUnverified', 'ReconfigureFailed', 'ChecksumMismatch', 'InfoYamlMismatch', 'TemplateChanged', 'QuorumNotRestored'],
  }),
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});

/** How long the restored lab may take to elect a leader and answer (the lab runs the fast profile). */
const SERVE_TIMEOUT_MS = 180_000;

function drillIdOf(): string {
  const info = workflowInfo();
  return `drill-${info.runStartTime.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${info.runId.slice(0, 8)}`;
}

/** Restore a backup into a fresh lab and prove it serves; the lab is removed whatever happens. */
export async function restoreDrill(input: DrillInput): Promise<DrillResult> {
  const { inventory } = input;
  const cluster = inventory.cluster;
  const rb = new RunbookController('drill', cluster, []);
  if (!inventory.nodes.some((n) => n.role === 'controlplane')) invalidInput(`${cluster}: the inventory has no control-plane node, and a drill copies the control planes`);

  rb.step('findBackup');
  const backup = await local.findBackup.executeWithOptions({ summary: `find backup ${input.backup} of ${cluster}, check its sha256` }, [{ cluster, backup: input.backup }]);
  const channel = input.channel ?? backup.channel;
  if (!channel) invalidInput(`--channel: backup ${backup.id} does not record the MicroK8s channel it was taken on (taken before drills); name it, e.g. --channel 1.28/stable`);
  const topology = drillTopology(inventory, channel);
  const expected: DrillResult['expected'] = backup.kubernetesNodes?.length
    ? { nodes: backup.kubernetesNodes, from: 'backup' }
    : { nodes: inventory.nodes.map((n) => n.name).sort(), from: 'inventory' };
  const owner = workflowInfo().workflowId;
  const labName = drillLabName(owner);
  const result: DrillResult = { plan: planLines(cluster, backup, topology, expected, labName), outcome: 'planned', backup, topology, expected };
  if (input.planOnly) {
    rb.step('plan only');
    return result;
  }
  if (!backup.intact) return broken('its tarball no longer matches the sha256 recorded when it was taken (truncated or changed since): there is nothing to restore');
  await rb.approvePlan(result.plan, input.yes, `restore drill of backup ${backup.id}`);

  let outcome: { verdict: ServeVerdict } | { failure: string } | undefined;
  try {
    rb.step('makeDrillLab');
    const lab = await labOps.makeDrillLab.executeWithOptions({ summary: `make lab ${labName}: ${topology.controlPlanes} control plane(s), ${topology.workers} worker(s), ${channel}` }, [
      { name: labName, owner, topology },
    ]);
    if (lab.replaced) rb.note(`removed what an earlier attempt left of lab ${lab.name}`);
    rb.note(`lab ${lab.name} is up in ${lab.dir}: ${lab.inventory.nodes.map((n) => `${n.name} ${n.address}`).join(', ')}`);
    outcome = await restoreAndProve(lab);
  } finally {
    // Also on failure and cancel: a cancelled drill still removes its lab before it ends.
    rb.step('tearDownDrillLab');
    const down = await CancellationScope.nonCancellable(() =>
      labOps.tearDownDrillLab.executeWithOptions({ summary: `remove lab ${labName}` }, [{ name: labName, owner }]),
    );
    result.lab = { name: labName, removed: down.removed };
    rb.note(down.removed ? `lab ${labName} removed: no directory or process of it is left` : `no lab ${labName} of this drill to remove`);
  }

  // The lab simulates MicroK8s: a real cluster's dqlite files are beyond it. That is no verdict on the backup.
  if ('failure' in outcome && /raft data the lab's simulator did not write/.test(outcome.failure)) return cannotJudge(outcome.failure);
  if ('failure' in outcome) return broken(outcome.failure);
  result.verdict = outcome.verdict;
  if (!outcome.verdict.ok) return broken(outcome.verdict.reason ?? 'it does not serve');
  result.outcome = 'ok';
  const v = outcome.verdict;
  rb.note(`backup ${backup.id} restores: dqlite leader ${v.leader?.node ?? ''} (${v.leader?.address}), the API answers, Node objects back: ${v.restored.join(', ')}`);
  rb.step('done');
  return result;

  /** Fail the run: the backup does not restore. The result goes with the failure (its details), for the audit. */
  function broken(why: string): never {
    const empty = backup.raftEntryFiles === 0 ? '; the archive holds no raft entries at all (no segment, no snapshot): an empty backup' : '';
    result.outcome = 'broken';
    result.reason = `${why}${empty}`;
    rb.note(`backup ${backup.id} is broken: ${result.reason}`);
    rb.step('done: broken');
    throw ApplicationFailure.create({ type: FailureType.BackupBroken, message: `backup ${backup.id} of ${cluster} is broken: ${result.reason}`, nonRetryable: true, details: [result] });
  }

  /** Fail the run without a verdict: the lab cannot read this backup's data (a real dqlite database). */
  function cannotJudge(why: string): never {
    result.outcome = 'cannot-judge';
    result.reason = `${why}; this is not a verdict on the backup: drill it by restoring onto a spare MicroK8s machine (runbook restore-backup)`;
    rb.note(`backup ${backup.id} could not be judged here: ${result.reason}`);
    rb.step('done: cannot judge');
    throw ApplicationFailure.create({ type: FailureType.DrillCannotJudge, message: `backup ${backup.id} of ${cluster} could not be judged by a lab drill: ${result.reason}`, nonRetryable: true, details: [result] });
  }

  /**
   * On the lab: stop its control planes, put the backup's data on the first (keeping that node's identity), make it
   * the lab's with the recovery reconfigure, copy it to the others, start, and prove. A failure from the restore on
   * is the backup's (the lab was fresh and working); one before it is the drill's own and fails the run as it is.
   */
  async function restoreAndProve(lab: DrillLab): Promise<{ verdict: ServeVerdict } | { failure: string }> {
    const inv = lab.inventory;
    const cps = inv.nodes.filter((n) => n.role === 'controlplane').map((n) => n.name);
    const [template, ...others] = cps;
    const label = (n: string) => `${lab.name}/${n}`;
    for (const n of inv.nodes) rb.node(label(n.name), 'pending');
    const recoveryId = drillIdOf();

    const members: Array<{ node: string; id: string; address: string }> = [];
    for (const name of cps) {
      rb.step(`stopNode ${name}`);
      rb.node(label(name), 'stopping');
      await restoreOps.stopMicrok8sOnNode.executeWithOptions({ summary: `stop ${label(name)}` }, [{ inventory: inv, node: name }]);
      const state = await restoreOps.readRaftState.executeWithOptions({ summary: `read ${label(name)}'s info.yaml` }, [{ inventory: inv, node: name }]);
      if (!state.info) throw ApplicationFailure.create({ type: FailureType.PreconditionFailed, message: `${label(name)} has no info.yaml: the lab is not a formed cluster`, nonRetryable: true });
      members.push({ node: name, id: state.info.id, address: state.info.address });
      rb.node(label(name), 'stopped');
    }

    let step = `restoreBackup ${template}`;
    try {
      rb.step(step);
      rb.node(label(template), 'restoring', backup.id);
      const restored = await restoreOps.restoreNodeBackup.executeWithOptions({ summary: `restore ${backup.id}'s data on ${label(template)}` }, [
        { inventory: inv, node: template, backupId: backup.id, backupCluster: cluster, dataOnly: true },
      ]);
      rb.note(`restored ${backup.id} on ${label(template)}: ${restored.changes.length} file change(s)`);
      step = `rewriteClusterYaml ${template}`;
      rb.step(step);
      await restoreOps.rewriteClusterYaml.executeWithOptions({ summary: `cluster.yaml on ${label(template)}: the lab's control planes` }, [
        { inventory: inv, template, recoveryId, members },
      ]);
      step = `reconfigure ${template}`;
      rb.step(step);
      const reconf = await restoreOps.reconfigureTemplate.executeWithOptions({ summary: `.reconfigure on ${label(template)}` }, [{ inventory: inv, template, recoveryId }]);
      rb.note(`.reconfigure on ${label(template)}: ${reconf.detail}`);
      for (const target of others) {
        step = `copyRaftFiles ${template} → ${target}`;
        rb.step(step);
        rb.node(label(target), 'restoring', `copy from ${template}`);
        await restoreOps.distributeRaftFiles.executeWithOptions({ summary: `copy raft files ${label(template)} → ${label(target)}` }, [{ inventory: inv, template, target, recoveryId }]);
      }
      for (const name of cps) {
        step = `startNode ${name}`;
        rb.step(step);
        rb.node(label(name), 'starting');
        await restoreOps.startMicrok8sOnNode.executeWithOptions({ summary: `start ${label(name)}` }, [{ inventory: inv, node: name }]);
      }
      step = 'waitForQuorum';
      rb.step(step);
      await restoreOps.waitForQuorum.executeWithOptions({ summary: 'wait for a dqlite leader and the API on the lab' }, [{ inventory: inv, nodes: cps, timeoutMs: SERVE_TIMEOUT_MS }]);
    } catch (err) {
      if (isCancellation(err) || !(err instanceof ActivityFailure)) throw err;
      return { failure: `${step} failed in the lab: ${innermostMessage(err)}` };
    }

    rb.step('proveItServes');
    const verdict = await restoreOps.proveItServes.executeWithOptions({ summary: `prove ${lab.name} serves ${backup.id}'s data` }, [
      { inventory: inv, controlPlanes: cps, cluster, expected: expected.nodes, labCreatedAt: lab.createdAt },
    ]);
    for (const n of inv.nodes) rb.node(label(n.name), verdict.ok ? 'done' : 'failed', verdict.listed?.find((l) => l.name === n.name)?.ready === 'True' ? 'Ready' : undefined);
    return { verdict };
  }
}

function planLines(cluster: string, b: DrillBackup, t: DrillTopology, expected: DrillResult['expected'], labName: string): string[] {
  return [
    `backup ${b.id} of ${cluster}: taken on ${b.node} at ${b.createdAt}${b.stopped ? ' (stopped)' : ''}, ${b.files} files, ${b.size} bytes, sha256 ${b.sha256.slice(0, 16)}…${b.intact ? ' (the tarball still matches it)' : ' — the tarball NO LONGER MATCHES it'}`,
    `make a fresh lab ${labName} in the engine's state directory: ${t.controlPlanes} control plane(s) and ${t.workers} worker(s) on ${t.channel}, formed as one cluster; no node of ${cluster} is touched`,
    ...(t.workersLeftOut ? [`  ${t.workersLeftOut} worker(s) left out: a lab holds at most ${LAB_MAX_NODES} nodes`] : []),
    "stop MicroK8s on the lab's control planes",
    `restore the backup's dqlite data onto the lab's first control plane (streamed up, every file's sha256 checked); that node keeps its own info.yaml, cluster.yaml, cluster.crt/.key and failure-domain`,
    "make the data the lab's as the quorum-recovery procedure does: cluster.yaml lists the lab's control planes, .reconfigure on the first, its raft files copied to the others (sha256 checked on arrival)",
    "start MicroK8s on the lab's control planes; wait for a dqlite leader and the API",
    `prove it serves: a dqlite leader, kubectl get nodes answers, and it lists the Node objects ${cluster} had, created before the lab: ${expected.nodes.join(', ')} (${expected.from === 'backup' ? 'recorded with the backup' : 'from the inventory: the backup does not record them'})`,
    'remove the lab, also when a step fails or the drill is cancelled; a backup that does not restore fails the drill, naming what is missing',
  ];
}
