/**
 * Crash resumption: the worker process is SIGKILLed while recover-quorum runs a given step (one run per step),
 * another worker takes over, and the cluster ends recovered every time, with `.reconfigure` run exactly once.
 * Also: a crash right after `.reconfigure` but before its activity reported back does not reconfigure again.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createRecoveryActivities } from '../../activities/recovery';
import { SshPool } from '../../activities/ssh';
import { progressQuery } from '../../common/messages';
import type { RecoverQuorumResult } from '../../common/recovery';
import { useServerSuite } from '../support/e2e';
import { REPO_ROOT, startRunbook } from '../support/temporal';

// The per-step cases are test.concurrent, three at a time: each mostly waits out a heartbeat timeout after its kill.
const suite = useServerSuite({ name: 'rq-crash', concurrent: true });

// The suite's state dir goes when the file ends; KEEP_CRASH_LOGS keeps the worker logs in a directory of their own.
let keptLogs: string | undefined;
const logDir = () => (process.env.KEEP_CRASH_LOGS ? (keptLogs ??= fs.mkdtempSync(path.join(os.tmpdir(), 'rq-crash-logs-'))) : suite.stateDir);

/** A worker in its own process (`node dist/worker/main.js`), as production runs it. */
let workerSeq = 0;
function workerProcess(taskQueue: string): ChildProcess {
  // Logs (JSON on stderr) go to a file, for a post-mortem when a run does not converge.
  const log = fs.openSync(path.join(logDir(), `worker-${++workerSeq}.log`), 'w');
  return spawn(process.execPath, [path.join(REPO_ROOT, 'dist/worker/main.js')], {
    cwd: REPO_ROOT,
    stdio: ['ignore', log, log],
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: suite.env.address,
      TEMPORAL_NAMESPACE: suite.env.namespace ?? 'default',
      TEMPORAL_CONFIG_FILE: '/nonexistent/temporal.toml',
      RUNBOOK_TASK_QUEUE: taskQueue,
      RUNBOOK_STATE_DIR: suite.stateDir,
    },
  });
}

function stopped(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

const STEPS = ['backupNode', 'rewriteClusterYaml', 'reconfigure', 'copyRaftFiles', 'startNode', 'removeLostNodes'];

test.concurrent.each(STEPS)('worker killed during %s: the cluster still ends recovered', async (step) => {
  const lab = await suite.lab({ name: `rqk-${step.toLowerCase().slice(0, 8)}-`, controlPlanes: 5, formed: true, profile: 'fast' });
  const taskQueue = `rq-crash-${step}-${process.pid}`;
  let worker = workerProcess(taskQueue);
  // The one running when the test ends (the killed one is replaced below).
  suite.defer(() => stopped(worker, 'SIGTERM'));
  for (const n of ['k8s-2', 'k8s-3', 'k8s-5']) await lab.fault(n, 'destroy');
  const h = await startRunbook(
    suite.env,
    { kind: 'recover-quorum', workflowType: 'recoverQuorum', inventory: lab.inventory, input: { lost: ['k8s-2', 'k8s-3', 'k8s-5'], waitTimeoutMs: 120_000 }, summary: 'crash', yes: true },
    taskQueue,
  );
  // `.reconfigure` is too quick to catch by its step name: kill the worker the moment the lab has seen it run,
  // i.e. after it changed the files and before its activity reported back (the crash window that matters).
  const reached = async () =>
    step === 'reconfigure'
      ? lab.journal().some((e) => e.event === 'reconfigured')
      : !!(await h.query(progressQuery).catch(() => undefined))?.step.startsWith(step);
  let seen = false;
  for (let i = 0; i < 2000 && !seen; i++) {
    seen = await reached();
    if (!seen) await new Promise((r) => setTimeout(r, step === 'reconfigure' ? 20 : 100));
  }
  expect(seen).toBe(true);
  await stopped(worker, 'SIGKILL');
  worker = workerProcess(taskQueue);
  const r = (await h.result()) as RecoverQuorumResult;
  expect(r.outcome).toBe('recovered');
  const st = await lab.status();
  expect(st.cluster.available).toBe(true);
  for (const n of ['k8s-1', 'k8s-4']) expect(st.nodes.find((x) => x.name === n)).toMatchObject({ ready: true, dqlite: { up: true, error: null } });
  expect(lab.journal().filter((e) => e.event === 'reconfigured')).toHaveLength(1);
}, 240_000);

test('a crash after .reconfigure ran but before it was recorded does not reconfigure again', async () => {
  const lab = await suite.lab({ name: 'rqkr', controlPlanes: 3, formed: true, profile: 'fast' });
  const ssh = new SshPool();
  suite.defer(() => ssh.close());
  for (const n of ['k8s-2', 'k8s-3']) await lab.fault(n, 'destroy');
  const acts = createRecoveryActivities({ ssh, stateDir: suite.stateDir });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const run = <R,>(fn: (input: any) => Promise<R>, input: unknown): Promise<R> => new MockActivityEnvironment().run(fn, input) as Promise<R>;
  const inventory = lab.inventory;
  await run(acts.stopMicrok8sOnNode, { inventory, node: 'k8s-1' });
  const state = await run(acts.readRaftState, { inventory, node: 'k8s-1' });
  const recoveryId = 'rq-test-1';
  await run(acts.rewriteClusterYaml, { inventory, template: 'k8s-1', recoveryId, members: [{ node: 'k8s-1', id: state.info!.id, address: state.info!.address }] });
  const first = await run(acts.reconfigureTemplate, { inventory, template: 'k8s-1', recoveryId });
  expect(first.detail).toBe('OK');
  // The crash: the activity's result never reached history, and the marker still says "reconfiguring".
  const marker = `${lab.inventory.nodes[0].paths.snapData}/current/var/kubernetes/runbook-recovery.json`;
  const m = JSON.parse(fs.readFileSync(marker, 'utf8'));
  fs.writeFileSync(marker, JSON.stringify({ ...m, phase: 'reconfiguring', files: Object.fromEntries(state.files.map((f) => [f.name, f.sha256])) }));
  const again = await run(acts.reconfigureTemplate, { inventory, template: 'k8s-1', recoveryId });
  expect(again.changed).toBe(false);
  expect(again.detail).toMatch(/had already run/);
  expect(lab.journal().filter((e) => e.event === 'reconfigured')).toHaveLength(1);
  // And a third call (marker now "reconfigured") is a no-op too.
  expect((await run(acts.reconfigureTemplate, { inventory, template: 'k8s-1', recoveryId })).detail).toBe('already reconfigured');
}, 120_000);
