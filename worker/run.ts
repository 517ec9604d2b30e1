/**
 * Run a production worker: connect, register the search attributes (idempotent, where permitted), poll until a
 * shutdown signal, let in-flight SSH steps finish within the grace time, close the connection.
 */
import * as os from 'os';
import type { Duration } from '@temporalio/common';
import { Runtime, type NativeConnection } from '@temporalio/worker';
import { loadWorkerDataConverter } from '../codec/data-converter';
import { createWorker, DEFAULT_SHUTDOWN_GRACE_TIME, type RunbookWorker } from './create-worker';
import { registerSearchAttributes } from '../local/search-attributes';

export { defaultStateDir } from '../local/state-dir';

export interface RunWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  stateDir: string;
  shutdownGraceTime?: Duration;
  /** Called once the worker polls (dev and demo start runbooks then). */
  onReady?: (w: RunbookWorker) => void | Promise<void>;
}

export async function runWorker(o: RunWorkerOptions): Promise<void> {
  const log = Runtime.instance().logger;
  // The Runtime only stops workers that exist: a signal during start-up (bundling takes seconds) must not be lost.
  let stopRequested = false;
  const onSignal = () => {
    stopRequested = true;
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
  for (const s of signals) process.once(s, onSignal);
  const sa = await registerSearchAttributes(o.connection, o.namespace).catch((e: Error) => ({ skipped: e.message }));
  if ('skipped' in sa) log.warn(`search attributes: ${sa.skipped}`);
  else if (sa.added.length) log.info('registered search attributes', { added: sa.added, namespace: o.namespace });
  const w = await createWorker({
    connection: o.connection,
    namespace: o.namespace,
    taskQueue: o.taskQueue,
    stateDir: o.stateDir,
    shutdownGraceTime: o.shutdownGraceTime ?? DEFAULT_SHUTDOWN_GRACE_TIME,
    identity: `${process.pid}@${os.hostname()} runbook-worker`,
    dataConverter: await loadWorkerDataConverter(missingKeyLogger(log)),
  });
  for (const s of signals) process.removeListener(s, onSignal);
  log.info('worker started', { taskQueue: o.taskQueue, namespace: o.namespace, stateDir: o.stateDir });
  const running = w.run();
  if (stopRequested) w.shutdown();
  else await o.onReady?.(w);
  await running;
  log.info('worker stopped');
}

/** One clear log line per key id the worker lacks: the runbooks that need it cannot run until it is given. */
function missingKeyLogger(log: { error: (message: string, meta?: Record<string, unknown>) => void }): (keyId: string) => void {
  const said = new Set<string>();
  return (keyId) => {
    if (said.has(keyId)) return;
    said.add(keyId);
    log.error(
      `codec key missing: a runbook's payloads are encrypted with key id "${keyId}", which this worker does not have; ` +
        'its workflow tasks fail until the worker is restarted with that key (RUNBOOK_CODEC_KEY_FILE, or RUNBOOK_CODEC_OLD_KEYS for an old one)',
      { keyId },
    );
  };
}
