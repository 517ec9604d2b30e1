/**
 * A runbook worker in its own process, for the chaos driver to SIGKILL: the production worker (createWorker with
 * the real activities and SSH pool) on a pre-built workflow bundle, because bundling costs seconds of CPU at every
 * start and the driver restarts it up to K times. Prints `worker ready` once it polls.
 * Env: TEMPORAL_ADDRESS, CHAOS_TASK_QUEUE, CHAOS_STATE_DIR, CHAOS_BUNDLE (the bundle's file), CHAOS_GRACE (e.g. 2s).
 */
import * as fs from 'fs';
import { NativeConnection } from '@temporalio/worker';
import { createWorker } from '../../worker/create-worker';
import { installRuntime } from '../../worker/runtime';

async function main(): Promise<void> {
  installRuntime({ level: 'WARN', json: true });
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS! });
  const worker = await createWorker({
    connection,
    namespace: 'default',
    taskQueue: process.env.CHAOS_TASK_QUEUE!,
    stateDir: process.env.CHAOS_STATE_DIR!,
    workflowBundle: { code: fs.readFileSync(process.env.CHAOS_BUNDLE!, 'utf8') },
    identity: `chaos-worker-${process.pid}`,
    shutdownGraceTime: (process.env.CHAOS_GRACE ?? '2s') as '2s',
  });
  const running = worker.run();
  process.stdout.write('worker ready\n');
  await running;
  await connection.close();
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
