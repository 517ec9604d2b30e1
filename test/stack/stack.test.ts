/**
 * `runbook stack` for real: PostgreSQL, the four Temporal server processes and the UI server from the cached
 * binaries, on free ports, in a private state dir. Up, status, a client, the UI, a second up that does nothing,
 * SIGKILL of the four services and a PostgreSQL restart that both come back, bad flags, and down leaving no process.
 * Needs PostgreSQL and the stack binaries (`.ci/run` installs both; `runbook stack binaries --install`).
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { Client, Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../../common/constants';
import { DEFAULT_NAMESPACE } from '../../common/temporal-versions';

import { SERVER_SERVICES, STACK_COMPONENTS, stackPaths, type StackPorts } from '../../local/stack/layout';
import { isAlive, readPidRecord } from '../../local/stack/processes';
import { startStack, type StackHandle } from '../../local/stack/stack';
import { purgeStack } from '../../local/stack/stop';
import { freeStackPorts } from '../support/stack';

const execFileP = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, [path.join(ROOT, 'dist/cli/main.js'), ...args], { timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

const portFlags = (p: StackPorts) => ['--port', String(p.port), '--ui-port', String(p.uiPort), '--pg-port', String(p.pgPort)];
/** Start a workflow no worker serves (history and matching must take it), describe it running, terminate it. */
async function startAndTerminate(id: string): Promise<string> {
  const connection = await Connection.connect({ address: stack.address });
  try {
    const client = new Client({ connection, namespace: DEFAULT_NAMESPACE });
    const handle = await client.workflow.start('stackProbe', { taskQueue: 'stack-test', workflowId: `stack-test-${id}-${Date.now()}` });
    expect((await handle.describe()).status.name).toBe('RUNNING');
    await handle.terminate('stack test');
    return handle.workflowId;
  } finally {
    await connection.close();
  }
}

const pids = (stateDir: string) => STACK_COMPONENTS.map((c) => readPidRecord(stackPaths(stateDir).runDir, c)?.pid);

let stateDir: string;
let ports: StackPorts;
let stack: StackHandle;
const timings: Record<string, number> = {};

async function timed<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const t = Date.now();
  try {
    return await fn();
  } finally {
    timings[name] = Date.now() - t;
  }
}

beforeAll(async () => {
  stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stack-e2e-'));
  ports = await freeStackPorts();
  const say = (l: string) => process.stderr.write(`[stack ${new Date().toISOString().slice(11, 23)}] ${l}\n`);
  stack = await timed('cold up', () => startStack({ stateDir, ...ports, install: false, say, timeoutMs: 90_000 }));
}, 120_000);

afterAll(async () => {
  await purgeStack(stateDir).catch(() => undefined);
  fs.rmSync(stateDir, { recursive: true, force: true });
  process.stdout.write(`stack timings (ms): ${JSON.stringify(timings)}\n`);
}, 60_000);

test('up started all six components; status shows each up with its pid and port', async () => {
  expect(stack.started).toEqual(['postgres', ...SERVER_SERVICES, 'ui']);
  const r = await cli(['stack', 'status', '--state-dir', stateDir, ...portFlags(ports)]);
  expect(r.code).toBe(0);
  const lines = r.stdout.trim().split('\n').slice(1);
  expect(lines.map((l) => l.split(/\s+/)[0])).toEqual([...STACK_COMPONENTS]);
  for (const [i, line] of lines.entries()) expect(line).toMatch(new RegExp(`^\\S+\\s+${pids(stateDir)[i]}\\s+\\d+\\s+up$`));
  expect(lines[0]).toContain(String(ports.pgPort));
  expect(lines[1]).toContain(String(ports.port));
});

test('a client connects: the namespace and the runbook search attributes exist, describe and list work', async () => {
  await startAndTerminate('fresh');
  const connection = await Connection.connect({ address: stack.address });
  try {
    const ns = await connection.workflowService.describeNamespace({ namespace: DEFAULT_NAMESPACE });
    expect(ns.namespaceInfo?.name).toBe(DEFAULT_NAMESPACE);
    const sa = await connection.operatorService.listSearchAttributes({ namespace: DEFAULT_NAMESPACE });
    expect(Object.keys(sa.customAttributes ?? {})).toEqual(expect.arrayContaining(SEARCH_ATTRIBUTES.map((k) => k.name)));
    const client = new Client({ connection, namespace: DEFAULT_NAMESPACE });
    // Visibility (the temporal_visibility database) answers a query on a runbook attribute.
    expect((await client.workflow.count(`RunbookCluster = "none"`)).count).toBe(0);
  } finally {
    await connection.close();
  }
});

test('the UI serves HTML and its API lists the default namespace', async () => {
  const page = await fetch(`${stack.uiUrl}/`);
  expect(page.status).toBe(200);
  expect(await page.text()).toMatch(/<html/i);
  const api = (await (await fetch(`${stack.uiUrl}/api/v1/namespaces`)).json()) as { namespaces: Array<{ namespaceInfo: { name: string } }> };
  expect(api.namespaces.map((n) => n.namespaceInfo.name)).toContain(DEFAULT_NAMESPACE);
});

test('histories live in PostgreSQL: sql() reads the temporal database', async () => {
  expect((await stack.sql(`SELECT name FROM namespaces WHERE name = '${DEFAULT_NAMESPACE}'`)).trim()).toBe(DEFAULT_NAMESPACE);
  expect(Number(await stack.sql('SELECT count(*) FROM executions'))).toBeGreaterThanOrEqual(0);
});

test('a second up does nothing and says so', async () => {
  const before = pids(stateDir);
  const r = await timed('warm up (CLI)', () => cli(['stack', 'up', '--state-dir', stateDir, ...portFlags(ports)]));
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('already running; nothing to do');
  expect(r.stdout).toContain(`export TEMPORAL_ADDRESS=${stack.address} RUNBOOK_UI_URL=${stack.uiUrl}`);
  expect(pids(stateDir)).toEqual(before);
});

test('bad flags exit 2 naming the flag, and start nothing; a port taken by the running stack too', async () => {
  const other = fs.mkdtempSync(path.join(os.tmpdir(), 'stack-bad-'));
  try {
    for (const [flags, flag] of [
      [['--port', 'x'], '--port'],
      [['--ui-port', '99999'], '--ui-port'],
      [['--pg-port', String(ports.pgPort), '--port', String(ports.port + 100), '--ui-port', String(ports.uiPort + 100)], '--pg-port'],
    ] as const) {
      const r = await cli(['stack', 'up', '--state-dir', other, ...flags]);
      expect({ code: r.code, flag: r.stderr.split(':')[0] }).toEqual({ code: 2, flag });
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
    expect(fs.readdirSync(other)).toEqual([]);
  } finally {
    fs.rmSync(other, { recursive: true, force: true });
  }
});

test('SIGKILL of the four server processes: they come back and serve again', async () => {
  const before = SERVER_SERVICES.map((s) => readPidRecord(stack.paths.runDir, s)!.pid);
  await timed('restart 4 services (SIGKILL)', () => stack.restartServerServices('SIGKILL'));
  const after = SERVER_SERVICES.map((s) => readPidRecord(stack.paths.runDir, s)!.pid);
  for (const pid of before) expect(isAlive(pid)).toBe(false);
  for (const pid of after) expect(before).not.toContain(pid);
  // History and matching took their shards and queues back: a workflow starts and describes as running.
  const started = Date.now();
  await startAndTerminate('after-sigkill');
  timings['first workflow after SIGKILL restart'] = Date.now() - started;
});

test('a PostgreSQL restart: the database answers again with its data, and so does Temporal', async () => {
  const before = readPidRecord(stack.paths.runDir, 'postgres')!.pid;
  await timed('restart postgres', () => stack.restartPostgres());
  expect(readPidRecord(stack.paths.runDir, 'postgres')!.pid).not.toBe(before);
  expect((await stack.sql(`SELECT name FROM namespaces WHERE name = '${DEFAULT_NAMESPACE}'`)).trim()).toBe(DEFAULT_NAMESPACE);
  // restartPostgres waited until the namespace is served again (see waitServing), so this needs no retry.
  const id = await startAndTerminate('after-postgres-restart');
  expect(await stack.sql(`SELECT count(*) FROM executions WHERE workflow_id = '${id}'`)).toBe('1');
});

test('down stops every process (no pid left alive) and keeps the data; --purge removes the stack directory', async () => {
  const running = pids(stateDir);
  expect(running.every((p) => p && isAlive(p))).toBe(true);
  const down = await timed('down (CLI)', () => cli(['stack', 'down', '--state-dir', stateDir]));
  expect(down.code).toBe(0);
  for (const pid of running) expect(isAlive(pid!)).toBe(false);
  expect(fs.existsSync(path.join(stack.paths.pgData, 'PG_VERSION'))).toBe(true);
  const status = await cli(['stack', 'status', '--state-dir', stateDir]);
  expect(status.code).toBe(1);
  expect(status.stdout.trim().split('\n').slice(1).every((l) => / down$/.test(l))).toBe(true);
  const purge = await cli(['stack', 'down', '--purge', '--state-dir', stateDir]);
  expect(purge.code).toBe(0);
  expect(fs.existsSync(stack.paths.root)).toBe(false);
  expect(fs.existsSync(stateDir)).toBe(true);
});
