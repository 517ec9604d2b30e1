/**
 * The worker factory behind `runbook worker`, `runbook dev` and the tests: all runbook workflows plus
 * `createActivities({ ssh, stateDir })` on one task queue.
 */
import type { DataConverter, Duration } from '@temporalio/common';
import { NativeConnection, Worker, type WorkflowBundle } from '@temporalio/worker';
import { createActivities } from '../activities';
import { SshPool } from '../activities/ssh';
import { DEFAULT_TASK_QUEUE } from '../common/constants';

/** In-flight SSH steps get this long to finish (or to see their cancellation) when the worker stops. */
export const DEFAULT_SHUTDOWN_GRACE_TIME: Duration = '30s';

export interface CreateWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue?: string;
  /** Engine state directory (backups, labs). */
  stateDir: string;
  /** Replace the real activities (workflow-logic tests). */
  activities?: object;
  /** Use this SSH pool instead of a new one (the caller then closes it). */
  ssh?: SshPool;
  /** A pre-built bundle (tests bundle once per file); default: bundle `workflows/` at start. */
  workflowBundle?: WorkflowBundle;
  shutdownGraceTime?: Duration;
  identity?: string;
  maxConcurrentActivityTaskExecutions?: number;
  /** Payload encryption (codec/data-converter.ts); the CLI must use the same one. */
  dataConverter?: DataConverter;
}

export interface RunbookWorker {
  readonly worker: Worker;
  readonly taskQueue: string;
  /** Poll until shutdown (a signal or `shutdown()`), then close the SSH pool this worker created. */
  run(): Promise<void>;
  shutdown(): void;
}

export function workflowsPath(): string {
  return require.resolve('../workflows');
}

export async function createWorker(o: CreateWorkerOptions): Promise<RunbookWorker> {
  const ownPool = !o.activities && !o.ssh ? new SshPool() : undefined;
  const ssh = o.ssh ?? ownPool;
  const activities = o.activities ?? createActivities({ ssh: ssh!, stateDir: o.stateDir });
  const taskQueue = o.taskQueue ?? DEFAULT_TASK_QUEUE;
  const worker = await Worker.create({
    connection: o.connection,
    namespace: o.namespace,
    taskQueue,
    activities,
    ...(o.workflowBundle ? { workflowBundle: o.workflowBundle } : { workflowsPath: workflowsPath() }),
    shutdownGraceTime: o.shutdownGraceTime ?? DEFAULT_SHUTDOWN_GRACE_TIME,
    // The native bridge rejects keys present with an undefined value: pass only what is set.
    ...(o.identity ? { identity: o.identity } : {}),
    ...(o.dataConverter ? { dataConverter: o.dataConverter } : {}),
    ...(o.maxConcurrentActivityTaskExecutions
      ? { maxConcurrentActivityTaskExecutions: o.maxConcurrentActivityTaskExecutions }
      : {}),
  });
  return {
    worker,
    taskQueue,
    async run() {
      try {
        await worker.run();
      } finally {
        await ownPool?.close();
      }
    },
    shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
    },
  };
}
