/**
 * Workflow logic of the rolling upgrade on a real dev server and worker, with the activities replaced by an
 * in-memory cluster: order, hops, rollbacks, approvals, pause/resume, cancel, and the journal invariants.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { resolveInventory, type Inventory } from '../../common/inventory';
import { approveUpdate, decideUpdate, pauseUpdate, progressQuery, rejectUpdate, resumeUpdate, type RunbookProgress } from '../../common/messages';
import { startRunbook, startTemporal, startWorker, type TestWorker } from '../support/temporal';
import { withFailureBudget, REAL_FAILURE_TRIES } from '../../activities/failure-budget';
import { checkInvariants, FakeCluster } from './upgrade-fake-cluster';

let env: TestWorkflowEnvironment;
let stateDir: string;

beforeAll(async () => {
  env = await startTemporal();
  stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'upgrade-wf-'));
});
afterAll(async () => {
  await env?.teardown();
  fs.rmSync(stateDir, { recursive: true, force: true });
});

function inventoryFor(fake: FakeCluster, cluster: string): Inventory {
  return resolveInventory({
    cluster,
    nodes: fake.nodes.map((n, i) => ({ name: n.name, address: `10.0.0.${i + 1}`, role: n.controlPlane ? 'controlplane' : 'worker' })),
  });
}

let clusterSeq = 0;
async function run(
  fake: FakeCluster,
  input: Record<string, unknown>,
  body?: (h: WorkflowHandle, w: TestWorker) => Promise<void>,
  opts: { budget?: boolean } = {},
) {
  // `budget`: the activities wrapped as the worker wraps the real ones (a real failure is tried in place, then final).
  const activities = opts.budget ? withFailureBudget(fake.activities() as Record<string, () => Promise<unknown>>, { backoffMs: [20] }) : fake.activities();
  const worker = await startWorker(env, { stateDir, activities });
  const inventory = inventoryFor(fake, `wf-${process.pid}-${++clusterSeq}`);
  try {
    const handle = await startRunbook(
      env,
      { kind: 'upgrade', workflowType: 'rollingUpgrade', inventory, input: { heartbeatTimeoutSeconds: 10, ...input }, summary: 'upgrade', yes: true },
      worker.taskQueue,
    );
    if (body) await body(handle, worker);
    const result = await handle.result().then(
      (value) => ({ value, error: undefined as unknown }),
      (error: unknown) => ({ value: undefined, error }),
    );
    const progress = await handle.query(progressQuery); // while the worker still runs
    return { handle, progress, ...result };
  } finally {
    await worker.stop();
  }
}

async function until(handle: WorkflowHandle, what: (p: RunbookProgress) => boolean, timeoutMs = 20_000): Promise<RunbookProgress> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const p = await handle.query(progressQuery);
    if (what(p)) return p;
    if (Date.now() > end) throw new Error(`timed out waiting; step: ${p.step}; notes: ${p.notes.join(' | ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const refreshed = (fake: FakeCluster) => fake.events('refresh').map((e) => `${e.node}@${e.detail}`);

test('multi-hop 1.28 → 1.30: two full passes, control planes first with the leader last, holds released', async () => {
  const fake = new FakeCluster(3, 2);
  // Two minors ahead, started with --yes: confirmed with --hops 2 (the plan refuses otherwise).
  const { value, error } = await run(fake, { to: '1.30', workerBatch: 2, hops: 2 });
  expect(error).toBeUndefined();
  expect(value).toMatchObject({ outcome: 'upgraded', backup: { sha256: 'ab'.repeat(32) } });
  expect(refreshed(fake)).toEqual([
    'k8s-2@1.29/stable', 'k8s-3@1.29/stable', 'k8s-1@1.29/stable', 'w-1@1.29/stable', 'w-2@1.29/stable',
    'k8s-2@1.30/stable', 'k8s-3@1.30/stable', 'k8s-1@1.30/stable', 'w-1@1.30/stable', 'w-2@1.30/stable',
  ].sort((a, b) => refreshed(fake).indexOf(a) - refreshed(fake).indexOf(b)));
  expect(refreshed(fake).slice(0, 3)).toEqual(['k8s-2@1.29/stable', 'k8s-3@1.29/stable', 'k8s-1@1.29/stable']);
  expect(fake.nodes.every((n) => n.minor === 30 && !n.unschedulable && !n.held)).toBe(true);
  expect(fake.events('backup')).toHaveLength(1);
  expect(fake.journal.findIndex((e) => e.event === 'backup')).toBeLessThan(fake.journal.findIndex((e) => e.event === 'refresh'));
  expect(checkInvariants(fake.journal, fake.nodes)).toEqual([]);
});

test('a rerun refreshes nothing twice and a patch pass comes first', async () => {
  const fake = new FakeCluster(3, 1);
  fake.node('k8s-3').patch = 4;
  fake.node('w-1').minor = 29; // already upgraded by an earlier run... but a worker newer than CPs is refused
  const refused = await run(fake, { to: '1.29' });
  expect(String((refused.error as WorkflowFailedError).cause?.message)).toMatch(/w-1 .* newer than every control plane/);
  expect(fake.events('refresh')).toEqual([]);

  fake.node('w-1').minor = 28;
  fake.node('k8s-2').minor = 29;
  fake.node('k8s-2').tracking = '1.29/stable';
  const { error } = await run(fake, { to: '1.29' });
  expect(error).toBeUndefined();
  expect(refreshed(fake)).toEqual(['k8s-3@1.28/stable', 'k8s-3@1.29/stable', 'k8s-1@1.29/stable', 'w-1@1.29/stable']);
});

test('a rollback that fails is reported as failed, never as "rolled back the failed node"', async () => {
  const fake = new FakeCluster(3, 2);
  fake.node('k8s-3').failUpgradeTo = 29;
  fake.node('k8s-3').failRevert = 'revision 5348 not retained';
  const { error } = await run(fake, { to: '1.29' });
  const cause = (error as WorkflowFailedError).cause as { message: string };
  expect(cause.message).toMatch(/the rollback of k8s-3 FAILED \(.*revision 5348 not retained.*\); it is left as the rollback left it/);
  expect(cause.message).not.toMatch(/rolled back the failed node/);
});

test('injected failure, --rollback node: the node is reverted, Ready, uncordoned; earlier nodes stay upgraded', async () => {
  const fake = new FakeCluster(3, 2);
  fake.node('k8s-3').failUpgradeTo = 29;
  const { error, progress } = await run(fake, { to: '1.29' });
  expect(error).toBeInstanceOf(WorkflowFailedError);
  const cause = (error as WorkflowFailedError).cause as { type?: string; message: string; details?: unknown[] };
  expect(cause.type).toBe('UpgradeFailed');
  expect(cause.message).toMatch(/k8s-3 \(waitNodeReady\)/);
  expect(fake.node('k8s-3')).toMatchObject({ minor: 28, broken: false, unschedulable: false });
  expect(fake.node('k8s-2').minor).toBe(29);
  expect(fake.node('k8s-1').minor).toBe(28);
  expect(fake.nodes.every((n) => !n.held)).toBe(true);
  expect(fake.events('refresh').some((e) => e.node.startsWith('w-'))).toBe(false);
  expect(checkInvariants(fake.journal, fake.nodes)).toEqual([]);
  expect(progress.notes.join('\n')).toMatch(/compensation: snap revert k8s-3/);
  // Compensations are in history too, in the failure's details.
  expect(cause.details?.[0]).toMatchObject({ leftCordoned: [], upgraded: ['k8s-2'] });
  expect(JSON.stringify(cause.details)).toMatch(/snap revert k8s-3: revision 6170 \(v1\.29\.10\) → 6130 \(v1\.28\.10\)/);
});

test('a failed health gate leaves the node cordoned (no uncordon before it), then it is rolled back', async () => {
  const fake = new FakeCluster(3, 1);
  fake.node('w-1').unhealthy = 'kube-system pods not running on w-1: calico-node-abcde';
  const { error } = await run(fake, { to: '1.29' });
  const cause = (error as WorkflowFailedError).cause as { message: string };
  expect(cause.message).toMatch(/upgrade stopped at w-1 \(checkNodeHealth\): kube-system pods not running on w-1/);
  const w1 = fake.journal.filter((e) => e.node === 'w-1' && e.event !== 'hold' && e.event !== 'unhold').map((e) => e.event);
  expect(w1).toEqual(['cordon', 'refresh', 'revert', 'uncordon']);
  expect(fake.node('w-1')).toMatchObject({ minor: 28, unschedulable: false });
  expect(checkInvariants(fake.journal, fake.nodes)).toEqual([]);
});

test('--rollback all: every node this pass upgraded is reverted too, newest first', async () => {
  const fake = new FakeCluster(3, 2);
  fake.node('w-2').failUpgradeTo = 29;
  const { error } = await run(fake, { to: '1.29', rollback: 'all' });
  expect(error).toBeInstanceOf(WorkflowFailedError);
  expect(fake.nodes.map((n) => n.minor)).toEqual([28, 28, 28, 28, 28]);
  expect(fake.events('revert').map((e) => e.node)).toEqual(['w-2', 'w-1', 'k8s-1', 'k8s-3', 'k8s-2']);
  expect(checkInvariants(fake.journal, fake.nodes)).toEqual([]);
});

test('--rollback all in a worker batch also reverts the siblings that succeeded', async () => {
  const fake = new FakeCluster(3, 3);
  fake.node('w-1').failUpgradeTo = 29;
  const { error } = await run(fake, { to: '1.29', rollback: 'all', workerBatch: 3 });
  expect(error).toBeInstanceOf(WorkflowFailedError);
  expect(fake.nodes.map((n) => `${n.name}:${n.minor}`)).toEqual(['k8s-1:28', 'k8s-2:28', 'k8s-3:28', 'w-1:28', 'w-2:28', 'w-3:28']);
  expect(fake.events('revert').map((e) => e.node).slice(0, 1)).toEqual(['w-1']);
  expect(checkInvariants(fake.journal, fake.nodes)).toEqual([]);
});

test('a PDB-blocked drain pauses with the pod and budget named; abort stops with the node uncordoned', async () => {
  const fake = new FakeCluster(3, 1);
  fake.node('w-1').pdbBlocked = true;
  const { error } = await run(fake, { to: '1.29', onFailure: 'pause' }, async (h) => {
    const p = await until(h, (x) => /waiting for an operator decision/.test(x.step));
    expect(p.step).toMatch(/drain of w-1 blocked by a PodDisruptionBudget: pod default\/web-6d4cf56db6-abcde \(PodDisruptionBudget web-pdb\)/);
    expect(fake.node('w-1').unschedulable).toBe(false); // rolled back = uncordoned while paused
    await h.executeUpdate(decideUpdate, { args: [{ decision: 'abort', by: 'ops@host', reason: 'budget' }] });
  });
  expect(((error as WorkflowFailedError).cause as Error).message).toMatch(/aborted by ops@host/);
  expect(fake.node('w-1').minor).toBe(28);
  expect(checkInvariants(fake.journal, fake.nodes)).toEqual([]);
});

test('a decision to retry upgrades the node once the cause is fixed', async () => {
  const fake = new FakeCluster(3, 1);
  fake.node('w-1').pdbBlocked = true;
  const { error, value } = await run(fake, { to: '1.29', onFailure: 'pause' }, async (h) => {
    await until(h, (x) => /waiting for an operator decision/.test(x.step));
    fake.node('w-1').pdbBlocked = false;
    await h.executeUpdate(decideUpdate, { args: [{ decision: 'retry', by: 'ops@host' }] });
  });
  expect(error).toBeUndefined();
  expect(value).toMatchObject({ outcome: 'upgraded' });
  expect(fake.nodes.every((n) => n.minor === 29)).toBe(true);
});

test('approvals: --approve each asks per node; approve, reject (refused when stale) and timeout → pause', async () => {
  const fake = new FakeCluster(3, 0);
  const { error } = await run(fake, { to: '1.29', approve: 'each', approvalTimeoutSeconds: 1 }, async (h) => {
    let p = await until(h, (x) => !!x.pendingApproval);
    expect(p.pendingApproval!.summary).toBe('upgrade k8s-2 to 1.29/stable');
    const rec = await h.executeUpdate(approveUpdate, { args: [{ id: p.pendingApproval!.id, by: 'alice@host', reason: 'go' }] });
    expect(rec).toMatchObject({ decision: 'approved', by: 'alice@host', reason: 'go' });
    await expect(h.executeUpdate(approveUpdate, { args: [{ id: p.pendingApproval!.id, by: 'alice@host' }] })).rejects.toThrow();
    // The next approval times out (1 s): the runbook pauses instead of going on.
    p = await until(h, (x) => x.paused);
    expect(p.approvals.map((a) => a.decision)).toEqual(['approved', 'timed-out']);
    expect(fake.node('k8s-3').minor).toBe(28);
    await h.executeUpdate(resumeUpdate, { args: [{ by: 'bob@host' }] });
    p = await until(h, (x) => !!x.pendingApproval && x.approvals.length === 2);
    expect(p.pendingApproval!.summary).toBe('upgrade k8s-3 to 1.29/stable');
    await h.executeUpdate(rejectUpdate, { args: [{ by: 'bob@host', reason: 'not today' }] });
  });
  expect(((error as WorkflowFailedError).cause as { type?: string }).type).toBe('UpgradeRejected');
  expect(fake.nodes.map((n) => n.minor)).toEqual([28, 29, 28]);
  expect(fake.nodes.every((n) => !n.held && !n.unschedulable)).toBe(true);
});

test('--approve on-failure asks before the rollback', async () => {
  const fake = new FakeCluster(3, 0);
  fake.node('k8s-2').failUpgradeTo = 29;
  const { error } = await run(fake, { to: '1.29', approve: 'on-failure' }, async (h) => {
    const p = await until(h, (x) => !!x.pendingApproval);
    expect(p.pendingApproval!.summary).toMatch(/^roll back k8s-2 \(waitNodeReady failed\)/);
    expect(fake.node('k8s-2').minor).toBe(29);
    await h.executeUpdate(approveUpdate, { args: [{ by: 'alice@host' }] });
  });
  expect(error).toBeInstanceOf(WorkflowFailedError);
  expect(fake.node('k8s-2')).toMatchObject({ minor: 28, unschedulable: false });
});

test('pause takes effect between nodes; resume continues', async () => {
  const fake = new FakeCluster(3, 1);
  fake.drainMs = 800;
  const { error } = await run(fake, { to: '1.29' }, async (h) => {
    await until(h, (x) => x.nodes.some((n) => n.state === 'draining'));
    await h.executeUpdate(pauseUpdate, { args: [{ by: 'ops@host' }] });
    const p = await until(h, (x) => /^paused before/.test(x.step));
    const done = fake.events('refresh').length;
    expect(done).toBe(1);
    await new Promise((r) => setTimeout(r, 1500));
    expect(fake.events('refresh').length).toBe(done);
    expect(p.nodes.find((n) => n.name === 'k8s-2')!.state).toBe('done');
    await h.executeUpdate(resumeUpdate, { args: [{ by: 'ops@host' }] });
  });
  expect(error).toBeUndefined();
  expect(fake.nodes.every((n) => n.minor === 29)).toBe(true);
});

test('cancel mid-drain: the node in flight is restored and uncordoned, holds released, nothing else touched', async () => {
  const fake = new FakeCluster(3, 1);
  fake.drainMs = 3000;
  const { error, handle, progress } = await run(fake, { to: '1.29' }, async (h) => {
    await until(h, (x) => x.nodes.some((n) => n.name === 'k8s-2' && n.state === 'draining'));
    await new Promise((r) => setTimeout(r, 300));
    await h.cancel();
  });
  expect(error).toBeInstanceOf(WorkflowFailedError);
  expect(fake.node('k8s-2')).toMatchObject({ minor: 28, unschedulable: false });
  expect(fake.events('refresh')).toEqual([]);
  expect(fake.nodes.every((n) => !n.held)).toBe(true);
  expect(progress.notes.join('\n')).toMatch(/cancel: k8s-2 reverted: still on v1\.28\.10, Ready, uncordoned/);
  const memo = (await handle.describe()).memo as { compensations?: string[] };
  expect(memo.compensations).toEqual(['cancel: k8s-2 reverted: still on v1.28.10, Ready, uncordoned']);
  expect(checkInvariants(fake.journal, fake.nodes)).toEqual([]);
});

// No step has an attempt cap (a lost worker must not use up a step); real failures must still end a step at once,
// and a node that never answers must end its step by --step-timeout, then follow --on-failure.

test('a drain that fails every time (a real failure) ends the step within seconds: tried in place, never retried until --step-timeout', async () => {
  const fake = new FakeCluster(3, 1);
  fake.node('k8s-2').drainError = 'k8s-1: command exited with 1: microk8s kubectl drain k8s-2 ... error: unable to drain';
  const t0 = Date.now();
  const { error } = await run(fake, { to: '1.29', stepTimeoutSeconds: 600 }, undefined, { budget: true });
  const took = Date.now() - t0;
  expect(error).toBeInstanceOf(WorkflowFailedError);
  const cause = (error as WorkflowFailedError).cause as { type?: string; message: string };
  expect(cause.type).toBe('UpgradeFailed');
  expect(cause.message).toMatch(/upgrade stopped at k8s-2 .*unable to drain/);
  // One Temporal attempt, REAL_FAILURE_TRIES tries in it; the 600 s deadline played no part.
  expect(fake.callsOf('drainNode', 'k8s-2')).toBe(REAL_FAILURE_TRIES);
  expect(took).toBeLessThan(30_000);
  expect(fake.events('refresh')).toEqual([]);
  expect(fake.nodes.every((n) => n.minor === 28 && !n.held)).toBe(true);
});

test('a node that never answers: its refresh fails at --step-timeout, it cannot be rolled back, the run stops; the others are untouched', async () => {
  const fake = new FakeCluster(3, 1);
  fake.hangOnDrain = 'k8s-2';
  const { error, progress } = await run(fake, { to: '1.29', stepTimeoutSeconds: 10 });
  expect(error).toBeInstanceOf(WorkflowFailedError);
  const cause = (error as WorkflowFailedError).cause as { type?: string; message: string; details?: unknown[] };
  expect(cause.type).toBe('UpgradeFailed');
  expect(cause.message).toMatch(/upgrade stopped at k8s-2 \(refreshSnap\): .*no SSH session/);
  expect(cause.message).toMatch(/k8s-2 did not answer, so it could not be rolled back/);
  expect(cause.message).toMatch(/k8s-2's state is unknown \(it does not answer over SSH\); it was cordoned and drained by this run and is left so/);
  expect(cause.details?.[0]).toMatchObject({ failure: { node: 'k8s-2', step: 'refreshSnap', unreachable: true }, leftCordoned: ['k8s-2'], upgraded: [] });
  expect(progress.notes.join('\n')).toMatch(/compensation: rollback of k8s-2 not possible: it does not answer over SSH/);
  expect(progress.notes.join('\n')).toMatch(/refresh holds NOT released on: k8s-2/);
  // Retried (no attempt cap) until the deadline; then asked once more; no rollback child ran a command on it.
  expect(fake.callsOf('refreshSnap', 'k8s-2')).toBeGreaterThanOrEqual(3);
  expect(fake.callsOf('readNodeState', 'k8s-2')).toBeGreaterThanOrEqual(1);
  expect(fake.callsOf('revertSnap', 'k8s-2')).toBe(0);
  // Nothing else was touched, and every other node's hold was released.
  expect(fake.events('refresh')).toEqual([]);
  for (const n of fake.nodes.filter((x) => x.name !== 'k8s-2')) expect(n).toMatchObject({ minor: 28, unschedulable: false, held: false });
  expect(fake.node('k8s-2')).toMatchObject({ minor: 28, unschedulable: true });
  expect(checkInvariants(fake.journal, fake.nodes, ['k8s-2'])).toEqual([]);
}, 90_000);

test('--on-failure pause with a node that never answers: it waits for a decision; once the node is back, rollback reverts it', async () => {
  const fake = new FakeCluster(3, 1);
  fake.hangOnDrain = 'k8s-2';
  const { error } = await run(fake, { to: '1.29', stepTimeoutSeconds: 10, onFailure: 'pause' }, async (h) => {
    const p = await until(h, (x) => /waiting for an operator decision/.test(x.step), 60_000);
    expect(p.step).toMatch(/k8s-2: refreshSnap failed: .*no SSH session/);
    expect(p.notes.join('\n')).toMatch(/rollback of k8s-2 not possible: it does not answer over SSH/);
    expect(fake.node('k8s-2').unschedulable).toBe(true);
    fake.node('k8s-2').hung = false;
    await h.executeUpdate(decideUpdate, { args: [{ decision: 'rollback', by: 'ops@host', reason: 'node is back' }] });
  });
  expect(((error as WorkflowFailedError).cause as Error).message).toMatch(/rolled back on ops@host's decision/);
  // The rollback found it never refreshed: nothing to revert; Ready on 1.28 and uncordoned.
  expect(fake.node('k8s-2')).toMatchObject({ minor: 28, unschedulable: false, held: false });
  expect(fake.events('revert')).toEqual([]);
  expect(checkInvariants(fake.journal, fake.nodes)).toEqual([]);
}, 90_000);
