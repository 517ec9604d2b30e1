/**
 * Per-step cost of the engine (issue 2's benchmark): K=200 trivial remote steps (`true`) as Temporal activities
 * through the real dev server and a real worker with the pooled SSH layer, against (a) K sequential `ssh node true`
 * with the OpenSSH client and (b) K execs over one ssh2 connection (bench/ssh-step.ts); the engine column twice, on
 * the dev server and on the production stack (Temporal 1.29.1 on PostgreSQL, `runbook stack`), in one run.
 * An engine step is measured from the history: the time between consecutive ActivityTaskCompleted events, i.e.
 * workflow task → schedule → worker poll → SSH exec → completion.
 *
 *   npm run build && node dist/bench/engine-step.js        # BENCH_K=50 for a quick run
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Client, Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { SshPool } from '../activities/ssh';
import { findTemporalCli } from '../cli/temporal-cli';
import { DEFAULT_NAMESPACE } from '../common/temporal-versions';
import { startStack } from '../local/stack/stack';
import { main as sshStepMain, summarize, type BenchTarget, type ColumnResult } from './ssh-step';

export interface EngineStepActivities {
  benchStep(): Promise<void>;
}

/** The server a column runs on: the dev server (SQLite, one process), or the production stack on PostgreSQL. */
interface BenchServer {
  name: string;
  nativeConnection: NativeConnection;
  client: Client;
  teardown(): Promise<void>;
}

async function devServer(): Promise<BenchServer> {
  const cli = findTemporalCli().path;
  if (!cli) throw new Error('no Temporal CLI: run `node dist/cli/main.js temporal-cli --install` first');
  const env = await TestWorkflowEnvironment.createLocal({ server: { executable: { type: 'existing-path', path: cli } } });
  return { name: 'dev server', nativeConnection: env.nativeConnection, client: env.client, teardown: () => env.teardown() };
}

/** `runbook stack` in a private state dir on free ports: PostgreSQL, the four server services (binaries cached). */
async function postgresStack(): Promise<BenchServer> {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-stack-'));
  const base = 20000 + Math.floor(Math.random() * 10000);
  const stack = await startStack({ stateDir, port: base, uiPort: base + 20, pgPort: base + 21, install: false });
  const nativeConnection = await NativeConnection.connect({ address: stack.address });
  const connection = await Connection.connect({ address: stack.address });
  return {
    name: 'Temporal 1.29.1 on PostgreSQL (runbook stack)',
    nativeConnection,
    client: new Client({ connection, namespace: DEFAULT_NAMESPACE }),
    async teardown() {
      await connection.close();
      await nativeConnection.close();
      await stack.stop({ purge: true });
      fs.rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

async function measureEngine({ node, knownHosts }: BenchTarget, k: number, server: () => Promise<BenchServer>): Promise<ColumnResult> {
  const env = await server();
  const pool = new SshPool();
  try {
    const sh = pool.session(node, { knownHosts, hostKeyPolicy: 'strict' });
    await sh.check('true'); // connect outside the timing, as the ssh2 column does
    const activities: EngineStepActivities = { benchStep: async () => void (await sh.check('true', { quiet: true })) };
    const workflowBundle = await bundleWorkflowCode({
      workflowsPath: require.resolve('./workflows/engine-step'),
      logger: new DefaultLogger('ERROR'),
    });
    const taskQueue = 'bench-engine-step';
    const worker = await Worker.create({ connection: env.nativeConnection, namespace: DEFAULT_NAMESPACE, taskQueue, workflowBundle, activities });
    const durations: number[] = [];
    await worker.runUntil(async () => {
      const warm = await env.client.workflow.start('engineStepBench', { taskQueue, workflowId: 'bench-warm', args: [5] });
      await warm.result();
      const handle = await env.client.workflow.start('engineStepBench', { taskQueue, workflowId: 'bench-engine-step', args: [k] });
      await handle.result();
      const history = await handle.fetchHistory();
      const done = (history.events ?? [])
        .filter((e) => e.activityTaskCompletedEventAttributes)
        .map((e) => Number(e.eventTime!.seconds) * 1000 + (e.eventTime!.nanos ?? 0) / 1e6);
      for (let i = 1; i < done.length; i++) durations.push(done[i] - done[i - 1]);
    });
    return { name: `engine: one Temporal activity per step, ${env.name}`, ...summarize(durations) };
  } finally {
    await pool.close();
    await env.teardown();
  }
}

export async function main(k = Number(process.env.BENCH_K ?? 200)): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  // Both servers in one run, so the load on the machine is the same for both columns.
  await sshStepMain(k, [], async (target) => [await measureEngine(target, k, devServer), await measureEngine(target, k, postgresStack)]);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
