/**
 * `runbook recover-quorum`: the documented restore-quorum procedure (behaviour reference §7), guarded and resumable.
 * Assess → plan and approval → stop survivors → back them up → choose the template → rewrite cluster.yaml →
 * .reconfigure on the template → distribute to the other survivors → start → remove the lost nodes → verify.
 * The activities that change raft files leave markers on the nodes, so a rerun never repeats `.reconfigure` from
 * files it already changed. A failure after the backups offers to put every survivor back as it was.
 */
import { ApplicationFailure, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { BackupNodeResult } from '../common/backup';
import type { NodeAssessment, QuorumAssessment, RecoveryProposal } from '../activities/recovery-reports';
import type { FileChange } from '../common/audit';
import { FailureType } from '../common/constants';
import { describeBackupResult, invalidInput, nodeOps } from './backup-steps';
import { RunbookController } from './runbook-controller';
import { stepOptions } from './step-options';
import type { RecoverQuorumInput, RecoverQuorumResult } from '../common/recovery';

// No attempt cap anywhere: a lost worker is retried however often it happens, until the step's deadline
// (scheduleToClose); real failures end the step at once (workflows/step-options.ts).
const probe = proxyActivities<Activities>(stepOptions({ startToClose: '3 minutes', scheduleToClose: '15 minutes', heartbeat: '30 seconds' }));

/** Raft-file steps: a failure stops the runbook (no blind retries of a destructive step), except transport errors. */
const raftOps = proxyActivities<Activities>(
  stepOptions({
    startToClose: '45 minutes',
    scheduleToClose: '90 minutes',
    heartbeat: '15 seconds',
    nonRetryable: ['ReconfigureFailed', 'ChecksumMismatch', 'InfoYamlMismatch', 'TemplateChanged'],
  }),
);

/** Waits for the API, a leader and Ready nodes: they give up themselves (`waitTimeoutMs`, QuorumNotRestored). */
const waits = proxyActivities<Activities>(
  stepOptions({ startToClose: '30 minutes', scheduleToClose: '60 minutes', heartbeat: '30 seconds', nonRetryable: ['QuorumNotRestored', 'RecoveryNotVerified'] }),
);

function refuse(type: string, message: string): never {
  throw ApplicationFailure.create({ type, message, nonRetryable: true });
}

function recoveryIdOf(): string {
  const info = workflowInfo();
  return `rq-${info.runStartTime.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${info.runId.slice(0, 8)}`;
}

/** The refusals of step 1, from the facts the assessment gathered. Returns the survivors in inventory order. */
function judgeAssessment(input: RecoverQuorumInput, a: QuorumAssessment) {
  if (a.leader) {
    refuse(FailureType.QuorumIntact, `quorum is not lost: a dqlite leader answered through ${a.leader.via} (${a.leader.members.length} members). recover-quorum refuses on a healthy cluster; remove a dead node with microk8s remove-node NAME --force instead.`);
  }
  if (a.api.answering) refuse(FailureType.QuorumIntact, `quorum is not lost: ${a.api.detail}. recover-quorum refuses on a healthy cluster.`);
  const lostAnswering = a.nodes.filter((n) => input.lost.includes(n.name) && n.reachable);
  if (lostAnswering.length && !input.fence) {
    refuse(
      FailureType.LostNodeAnswers,
      `${lostAnswering.map((n) => n.name).join(', ')} still answer${lostAnswering.length === 1 ? 's' : ''} over SSH. A lost node must never come back into the old cluster: shut it down for good, or pass --fence to stop and disable microk8s on it first.`,
    );
  }
  const survivors = a.nodes.filter((n) => n.role === 'controlplane' && !input.lost.includes(n.name));
  const reachable = survivors.filter((n) => n.reachable);
  if (!reachable.length) {
    refuse(FailureType.NoSurvivorReachable, `no surviving control-plane node answers over SSH (${survivors.map((n) => `${n.name}: ${n.error ?? 'unreachable'}`).join('; ') || 'none left after --lost'}); the procedure needs at least one survivor's backend.`);
  }
  const silent = survivors.filter((n) => !n.reachable);
  if (silent.length) {
    refuse(FailureType.SurvivorUnreachable, `${silent.map((n) => n.name).join(', ')} ${silent.length === 1 ? 'is' : 'are'} not in --lost but do${silent.length === 1 ? 'es' : ''} not answer over SSH: add ${silent.length === 1 ? 'it' : 'them'} to --lost if gone for good, or bring ${silent.length === 1 ? 'it' : 'them'} back first.`);
  }
  for (const s of reachable) {
    if (!s.info || !s.files) refuse(FailureType.PreconditionFailed, `${s.name} has no info.yaml or backend directory; it cannot rejoin a recovered cluster`);
  }
  const workers = a.nodes.filter((n) => n.role === 'worker');
  return { survivors: reachable, workers };
}

/**
 * Voters once the leader has adjusted roles: go-dqlite keeps exactly one voter below 3 members, else up to 3
 * (behaviour reference §2). cluster.yaml still names up to 3 intended voters (Role 0), as the procedure says.
 */
function votersFor(survivors: number): number {
  return survivors < 3 ? 1 : 3;
}

/** The activity's own message rather than "Activity task failed". */
function reason(err: unknown): string {
  const e = err as { message?: string; cause?: { message?: string } };
  return e?.cause?.message ?? e?.message ?? String(err);
}

function fileList(names: string[]): string {
  return names.length ? names.join(', ') : 'none';
}

/** Recover a cluster that lost the majority of its dqlite voters for good. */
export async function recoverQuorum(input: RecoverQuorumInput): Promise<RecoverQuorumResult> {
  const { inventory } = input;
  const rb = new RunbookController('recover-quorum', inventory.cluster, inventory.nodes.map((n) => n.name));
  for (const name of input.lost) {
    const n = inventory.nodes.find((x) => x.name === name);
    if (!n) invalidInput(`--lost ${name}: no such node in the inventory`);
    if (n.role !== 'controlplane') invalidInput(`--lost ${name}: a worker holds no dqlite data; only control-plane nodes are lost to quorum`);
  }
  if (!input.lost.length) invalidInput('--lost: name the control-plane nodes that are lost for good');
  if (input.template && input.lost.includes(input.template)) invalidInput(`--template ${input.template} is listed in --lost`);

  // 1. Assess.
  rb.step('assessQuorum');
  const assessment = await probe.assessQuorumLoss.executeWithOptions({ summary: 'contact every node, look for a dqlite leader and the API' }, [
    { inventory, lost: input.lost, template: input.template },
  ]);
  for (const n of assessment.nodes) rb.node(n.name, n.reachable ? 'checking' : 'skipped', n.reachable ? (n.stopped ? 'reachable, stopped' : 'reachable') : 'unreachable');
  const { survivors, workers } = judgeAssessment(input, assessment);
  const names = survivors.map((s) => s.name);
  const fenced = assessment.nodes.filter((n) => input.lost.includes(n.name) && n.reachable).map((n) => n.name);
  const reachableWorkers = workers.filter((w) => w.reachable).map((w) => w.name);

  // 2. Plan and approval.
  const choice = assessment.proposal;
  if (!choice) refuse(FailureType.PreconditionFailed, 'no survivor backend to plan from');
  if ('error' in choice) invalidInput(choice.error);
  const planned: RecoveryProposal = choice;
  const recoveryId = recoveryIdOf();
  const plan = planLines(input, survivors, planned, fenced, reachableWorkers, recoveryId);
  if (input.planOnly) {
    rb.step('plan only');
    return { plan, outcome: 'planned', survivors: names, template: planned.template, backups: [], fileChanges: [], removedNodes: [] };
  }
  await rb.approvePlan(plan, input.yes, `recover quorum of ${inventory.cluster} on ${names.join(', ')}`);

  for (const name of fenced) {
    rb.step(`fenceNode ${name}`);
    rb.node(name, 'stopping', 'fence: stop and disable microk8s');
    await nodeOps.stopMicrok8sOnNode.executeWithOptions({ summary: `fence ${name}` }, [{ inventory, node: name }]);
    rb.node(name, 'stopped', 'fenced');
  }

  // 3. Stop every survivor.
  for (const name of [...names, ...reachableWorkers]) {
    rb.step(`stopNode ${name}`);
    rb.node(name, 'stopping');
    const r = await nodeOps.stopMicrok8sOnNode.executeWithOptions({ summary: `stop ${name}` }, [{ inventory, node: name }]);
    rb.node(name, 'stopped', r.detail);
  }
  await rb.checkpoint();

  // 4. Back up every survivor; any failure stops here, before anything changed on disk.
  const backups: BackupNodeResult[] = [];
  for (const name of names) {
    rb.step(`backupNode ${name}`);
    rb.node(name, 'backing-up');
    try {
      const b = await nodeOps.backupNode.executeWithOptions({ summary: `back up ${name}` }, [
        { inventory, node: name, id: `${recoveryId}-${name}`, stopped: true, label: `before recover-quorum ${recoveryId}` },
      ]);
      backups.push(b);
      rb.node(name, 'stopped', `backed up as ${b.id}`);
      rb.note(`backup ${describeBackupResult(b)}`);
    } catch (err) {
      rb.fail('BackupFailed', `backing up ${name} failed, so nothing was changed on disk; survivors are stopped. ${reason(err)}`);
    }
  }
  await rb.checkpoint();

  const fileChanges: FileChange[] = [];
  const result: RecoverQuorumResult = {
    plan,
    outcome: 'recovered',
    survivors: names,
    backups: backups.map((b) => ({ node: b.node, id: b.id, path: b.path, sha256: b.sha256 })),
    fileChanges,
    removedNodes: [],
  };
  try {
    await changeRaftFiles();
  } catch (err) {
    await offerRestore(err);
  }

  // 9. Remove the lost nodes from Kubernetes (the cluster is available again).
  rb.step('removeLostNodes');
  const via = result.template!;
  const removed = await waits.removeLostNodes.executeWithOptions({ summary: `remove-node --force ${input.lost.join(', ')}` }, [{ inventory, via, lost: input.lost }]);
  result.removedNodes = removed.removed;
  for (const name of input.lost) rb.node(name, 'removed');

  // 10. Verify and report.
  rb.step('verifyRecovery');
  const expectedVoters = votersFor(names.length);
  const verified = await waits.verifyRecovery.executeWithOptions({ summary: 'wait for Ready nodes and the dqlite voters' }, [
    { inventory, via: names, survivors: [...names, ...reachableWorkers], expectedVoters, timeoutMs: input.waitTimeoutMs ?? 600_000 },
  ]);
  result.voters = verified.voters;
  result.ha = verified.ha;
  for (const name of [...names, ...reachableWorkers]) rb.node(name, 'done', 'Ready');
  if (verified.voters !== expectedVoters) rb.note(`dqlite reports ${verified.voters} voter(s); ${expectedVoters} expected for ${names.length} survivor(s)`);
  rb.note(
    verified.ha
      ? `recovered: ${names.length} control-plane node(s), ${verified.voters} voters, high availability: yes`
      : `recovered, but HA is NOT restored: ${verified.voters} voter(s) among ${names.length} control-plane node(s). Add control-plane nodes until there are at least 3 (runbook form with new nodes).`,
  );
  rb.step('done');
  return result;

  /** Steps 5-8: everything that changes raft files, then the start. */
  async function changeRaftFiles(): Promise<void> {
    // 5. Choose the template from the stopped survivors' files (or --template), with the evidence.
    rb.step('chooseTemplate');
    const picked = await probe.chooseTemplateNode.executeWithOptions({ summary: 'compare the survivors\' raft data' }, [
      { inventory, survivors: names, template: input.template },
    ]);
    const states = picked.states;
    for (const line of picked.evidence) rb.note(`template evidence: ${line}`);
    if (picked.template !== planned.template) {
      rb.note(`the template changed from ${planned.template} (plan) to ${picked.template} after the stop`);
      if (!input.yes && (await rb.requestApproval(`use ${picked.template} as the template instead of ${planned.template}`)) !== 'approved') {
        refuse(FailureType.PlanNotApproved, `the new template ${picked.template} was not approved; survivors are stopped and unchanged`);
      }
    }
    const template = picked.template;
    result.template = template;
    await rb.checkpoint();

    // 6. Rewrite cluster.yaml on the template: survivors only, template first, at most 3 voters.
    rb.step(`rewriteClusterYaml ${template}`);
    rb.node(template, 'restoring', 'template: rewrite cluster.yaml');
    const ordered = [template, ...names.filter((n) => n !== template)];
    const members = ordered.map((n) => {
      const info = states.find((s) => s.node === n)!.info;
      return { node: n, id: info.id, address: info.address };
    });
    const rewritten = await raftOps.rewriteClusterYaml.executeWithOptions({ summary: `rewrite cluster.yaml on ${template}` }, [
      { inventory, template, recoveryId, members },
    ]);
    fileChanges.push(...rewritten.changes);

    // 7. Reconfigure on the template only.
    rb.step(`reconfigure ${template}`);
    const reconf = await raftOps.reconfigureTemplate.executeWithOptions({ summary: `.reconfigure on ${template}` }, [{ inventory, template, recoveryId }]);
    fileChanges.push(...reconf.changes);
    rb.note(`.reconfigure on ${template}: ${reconf.detail}`);
    await rb.checkpoint();

    // 8. Distribute to every other survivor.
    for (const target of names.filter((n) => n !== template)) {
      rb.step(`copyRaftFiles ${template} → ${target}`);
      rb.node(target, 'restoring', `copy from ${template}`);
      const copied = await raftOps.distributeRaftFiles.executeWithOptions({ summary: `copy raft files ${template} → ${target}` }, [
        { inventory, template, target, recoveryId },
      ]);
      fileChanges.push(...copied.changes);
      await rb.checkpoint();
    }

    // 9. Start every survivor, wait for the API and a dqlite leader.
    for (const name of [...ordered, ...reachableWorkers]) {
      rb.step(`startNode ${name}`);
      rb.node(name, 'starting');
      await nodeOps.startMicrok8sOnNode.executeWithOptions({ summary: `start ${name}` }, [{ inventory, node: name }]);
    }
    rb.step('waitForQuorum');
    await waits.waitForQuorum.executeWithOptions({ summary: 'wait for the API and a dqlite leader' }, [
      { inventory, nodes: ordered, timeoutMs: input.waitTimeoutMs ?? 600_000 },
    ]);
  }

  /** After a failure past the backups: report, offer the restore of every survivor, and fail. */
  async function offerRestore(err: unknown): Promise<never> {
    const why = reason(err);
    rb.note(`recovery failed after the survivors were backed up: ${why}`);
    for (const b of backups) rb.note(`to put ${b.node} back as it was: runbook restore-backup -i <inventory> --node ${b.node} --backup ${b.id}`);
    const outcome = await rb.requestApproval(
      `restore every survivor (${names.join(', ')}) from its pre-recovery backup and leave it stopped`,
      input.restoreOfferTimeoutMs ?? 24 * 3_600_000,
    );
    if (outcome !== 'approved') {
      rb.fail('RecoveryFailed', `recovery failed (${why}); the survivors were not restored (${outcome}); their backups are listed in the notes`);
    }
    for (const b of backups) {
      rb.step(`restoreBackup ${b.node}`);
      rb.node(b.node, 'restoring', b.id);
      await nodeOps.stopMicrok8sOnNode.executeWithOptions({ summary: `stop ${b.node}` }, [{ inventory, node: b.node }]);
      const r = await nodeOps.restoreNodeBackup.executeWithOptions({ summary: `restore ${b.id} on ${b.node}` }, [{ inventory, node: b.node, backupId: b.id }]);
      fileChanges.push(...r.changes);
      rb.node(b.node, 'stopped', `restored ${b.id}`);
    }
    return rb.fail('RecoveryFailed', `recovery failed (${why}); every survivor was restored from its pre-recovery backup and left stopped`);
  }
}

function planLines(
  input: RecoverQuorumInput,
  survivors: NodeAssessment[],
  p: RecoveryProposal,
  fenced: string[],
  workers: string[],
  recoveryId: string,
): string[] {
  const names = survivors.map((s) => s.name);
  const info = (n: string) => survivors.find((s) => s.name === n)!.info!;
  const voters = votersFor(names.length);
  return [
    `recovery ${recoveryId}: survivors ${names.join(', ')}; lost for good: ${input.lost.join(', ')}`,
    ...fenced.map((n) => `fence ${n}: it still answers, so stop and disable microk8s on it (microk8s stop) before anything else`),
    `stop microk8s on ${[...names, ...workers].join(', ')} (microk8s stop; workers: snap stop microk8s) and verify`,
    `back up ${names.join(', ')}: backend directory off-node with sha256; any failure stops here`,
    `template ${p.template}:`,
    ...p.evidence.map((e) => `  ${e}`),
    `rewrite cluster.yaml on ${p.template} (original kept as cluster.yaml.before-${recoveryId}):`,
    ...p.roles.map((r) => `  ${r.node}: ID ${info(r.node).id}, Address ${info(r.node).address}, ${r.role}`),
    `run .reconfigure on ${p.template} only and expect OK`,
    ...Object.entries(p.leftovers).map(
      ([node, files]) =>
        `on ${node}: delete ${fileList(files)}; copy from ${p.template}: cluster.yaml, snapshots with .meta and closed segments as they are after .reconfigure (now: ${fileList(p.toCopy.filter((n) => n !== 'cluster.yaml'))}); sha256 checked on arrival; info.yaml must match cluster.yaml`,
    ),
    `start microk8s on ${[...names, ...workers].join(', ')}; wait for the API and a dqlite leader`,
    `remove the lost nodes from Kubernetes: ${input.lost.map((n) => `microk8s remove-node ${n} --force`).join('; ')}`,
    `verify: every survivor Ready, ${voters} voter(s)${names.length < 3 ? ' (dqlite keeps one voter below 3 members)' : ''}; HA ${voters > 2 ? 'yes' : `NO (fewer than 3 control-plane nodes: add nodes with runbook form)`}`,
  ];
}
