/**
 * The frontend's health, then the `default` namespace and the runbook search attributes, idempotently. A freshly
 * started cluster answers before every service has joined, so each step is retried until a deadline; each attempt
 * has its own short gRPC deadline, and a server process that died ends the wait at once.
 */
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { DEFAULT_NAMESPACE, NAMESPACE_RETENTION_HOURS } from '../../common/temporal-versions';
import { registerSearchAttributes } from '../search-attributes';

const ALREADY_EXISTS = 6;
const SERVING = 1;
const ATTEMPT_MS = 5_000;

export interface WaitBounds {
  deadline: number;
  /** Throws when a process the wait depends on has exited (its log says why). */
  check: () => void;
}

async function retry<T>(what: string, b: WaitBounds, fn: () => Promise<T>): Promise<T> {
  for (let last: unknown; ; await new Promise((r) => setTimeout(r, 500))) {
    try {
      return await fn();
    } catch (e) {
      last = e;
    }
    b.check();
    if (Date.now() > b.deadline) throw new Error(`${what}: no success before the deadline (${String((last as Error)?.message ?? last).split('\n')[0].slice(0, 300)})`);
  }
}

export async function connectFrontend(address: string, b: WaitBounds): Promise<Connection> {
  return retry(`Temporal frontend at ${address}`, b, async () => {
    const connection = await Connection.connect({ address, connectTimeout: '2s' });
    try {
      const health = await connection.withDeadline(Date.now() + ATTEMPT_MS, () =>
        connection.healthService.check({ service: 'temporal.api.workflowservice.v1.WorkflowService' }),
      );
      if (health.status !== SERVING) throw new Error(`health status ${health.status}`);
      return connection;
    } catch (e) {
      await connection.close();
      throw e;
    }
  });
}

/** Register the namespace and the search attributes; resolves with what it did, for status lines. */
export async function ensureNamespace(connection: Connection, b: WaitBounds): Promise<string[]> {
  const did: string[] = [];
  const bounded = <T>(fn: () => Promise<T>) => connection.withDeadline(Date.now() + ATTEMPT_MS, fn);
  await retry(`register namespace ${DEFAULT_NAMESPACE}`, b, async () => {
    try {
      await bounded(() =>
        connection.workflowService.registerNamespace({
          namespace: DEFAULT_NAMESPACE,
          workflowExecutionRetentionPeriod: msToTs(`${NAMESPACE_RETENTION_HOURS}h`),
        }),
      );
      did.push(`namespace ${DEFAULT_NAMESPACE} registered (retention ${NAMESPACE_RETENTION_HOURS}h)`);
    } catch (e) {
      if ((e as { code?: number }).code !== ALREADY_EXISTS) throw e;
    }
  });
  // The namespace reaches the frontend's cache within a second (dynamic config); until then this says not found.
  const sa = await retry('register search attributes', b, () =>
    bounded(async () => {
      await connection.workflowService.describeNamespace({ namespace: DEFAULT_NAMESPACE });
      return registerSearchAttributes(connection, DEFAULT_NAMESPACE);
    }),
  );
  if ('skipped' in sa) throw new Error(sa.skipped);
  if (sa.added.length) did.push(`search attributes ${sa.added.join(', ')} registered`);
  return did;
}

/**
 * Until the cluster serves the namespace end to end: describing a workflow that does not exist must say the
 * workflow is not found. Right after a PostgreSQL restart, 1.29 answers "namespace not found" for a while (its
 * namespace registry turns any persistence error on a cache miss into NotFound), which a caller would take for real.
 */
export async function waitServing(connection: Connection, b: WaitBounds): Promise<void> {
  await retry('serve the namespace', b, async () => {
    try {
      await connection.withDeadline(Date.now() + ATTEMPT_MS, () =>
        connection.workflowService.describeWorkflowExecution({ namespace: DEFAULT_NAMESPACE, execution: { workflowId: `runbook-stack-probe-${Date.now()}` } }),
      );
    } catch (e) {
      const err = e as { code?: number; message?: string };
      if (err.code === 5 && !/namespace/i.test(err.message ?? '')) return;
      throw e;
    }
    throw new Error('a workflow that was never started was found');
  });
}
