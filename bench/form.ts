/**
 * Benchmark: `form` on N = 3, 10, 30 fresh lab nodes (3 control-plane nodes, the rest workers) in the realistic
 * profile. Prints the wall time of the whole runbook against the sum of the individual joins (what joining the
 * nodes one by one would cost at least), and the speed-up. Control-plane joins stay sequential; workers run in
 * lanes of --worker-concurrency. Goal: 30 nodes at least 5x faster than one by one.
 *
 * Run: npm run build && node dist/bench/form.js [--sizes 3,10,30] [--time-scale 0.25] [--worker-concurrency 5,30]
 * (--time-scale shrinks every lab duration; the speed-up does not depend on it much, the wall time does.)
 */
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { SshPool } from '../activities/ssh';
import { SEARCH_ATTRIBUTES } from '../common/constants';
import { runbookStartOptions } from '../cli/start-options';
import { findTemporalCli } from '../cli/temporal-cli';
import { Lab } from '../lab';
import { createWorker } from '../worker/create-worker';
import { installRuntime } from '../worker/runtime';
import type { FormResult } from '../common/form';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

/** The lab does not simulate the join ports: listen on each node's loopback address (as the e2e tests do). */
async function openJoinPorts(lab: Lab): Promise<net.Server[]> {
  const servers: net.Server[] = [];
  for (const n of lab.nodes) {
    for (const port of [25000, 19001, 16443]) {
      const s = net.createServer((c) => c.destroy());
      await new Promise<void>((resolve, reject) => s.once('error', reject).listen(port, n.address, () => resolve()));
      servers.push(s);
    }
  }
  return servers;
}

async function measure(env: TestWorkflowEnvironment, taskQueue: string, n: number, timeScale: number, lanes: number): Promise<string> {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'form-bench-'));
  const lab = await Lab.up({ name: `fb${n}c${lanes}`, controlPlanes: 3, workers: n - 3, profile: 'realistic', timeScale, stateDir });
  const servers = await openJoinPorts(lab);
  try {
    const spec = {
      kind: 'form' as const,
      workflowType: 'form',
      inventory: lab.inventory,
      input: { workerConcurrency: lanes, timing: { pollMs: 500, settleTimeoutMs: 15 * 60_000 } },
      summary: `bench form ${n}`,
      yes: true,
    };
    const t0 = Date.now();
    const handle = await env.client.workflow.start(spec.workflowType, runbookStartOptions(spec, { taskQueue, identity: 'bench@form' }));
    const r = (await handle.result()) as FormResult;
    const wallMs = Date.now() - t0;
    const joins = lab.journal().filter((e) => e.argv?.[0] === 'microk8s' && e.argv?.[1] === 'join' && e.exit === 0);
    const sumMs = joins.reduce((acc, e) => acc + (e.ms ?? 0), 0);
    const cpMs = joins.filter((e) => !e.argv?.includes('--worker')).reduce((acc, e) => acc + (e.ms ?? 0), 0);
    return (
      `N=${String(n).padStart(2)} lanes=${String(lanes).padStart(2)}  wall ${(wallMs / 1000).toFixed(1)} s  ` +
      `sum of ${joins.length} joins ${(sumMs / 1000).toFixed(1)} s (control planes ${(cpMs / 1000).toFixed(1)} s)  ` +
      `speed-up ${(sumMs / wallMs).toFixed(2)}x  HA ${r.verification.highAvailability ? 'yes' : 'no'}`
    );
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    await lab.down();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const sizes = flag('sizes', '3,10,30').split(',').map(Number);
  const timeScale = Number(flag('time-scale', '0.25'));
  const laneSets = flag('worker-concurrency', '5,30').split(',').map(Number);
  installRuntime({ level: 'WARN' });
  const cli = findTemporalCli();
  if (!cli.path) throw new Error('the Temporal CLI is not installed (runbook temporal-cli --install)');
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: cli.path }, searchAttributes: SEARCH_ATTRIBUTES },
  });
  const taskQueue = `bench-form-${process.pid}`;
  const ssh = new SshPool();
  const worker = await createWorker({
    connection: env.nativeConnection,
    namespace: 'default',
    taskQueue,
    stateDir: os.tmpdir(),
    ssh,
    identity: 'bench-form-worker',
    shutdownGraceTime: '1s',
  });
  const running = worker.run();
  try {
    console.log(`form benchmark: realistic profile x${timeScale} (join ${(16 * timeScale).toFixed(1)} s, role rebalance ${(30 * timeScale).toFixed(1)} s), ${os.cpus().length} cores`);
    for (const n of sizes) for (const lanes of laneSets) if (lanes === laneSets[0] || n > 10) console.log(await measure(env, taskQueue, n, timeScale, lanes));
  } finally {
    worker.shutdown();
    await running;
    await ssh.close();
    await env.teardown();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
