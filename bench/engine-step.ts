/**
 * Per-step cost of the engine (issue 2's benchmark): K=200 trivial remote steps (`true`) as Temporal activities
 * through the real dev server and a real worker with the pooled SSH layer, against (a) K sequential `ssh node true`
 * with the OpenSSH client and (b) K execs over one ssh2 connection (bench/ssh-step.ts).
 * An engine step is measured from the history: the time between consecutive ActivityTaskCompleted events, i.e.
 * workflow task → schedule → worker poll → SSH exec → completion.
 *
 *   npm run build && node dist/bench/engine-step.js        # BENCH_K=50 for a quick run
 */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { SshPool } from '../activities/ssh';
import { findTemporalCli } from '../cli/temporal-cli';
import { main as sshStepMain, summarize, type BenchTarget, type ColumnResult } from './ssh-step';

export interface EngineStepActivities {
  benchStep(): Promise<void>;
}

async function measureEngine({ node, knownHosts }: BenchTarget, k: number): Promise<ColumnResult> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const cli = findTemporalCli().path;
  if (!cli) throw new Error('no Temporal CLI: run `node dist/cli/main.js temporal-cli --install` first');
  const env = await TestWorkflowEnvironment.createLocal({ server: { executable: { type: 'existing-path', path: cli } } });
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
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle, activities });
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
    return { name: 'engine: one Temporal activity per step', ...summarize(durations) };
  } finally {
    await pool.close();
    await env.teardown();
  }
}

export async function main(k = Number(process.env.BENCH_K ?? 200)): Promise<void> {
  await sshStepMain(k, [], (target) => measureEngine(target, k));
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
