/**
 * `runbook watch` across a Temporal server restart (issue 14 §2): the server is SIGKILLed mid-runbook and comes
 * back on the same port and database. watch shows "reconnecting", then "reconnected", and exits with the runbook's
 * real outcome (0), never "failed" for a runbook that did not fail. The bound (exit 3) is tested in
 * test/unit/reconnect.test.ts.
 * Its own server (test/chaos/temporal-server.ts), not the shared fixture's: the test kills and restarts it.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Client, Connection } from '@temporalio/client';
import { Context } from '@temporalio/activity';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { runbookStartOptions } from '../../cli/start-options';
import { resolveInventory } from '../../common/inventory';
import { startDevServer, type DevServer } from '../chaos/temporal-server';
import type { WatchTestActivities } from '../fixtures/watch-workflows';
import { CLI_MAIN, REPO_ROOT } from '../support/temporal';

const taskQueue = `reconnect-${process.pid}`;
const quiet = () => undefined;
const gates = new Map<string, () => void>();
let dir: string;
let server: DevServer;
let worker: Worker;
let running: Promise<void>;
let client: Client;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'watch-reconnect-'));
  server = await startDevServer(dir);
  const activities: WatchTestActivities = {
    refreshNode: (node) => new Promise((resolve) => gates.set(`${Context.current().info.workflowExecution?.workflowId}/${node}`, () => resolve(node))),
  };
  worker = await Worker.create({
    connection: await NativeConnection.connect({ address: server.address }),
    taskQueue,
    activities,
    workflowBundle: await bundleWorkflowCode({
      workflowsPath: require.resolve('../fixtures/watch-workflows'),
      logger: { log: quiet, trace: quiet, debug: quiet, info: quiet, warn: quiet, error: quiet },
    }),
    shutdownGraceTime: '1s',
  });
  running = worker.run();
  client = new Client({ connection: await Connection.connect({ address: server.address }) });
}, 120_000);

afterAll(async () => {
  worker?.shutdown();
  await running?.catch(() => undefined);
  await client?.connection.close().catch(() => undefined);
  const scan = await server?.scanHistories();
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
  expect(scan?.findings ?? []).toEqual([]);
});

async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function watch(id: string, env: Record<string, string> = {}) {
  let out = '';
  const child = spawn(process.execPath, [CLI_MAIN, 'watch', id], {
    cwd: REPO_ROOT,
    env: { ...process.env, TEMPORAL_ADDRESS: server.address, TEMPORAL_CONFIG_FILE: '/nonexistent/temporal.toml', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  return { output: () => out, done };
}

async function start(cluster: string) {
  const inventory = resolveInventory({ cluster, nodes: [{ name: 'k8s-1', address: '10.0.0.1' }] }, 'reconnect-test');
  return client.workflow.start('watchTestRunbook', runbookStartOptions({ kind: 'upgrade', inventory, input: {}, summary: `upgrade ${cluster}`, yes: true }, { taskQueue, identity: 'tester@jest' }));
}

test('a server SIGKILLed and restarted mid-runbook: reconnecting, then the real outcome (exit 0)', async () => {
  const h = await start('reconnect-ok');
  const w = watch(h.workflowId);
  await waitFor('the refresh to start', () => gates.get(`${h.workflowId}/k8s-1`));
  await waitFor('watch to show the step', () => /refreshSnap k8s-1/.test(w.output()));
  await server.restart('SIGKILL', 10_000);
  await waitFor('watch to say it reconnects', () => /reconnecting: lost Temporal/.test(w.output())).catch((e) => {
    throw new Error(`${(e as Error).message}; watch printed:\n${w.output()}`);
  });
  gates.get(`${h.workflowId}/k8s-1`)!();
  expect(await w.done).toBe(0);
  expect(w.output()).toMatch(/reconnected after \d+ s/);
  expect(w.output()).not.toMatch(/runbook failed|Failed to get Workflow execution history/);
  expect((await h.describe()).status.name).toBe('COMPLETED');
}, 120_000);
