/**
 * A runbook worker in its own process, for the form crash-resume test (the test SIGKILLs it mid-run).
 * Run compiled: `node dist/test/e2e/form-worker-main.js` with TEMPORAL_ADDRESS, FORM_TASK_QUEUE and FORM_STATE_DIR.
 */
import { NativeConnection } from '@temporalio/worker';
import { createWorker } from '../../worker/create-worker';
import { installRuntime } from '../../worker/runtime';

async function main(): Promise<void> {
  installRuntime({ level: 'WARN' });
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS! });
  const worker = await createWorker({
    connection,
    namespace: 'default',
    taskQueue: process.env.FORM_TASK_QUEUE!,
    stateDir: process.env.FORM_STATE_DIR!,
    identity: `form-crash-worker-${process.pid}`,
    shutdownGraceTime: '1s',
  });
  process.stdout.write('worker ready\n');
  await worker.run();
  await connection.close();
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
