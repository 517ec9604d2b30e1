/**
 * form's failure paths on the lab (fast profile), each made by a lab fault: pre-flight refusals that change
 * nothing (port 25000 blocked, minor versions differ), a stale dqlite member cleaned after approval, a burnt
 * token, the join trap (undone and redone; failing clearly when it lasts), and a worker process SIGKILLed at
 * random moments: the run still completes and no node is joined twice.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as path from 'path';
import { WorkflowFailedError } from '@temporalio/client';
import type { Lab } from '../../lab';
import { nodePaths } from '../../common/inventory';
import { approveUpdate, progressQuery, type RunbookProgress } from '../../common/messages';
import type { FormResult } from '../../common/form';
import { useServerSuite } from '../support/e2e';
import { REPO_ROOT } from '../support/temporal';
import { commandsOf, FAST_TIMING, start, startFormWorker, subset, type FormWorker } from './form-support';

const suite = useServerSuite({ name: 'form-fail' });

function newLab(suffix: string, opts: { timeScale?: number; workers?: number; controlPlanes?: number } = {}): Promise<Lab> {
  return suite.lab({
    name: `ff${suffix}`,
    controlPlanes: opts.controlPlanes ?? 3,
    workers: opts.workers ?? 1,
    channel: '1.28/stable',
    profile: 'fast',
    timeScale: opts.timeScale,
  });
}

/** The form tests' own worker (form-support's, as form.test.ts has), stopped after the test (or the file, from beforeAll). */
async function formWorker(): Promise<FormWorker> {
  const worker = await startFormWorker(suite.env, suite.stateDir);
  suite.defer(() => worker.stop());
  return worker;
}

async function failure(h: { result(): Promise<unknown> }): Promise<string> {
  const err = await h.result().then(
    () => undefined,
    (e) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  // The innermost cause, as the CLI prints it (an activity's failure sits under ActivityFailure).
  let cause: Error | undefined = (err as WorkflowFailedError).cause;
  while ((cause as { cause?: Error } | undefined)?.cause) cause = (cause as { cause?: Error }).cause;
  return String(cause?.message);
}

describe('pre-flight refuses before any change', () => {
  // Made in beforeAll, so they last until the file ends.
  let lab: Lab;
  let worker: FormWorker;
  beforeAll(async () => {
    lab = await newLab('p');
    worker = await formWorker();
  });

  test('port 25000 on the primary blocked: nc -z fails, named per joining node, nothing joined', async () => {
    await lab.fault('k8s-1', 'block-port', { port: 25000 });
    try {
      const h = await start(suite.env, worker, { kind: 'form', workflowType: 'form', inventory: lab.inventory, input: { timing: FAST_TIMING }, yes: true });
      const message = await failure(h);
      const primary = lab.inventory.nodes[0].address;
      for (const n of ['k8s-2', 'k8s-3', 'k8s-w1']) {
        expect(message).toContain(`${n}: cannot reach k8s-1 (${primary}) on 25000/tcp (cluster agent (microk8s join))`);
      }
      expect(message).not.toMatch(/19001\/tcp|16443\/tcp/);
      expect(commandsOf(lab, 'join')).toEqual([]);
      expect(commandsOf(lab, 'add-node')).toEqual([]);
      // The probe is `nc -z -w 3 IP PORT` from each joining node, journalled by the lab.
      const probes = lab.journal().filter((e) => e.argv?.[0] === 'nc' && e.argv.includes('25000'));
      expect(new Set(probes.map((e) => e.node))).toEqual(new Set(['k8s-2', 'k8s-3', 'k8s-w1']));
      expect(probes.every((e) => e.exit === 1 && e.argv!.join(' ') === `nc -z -w 3 ${primary} 25000`)).toBe(true);
    } finally {
      await lab.heal('k8s-1');
    }
  });

  test('minor versions differ: refused with the fix, nothing joined', async () => {
    const refreshed = await lab.exec('k8s-3', 'sudo snap refresh microk8s --channel=1.29/stable');
    expect(refreshed.code).toBe(0);
    const h = await start(suite.env, worker, { kind: 'form', workflowType: 'form', inventory: lab.inventory, input: { timing: FAST_TIMING }, yes: true });
    const message = await failure(h);
    expect(message).toMatch(/minor versions differ \(1\.28 on k8s-1, k8s-2, k8s-w1; 1\.29 on k8s-3\).*refresh the others to 1\.28/);
    expect(message).not.toMatch(/cannot reach/);
    expect(commandsOf(lab, 'join')).toEqual([]);
  });
});

test('a stale dqlite member blocks a join; it is removed after approval, then the node joins', async () => {
  const lab = await newLab('s', { workers: 0 });
  const worker = await formWorker();
  const two = subset(lab.inventory, ['k8s-1', 'k8s-2']);
  await (await start(suite.env, worker, { kind: 'form', workflowType: 'form', inventory: two, input: { timing: FAST_TIMING }, yes: true })).result();
  // k8s-3's address left in dqlite by an earlier, failed join (behaviour reference §9 row 2).
  const k3 = lab.inventory.nodes.find((n) => n.name === 'k8s-3')!;
  await lab.fault('k8s-3', 'stale-member', { clusterOf: 'k8s-1' });

  const h = await start(suite.env, worker, { kind: 'form', workflowType: 'form', inventory: lab.inventory, input: { timing: FAST_TIMING }, yes: true });
  let pending: RunbookProgress['pendingApproval'];
  for (let i = 0; i < 150 && !pending; i++) {
    pending = ((await h.query(progressQuery)) as RunbookProgress).pendingApproval;
    if (!pending) await new Promise((r) => setTimeout(r, 100));
  }
  expect(pending?.summary).toContain(`remove stale dqlite member ${k3.address}:19001 so k8s-3 can join`);
  expect(commandsOf(lab, 'remove-node')).toEqual([]);
  await h.executeUpdate(approveUpdate, { args: [{ id: pending!.id, by: 'tester@jest' }] });
  const r = (await h.result()) as FormResult;
  expect(r.verification.highAvailability).toBe(true);

  const removes = commandsOf(lab, 'remove-node');
  expect(removes.map((e) => e.argv!.slice(-2))).toEqual([[k3.address, '--force']]);
  const k3join = commandsOf(lab, 'join').filter((e) => e.node === 'k8s-3' && e.exit === 0);
  expect(k3join).toHaveLength(1);
  expect(Date.parse(removes[0].t)).toBeLessThan(Date.parse(k3join[0].t));
});

test('a join killed mid-way leaves join-in-progress; the next run clears the stale lock instead of waiting for it', async () => {
  const lab = await newLab('j', { workers: 0, controlPlanes: 2, timeScale: 20 });
  const worker = await formWorker();
  const [k1, k2] = lab.inventory.nodes;
  const lock = `${nodePaths(k2).locks}/join-in-progress`;
  // A join to a hung node waits for its connect timeout; the operator's session dies meanwhile.
  await lab.fault('k8s-1', 'hang');
  const killed = await lab.exec('k8s-2', `sudo -n microk8s join ${k1.address}:25000/${'a'.repeat(32)}`, { timeoutMs: 1_500 });
  expect(killed.code).toBeNull();
  await lab.heal('k8s-1');
  expect((await lab.exec('k8s-2', `test -e ${lock} && echo left`)).stdout).toBe('left\n');

  const h = await start(suite.env, worker, { kind: 'form', workflowType: 'form', inventory: lab.inventory, input: { timing: { ...FAST_TIMING, settleTimeoutMs: 120_000 } }, yes: true });
  const r = (await h.result()) as FormResult;
  expect(r.verification.problems).toEqual([]);
  const rm = lab.journal().filter((e) => e.node === 'k8s-2' && e.argv?.[0] === 'rm' && e.argv.at(-1) === lock);
  expect(rm.map((e) => e.exit)).toEqual([0]);
  expect((await lab.exec('k8s-2', `test -e ${lock} || echo gone`)).stdout).toBe('gone\n');
  // Cleared, not waited out: the join came right after the lock was removed.
  expect(commandsOf(lab, 'join').filter((e) => e.node === 'k8s-2' && e.exit === 0)).toHaveLength(1);
});

test('a burnt token costs a new one; a join that did not converge is left and redone; a lasting one fails clearly', async () => {
  const lab = await newLab('t', { controlPlanes: 4, workers: 0 });
  const worker = await formWorker();
  const joinExits = (node: string) => commandsOf(lab, 'join').filter((e) => e.node === node).map((e) => e.exit);
  await lab.fault('k8s-2', 'burn-next-token');
  await lab.fault('k8s-3', 'no-converge');
  const three = subset(lab.inventory, ['k8s-1', 'k8s-2', 'k8s-3']);
  const r = (await (await start(suite.env, worker, { kind: 'form', workflowType: 'form', inventory: three, input: { timing: FAST_TIMING }, yes: true })).result()) as FormResult;
  expect(r.verification.highAvailability).toBe(true);
  // Burnt token: Invalid token (exit 6), then a new token joins.
  expect(joinExits('k8s-2')).toEqual([6, 0]);
  expect(lab.journal().filter((e) => e.event === 'token-burnt' && e.fault === 'burn-next-token')).toHaveLength(1);
  // The join trap: exit 0 twice, seen in .cluster, undone with leave in between.
  expect(joinExits('k8s-3')).toEqual([0, 0]);
  const j = lab.journal();
  const at = (event: string) => j.findIndex((e) => e.event === event && e.node === 'k8s-3');
  expect(at('join-not-converged')).toBeGreaterThanOrEqual(0);
  expect(at('left')).toBeGreaterThan(at('join-not-converged'));
  expect(at('joined')).toBeGreaterThan(at('left'));
  expect(r.notes.join('\n')).toContain('k8s-3: microk8s join exited 0 without converging 1 time(s) (the join trap); undone with microk8s leave and joined again');
  const st = await lab.status();
  expect(st.cluster.voters.sort()).toEqual(['k8s-1', 'k8s-2', 'k8s-3']);

  // A voter down while quorum holds traps every join (reference §9 row 6): three tries, each undone, then a clear failure.
  await lab.fault('k8s-3', 'crash');
  const rest = subset(lab.inventory, ['k8s-1', 'k8s-2', 'k8s-4']);
  const message = await failure(await start(suite.env, worker, { kind: 'form', workflowType: 'form', inventory: rest, input: { timing: FAST_TIMING }, yes: true }));
  const k4 = lab.inventory.nodes.find((n) => n.name === 'k8s-4')!.address;
  expect(message).toContain(`k8s-4: "microk8s join" exited 0 3 time(s) but ${k4}:19001 never appeared in dqlite .cluster on k8s-1 (the join trap)`);
  expect(message).toMatch(/every control-plane node of the cluster is up .* 19001\/tcp is open/);
  expect(joinExits('k8s-4')).toEqual([0, 0, 0]);
  expect(commandsOf(lab, 'leave').filter((e) => e.node === 'k8s-4').map((e) => e.exit)).toEqual([0, 0, 0]);
  const after = await lab.status();
  expect(after.cluster.nodes).not.toContain('k8s-4');
  expect(after.nodes.find((n) => n.name === 'k8s-4')!.dqlite?.error ?? null).toBeNull();
});

test('the worker process is SIGKILLed at random moments; the run completes and no node joins twice', async () => {
  const lab = await newLab('k', { timeScale: 40, workers: 2 });
  const taskQueue = `form-crash-${process.pid}`;
  const spawnWorker = (): ChildProcess =>
    spawn(process.execPath, [path.join(REPO_ROOT, 'dist/test/e2e/form-worker-main.js')], {
      env: { ...process.env, TEMPORAL_ADDRESS: suite.env.address, FORM_TASK_QUEUE: taskQueue, FORM_STATE_DIR: suite.stateDir },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
  const ready = (p: ChildProcess) => new Promise<void>((resolve) => p.stdout!.once('data', () => resolve()));
  let child = spawnWorker();
  // The last one spawned (each killed one is replaced below).
  suite.defer(async () => {
    child.kill('SIGKILL');
  });
  await ready(child);
  const h = await start(suite.env, { taskQueue, stop: async () => undefined }, {
    kind: 'form',
    workflowType: 'form',
    inventory: lab.inventory,
    input: { timing: { ...FAST_TIMING, heartbeatTimeoutMs: 3_000 } },
    yes: true,
  });
  const kills: string[] = [];
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 300 + Math.floor(Math.random() * 1500)));
    const step = ((await h.query(progressQuery).catch(() => undefined)) as RunbookProgress | undefined)?.step;
    if (step === undefined) break; // finished (or between workers): stop killing
    kills.push(step);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    child = spawnWorker();
    await ready(child);
  }
  const r = (await h.result()) as FormResult;
  expect(r.verification.highAvailability).toBe(true);
  const status = await lab.status();
  expect(status.cluster.nodes.sort()).toEqual(lab.inventory.nodes.map((n) => n.name).sort());
  // Each node joined exactly once, whatever step the kills hit.
  const joined = commandsOf(lab, 'join').filter((e) => e.exit === 0).map((e) => e.node);
  expect(joined.sort()).toEqual(['k8s-2', 'k8s-3', 'k8s-w1', 'k8s-w2']);
  console.log(`form crash test: killed the worker during ${JSON.stringify(kills)}`);
}, 180_000);
