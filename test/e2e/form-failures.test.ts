/**
 * form's failure paths on the lab (fast profile): pre-flight refusals that change nothing (port 25000 closed,
 * minor versions differ), a stale dqlite member cleaned after approval, and a worker process SIGKILLed at random
 * moments: the run still completes and no node is joined twice.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { WorkflowFailedError } from '@temporalio/client';
import { Lab } from '../../lab';
import { syncClusterYamls } from '../../lab/sim/backend';
import { withState } from '../../lab/sim/store';
import { approveUpdate, progressQuery, type RunbookProgress } from '../../common/messages';
import type { FormResult } from '../../workflows/form';
import { REPO_ROOT, startTemporal } from '../support/temporal';
import { commandsOf, FAST_TIMING, openJoinPorts, start, startFormWorker, subset, type FormWorker } from './form-support';

let env: TestWorkflowEnvironment;
let stateDir: string;
const labs: Lab[] = [];

beforeAll(async () => {
  stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'form-fail-'));
  env = await startTemporal();
});

afterAll(async () => {
  for (const lab of labs) await lab.down().catch(() => undefined);
  await env?.teardown();
  if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
});

async function newLab(suffix: string, opts: { timeScale?: number; workers?: number } = {}): Promise<Lab> {
  const lab = await Lab.up({
    name: `ff${suffix}${process.pid % 10000}`,
    controlPlanes: 3,
    workers: opts.workers ?? 1,
    channel: '1.28/stable',
    profile: 'fast',
    timeScale: opts.timeScale,
    stateDir,
  });
  labs.push(lab);
  return lab;
}

async function failure(h: { result(): Promise<unknown> }): Promise<string> {
  const err = await h.result().then(
    () => undefined,
    (e) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  return String((err as WorkflowFailedError).cause?.message);
}

describe('pre-flight refuses before any change', () => {
  let lab: Lab;
  let worker: FormWorker;
  beforeAll(async () => {
    lab = await newLab('p');
    worker = await startFormWorker(env, stateDir);
  });
  afterAll(async () => {
    await worker?.stop();
  });

  test('port 25000 on the primary unreachable: named per joining node, nothing joined', async () => {
    const close = await openJoinPorts(lab, (node, port) => node === 'k8s-1' && port === 25000);
    try {
      const h = await start(env, worker, { kind: 'form', workflowType: 'form', inventory: lab.inventory, input: { timing: FAST_TIMING }, yes: true });
      const message = await failure(h);
      const primary = lab.inventory.nodes[0].address;
      for (const n of ['k8s-2', 'k8s-3', 'k8s-w1']) {
        expect(message).toContain(`${n}: cannot reach k8s-1 (${primary}) on 25000/tcp (cluster agent (microk8s join))`);
      }
      expect(message).not.toMatch(/19001\/tcp|16443\/tcp/);
      expect(commandsOf(lab, 'join')).toEqual([]);
      expect(commandsOf(lab, 'add-node')).toEqual([]);
    } finally {
      await close();
    }
  });

  test('minor versions differ: refused with the fix, nothing joined', async () => {
    const refreshed = await lab.exec('k8s-3', 'sudo snap refresh microk8s --channel=1.29/stable');
    expect(refreshed.code).toBe(0);
    const close = await openJoinPorts(lab);
    try {
      const h = await start(env, worker, { kind: 'form', workflowType: 'form', inventory: lab.inventory, input: { timing: FAST_TIMING }, yes: true });
      const message = await failure(h);
      expect(message).toMatch(/minor versions differ \(1\.28 on k8s-1, k8s-2, k8s-w1; 1\.29 on k8s-3\).*refresh the others to 1\.28/);
      expect(commandsOf(lab, 'join')).toEqual([]);
    } finally {
      await close();
    }
  });
});

test('a stale dqlite member blocks a join; it is removed after approval, then the node joins', async () => {
  const lab = await newLab('s', { workers: 0 });
  const close = await openJoinPorts(lab);
  const worker = await startFormWorker(env, stateDir);
  try {
    const two = subset(lab.inventory, ['k8s-1', 'k8s-2']);
    await (await start(env, worker, { kind: 'form', workflowType: 'form', inventory: two, input: { timing: FAST_TIMING }, yes: true })).result();
    // k8s-3's address left in dqlite by an earlier, failed join (behaviour reference §9 row 2).
    const k3 = lab.inventory.nodes.find((n) => n.name === 'k8s-3')!;
    withState(lab.dir, (s) => {
      const c = s.clusters[s.nodes['k8s-1'].cluster];
      c.members.push({ id: '9373968242441247628', address: `${k3.address}:19001`, role: 2, node: null });
      syncClusterYamls(lab.dir, s, c, () => true);
    });

    const h = await start(env, worker, { kind: 'form', workflowType: 'form', inventory: lab.inventory, input: { timing: FAST_TIMING }, yes: true });
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
  } finally {
    await worker.stop();
    await close();
  }
});

test('the worker process is SIGKILLed at random moments; the run completes and no node joins twice', async () => {
  const lab = await newLab('k', { timeScale: 40, workers: 2 });
  const close = await openJoinPorts(lab);
  const taskQueue = `form-crash-${process.pid}`;
  const spawnWorker = (): ChildProcess =>
    spawn(process.execPath, [path.join(REPO_ROOT, 'dist/test/e2e/form-worker-main.js')], {
      env: { ...process.env, TEMPORAL_ADDRESS: env.address, FORM_TASK_QUEUE: taskQueue, FORM_STATE_DIR: stateDir },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
  const ready = (p: ChildProcess) => new Promise<void>((resolve) => p.stdout!.once('data', () => resolve()));
  let child = spawnWorker();
  try {
    await ready(child);
    const h = await start(env, { taskQueue, stop: async () => undefined }, {
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
  } finally {
    child.kill('SIGKILL');
    await close();
  }
}, 180_000);
