/**
 * The production topology for real (issue 14): the Temporal server 1.29.1 on PostgreSQL as four services, the UI
 * server, two `runbook worker` processes and the `runbook` CLI, against a lab behind real sshd. form; an upgrade
 * with an injected failure that is rolled back; a second upgrade during which all four server services are
 * SIGKILLed and restarted, PostgreSQL is restarted and one worker is SIGKILLed; then recover-quorum. Every runbook
 * ends as intended, the journal invariants hold, and after a full stop and start of the stack the histories are
 * read back from PostgreSQL.
 */
import { execFile, spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Client, Connection } from '@temporalio/client';
import type { RefreshPolicyResult } from '../../common/refresh-policy';
import { DEFAULT_NAMESPACE } from '../../common/temporal-versions';
import { clusterWorkflowId } from '../../common/constants';
import { startStack, type StackHandle } from '../../local/stack/stack';
import type { StackPorts } from '../../local/stack/layout';
import { Lab } from '../../lab';
import { journalInvariants } from '../e2e/upgrade-support';
import { waitFor } from '../support/lab';
import { freeStackPorts } from '../support/stack';
import { CLI_MAIN, REPO_ROOT } from '../support/temporal';

const TASK_QUEUE = `prod-${process.pid}`;
let stateDir: string;
let ports: StackPorts;
let stack: StackHandle;
let lab: Lab;
const workers: ChildProcess[] = [];

function spawnWorker(): ChildProcess {
  const child = spawn(process.execPath, [CLI_MAIN, 'worker', '--state-dir', stateDir, '--log-level', 'ERROR', '--shutdown-grace', '1s'], {
    cwd: REPO_ROOT,
    env: { ...process.env, TEMPORAL_ADDRESS: stack.address, TEMPORAL_NAMESPACE: DEFAULT_NAMESPACE, TEMPORAL_CONFIG_FILE: '/nonexistent/temporal.toml', RUNBOOK_TASK_QUEUE: TASK_QUEUE },
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  workers.push(child);
  return child;
}

/** `runbook <args>` against the stack, as a user runs it. Never throws on a non-zero exit. */
function cli(args: string[], timeoutMs = 300_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI_MAIN, ...args],
      { cwd: REPO_ROOT, timeout: timeoutMs, env: { ...process.env, TEMPORAL_ADDRESS: stack.address, TEMPORAL_CONFIG_FILE: '/nonexistent/temporal.toml', RUNBOOK_TASK_QUEUE: TASK_QUEUE, RUNBOOK_UI_URL: stack.uiUrl } },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

async function withClient<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address: stack.address });
  try {
    return await fn(new Client({ connection, namespace: DEFAULT_NAMESPACE }));
  } finally {
    await connection.close();
  }
}

/** Both workers poll the task queue (the server knows them). */
async function pollers(): Promise<number> {
  return withClient(async (c) => {
    const r = await c.workflowService.describeTaskQueue({ namespace: DEFAULT_NAMESPACE, taskQueue: { name: TASK_QUEUE }, taskQueueType: 1 });
    return new Set((r.pollers ?? []).map((p) => p.identity)).size;
  });
}

beforeAll(async () => {
  stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'prod-stack-'));
  ports = await freeStackPorts();
  [stack, lab] = await Promise.all([
    startStack({ stateDir, ...ports, install: false }),
    Lab.up({ name: `prod${process.pid % 10000}`, controlPlanes: 3, workers: 2, channel: '1.28/stable', profile: 'fast', stateDir }),
  ]);
  spawnWorker();
  spawnWorker();
  await waitFor('two workers polling', async () => ((await pollers().catch(() => 0)) >= 2 ? true : undefined), 60_000);
}, 240_000);

afterAll(async () => {
  for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
  await lab?.down();
  await stack?.stop({ purge: true });
  if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
});

test('form, an upgrade rolled back, an upgrade through server, PostgreSQL and worker kills, recover-quorum; histories in PostgreSQL', async () => {
  const inv = lab.inventoryPath;
  const form = await cli(['form', '-i', inv, '--yes']);
  expect([form.code, form.stderr]).toEqual([0, expect.any(String)]);

  await lab.fault('k8s-2', 'fail-upgrade', { to: '1.29' });
  const failed = await cli(['upgrade', '-i', inv, '--to', '1.29/stable', '--yes', '--rollback', 'node', '--ready-timeout', '15s']);
  expect(failed.code).toBe(1);
  expect(failed.stderr).toMatch(/upgrade stopped at k8s-2 .*rolled back the failed node/);
  await lab.heal('k8s-2');

  // The second upgrade, with the chaos the issue names while it runs.
  const since = lab.journal().length;
  const upgrade = cli(['upgrade', '-i', inv, '--to', '1.29/stable', '--yes']);
  await waitFor('the upgrade to cordon a node', async () => (lab.journal().slice(since).some((e) => e.event === 'cordoned') ? true : undefined), 120_000);
  await stack.restartServerServices('SIGKILL');
  await stack.restartPostgres();
  workers[0].kill('SIGKILL');
  const done = await upgrade;
  expect(done.code).toBe(0);
  expect(journalInvariants(lab.journal().slice(since), ['k8s-1', 'k8s-2', 'k8s-3'])).toEqual([]);
  const status = await cli(['refresh-policy', '-i', inv, '--status', '--json']);
  expect((JSON.parse(status.stdout) as RefreshPolicyResult).nodes.map((n) => n.tracking)).toEqual(Array(5).fill('1.29/stable'));

  await lab.fault('k8s-2', 'destroy');
  await lab.fault('k8s-3', 'destroy');
  const recovered = await cli(['recover-quorum', '-i', inv, '--lost', 'k8s-2,k8s-3', '--yes']);
  expect(recovered.code).toBe(0);

  // A full stop and start of the stack: what the runs did is read back from PostgreSQL.
  await stack.stop();
  stack = await startStack({ stateDir, ...ports, install: false });
  const runs = await withClient(async (c) => {
    const out: Array<[string, string]> = [];
    for await (const w of c.workflow.list({ query: `RunbookCluster = '${lab.inventory.cluster}'` })) out.push([w.type, w.status.name]);
    return out.reverse().filter(([type]) => !['upgradeNode', 'rollbackNode'].includes(type)); // each node's child runs too
  });
  expect(runs).toEqual([
    ['form', 'COMPLETED'],
    ['rollingUpgrade', 'FAILED'],
    ['rollingUpgrade', 'COMPLETED'],
    ['refreshPolicy', 'COMPLETED'],
    ['recoverQuorum', 'COMPLETED'],
  ]);
  const rows = Number((await stack.sql(`SELECT count(*) FROM executions e JOIN current_executions c ON c.run_id = e.run_id WHERE c.workflow_id = '${clusterWorkflowId(lab.inventory.cluster)}'`)).trim());
  expect(rows).toBeGreaterThanOrEqual(1);
  const historyRows = Number((await stack.sql('SELECT count(*) FROM history_node')).trim());
  expect(historyRows).toBeGreaterThan(50);
  const audit = await cli(['history', clusterWorkflowId(lab.inventory.cluster), '--json']);
  expect(audit.code).toBe(0);
  expect(JSON.parse(audit.stdout).workflowType).toBe('recoverQuorum');
}, 900_000);
