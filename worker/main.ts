/**
 * `node dist/worker/main.js`: a worker configured by environment only (containers). The same as `runbook worker`:
 * TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE / TEMPORAL_API_KEY / TEMPORAL_TLS* / temporal.toml, RUNBOOK_TASK_QUEUE,
 * RUNBOOK_STATE_DIR, RUNBOOK_METRICS (e.g. ":9464").
 */
import { connectNative, resolveConnectConfig } from '../local/connection';
import { DEFAULT_TASK_QUEUE } from '../common/constants';
import { defaultStateDir, runWorker } from './run';
import { installRuntime } from './runtime';
import { runbookEnv } from '../local/environment';

async function main(): Promise<void> {
  installRuntime({ json: true, level: 'INFO', metricsAddress: runbookEnv('RUNBOOK_METRICS') });
  const cfg = resolveConnectConfig({});
  const connection = await connectNative(cfg);
  try {
    await runWorker({
      connection,
      namespace: cfg.namespace,
      taskQueue: runbookEnv('RUNBOOK_TASK_QUEUE') || DEFAULT_TASK_QUEUE,
      stateDir: defaultStateDir(),
    });
  } finally {
    await connection.close();
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(typeof (e as { code?: unknown }).code === 'number' ? (e as { code: number }).code : 1);
});
