/**
 * `runbook stack`'s engine, also used by tests: PostgreSQL, the four Temporal server services and the UI server as
 * separate detached processes under `<state dir>/stack`, started only where not already running (so `up` twice does
 * nothing the second time), stopped in reverse order, each signalled only after its identity is checked.
 */
import * as fs from 'fs';
import * as path from 'path';
import { portInUse } from '../ports';
import { stackBinaries, type StackBinaryPaths } from './binaries';
import { componentPort, SERVER_PORT_SPAN, SERVER_SERVICES, stackPaths, type ServerService, type StackComponent, type StackPaths, type StackPorts } from './layout';
import { connectFrontend, ensureNamespace, waitServing, type WaitBounds } from './namespace';
import { findPostgres, initPostgres, postgresAccount, psql, readPgPassword, startPostgres, waitForPostgres } from './postgres';
import { checkPortsFree } from './port-check';
import { runningRecord, spawnDetached, stopComponent } from './processes';
import { ensureSchemas } from './schema';
import { writeStackConfig } from './server-config';
import { stackStatus, type ComponentStatus } from './status';
import { purgeStack, stopStack } from './stop';
import { waitForUi } from './ui';

export interface StackOptions extends StackPorts {
  stateDir: string;
  say?: (line: string) => void;
  /** Build missing binaries with `go install` (minutes); default true. */
  install?: boolean;
  /** How long the whole start may take; default 3 minutes. */
  timeoutMs?: number;
}

export interface StackHandle {
  /** host:port of the frontend, for TEMPORAL_ADDRESS. */
  address: string;
  uiUrl: string;
  ports: StackPorts;
  paths: StackPaths;
  /** The components this call started; empty when everything was already running. */
  started: StackComponent[];
  /** Kill the four server processes with `signal` (default SIGKILL), start them again and wait for health. */
  restartServerServices(signal?: NodeJS.Signals): Promise<void>;
  /** Stop PostgreSQL (default fast shutdown, SIGINT; SIGKILL for a crash) and start it again. */
  restartPostgres(signal?: NodeJS.Signals): Promise<void>;
  /** One query against a stack database (default `temporal`), psql's unaligned tuples-only output. */
  sql(query: string, database?: string): Promise<string>;
  status(): Promise<ComponentStatus[]>;
  /** `stopStack`, and with `purge` the stack directory too. */
  stop(opts?: { purge?: boolean }): Promise<void>;
}

function startService(paths: StackPaths, bins: StackBinaryPaths, ports: StackPorts, s: ServerService) {
  return spawnDetached({
    component: s,
    port: componentPort(s, ports),
    binary: bins.server,
    args: ['--root', paths.temporalRoot, '--config', 'config', '--env', 'development', '--allow-no-auth', 'start', '--service', s],
    identity: [paths.temporalRoot, s],
    logFile: path.join(paths.logDir, `${s}.log`),
    runDir: paths.runDir,
    cwd: paths.temporalRoot,
  });
}

function startUi(paths: StackPaths, bins: StackBinaryPaths, ports: StackPorts) {
  return spawnDetached({
    component: 'ui',
    port: ports.uiPort,
    binary: bins.uiServer,
    args: ['--root', paths.uiRoot, '--config', 'config', '--env', 'development', 'start'],
    identity: [paths.uiRoot],
    logFile: path.join(paths.logDir, 'ui.log'),
    runDir: paths.runDir,
    cwd: paths.uiRoot,
  });
}

async function waitListening(port: number, b: WaitBounds): Promise<void> {
  while (!(await portInUse(port))) {
    b.check();
    if (Date.now() > b.deadline) throw new Error(`nothing listens on port ${port} before the deadline`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The last lines of a component's log, for an error message (logs hold no secrets: the config file does). */
function logTail(paths: StackPaths, c: StackComponent, bytes = 4096): string {
  let fd: number | undefined;
  try {
    fd = fs.openSync(path.join(paths.logDir, `${c}.log`), fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const st = fs.fstatSync(fd);
    if (!st.isFile()) return '';
    // Only the end: a log may be large, and the reason a process exited is in its last lines.
    const buf = Buffer.alloc(Math.min(bytes, st.size));
    const n = fs.readSync(fd, buf, 0, buf.length, Math.max(0, st.size - buf.length));
    return buf.subarray(0, n).toString('utf8').trim().split('\n').slice(-5).join('\n').slice(-2000);
  } catch {
    return '';
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function exitedError(paths: StackPaths, c: StackComponent): Error {
  return new Error(`${c} exited while starting; see ${path.join(paths.logDir, `${c}.log`)}:\n${logTail(paths, c)}`);
}

export async function startStack(o: StackOptions): Promise<StackHandle> {
  const say = o.say ?? (() => undefined);
  const timeoutMs = o.timeoutMs ?? 180_000;
  const ports: StackPorts = { port: o.port, uiPort: o.uiPort, pgPort: o.pgPort };
  const paths = stackPaths(o.stateDir);
  await checkPortsFree(paths, ports);
  const bins = await stackBinaries({ install: o.install !== false, log: say });
  const pg = findPostgres();
  const account = postgresAccount();
  fs.mkdirSync(paths.runDir, { recursive: true });
  fs.writeFileSync(paths.portsFile, JSON.stringify(ports));
  const started: StackComponent[] = [];
  const running = (c: StackComponent) => !!runningRecord(paths.runDir, c);
  let password: string | undefined;
  const query = (database: string, sql: string) => psql(pg, ports.pgPort, (password ??= readPgPassword(paths)), database, sql);

  const bootPostgres = async () => {
    await initPostgres(paths, pg, account, say);
    await startPostgres(paths, pg, account, ports.pgPort);
    await waitForPostgres(() => running('postgres'), () => query('postgres', 'SELECT 1')).catch((e: Error) => {
      throw running('postgres') ? e : exitedError(paths, 'postgres');
    });
  };
  const checkAlive = (services: readonly StackComponent[]) => () => {
    const dead = services.find((c) => !running(c));
    if (dead) throw exitedError(paths, dead);
  };
  const bootServices = async (which: readonly ServerService[]) => {
    const deadline = Date.now() + timeoutMs;
    const bounds = { deadline, check: checkAlive(which) };
    // On a fresh database every process races to write the cluster metadata and the system namespace, and the
    // losers exit ("failed to initialize current cluster metadata"): there, one goes first, alone, until it listens.
    let rest = which;
    if ((await query('temporal', 'SELECT count(*) FROM cluster_metadata_info')) === '0') {
      await startService(paths, bins, ports, which[0]);
      await waitListening(componentPort(which[0], ports), { deadline, check: checkAlive([which[0]]) });
      rest = which.slice(1);
    }
    for (const s of rest) await startService(paths, bins, ports, s);
    const connection = await connectFrontend(`127.0.0.1:${ports.port}`, bounds);
    try {
      for (const did of await ensureNamespace(connection, bounds)) say(`  ${did}`);
    } finally {
      await connection.close();
    }
  };

  const uiUrl = `http://127.0.0.1:${ports.uiPort}`;
  try {
    if (!running('postgres')) {
      say(`starting PostgreSQL on 127.0.0.1:${ports.pgPort} (data in ${paths.pgData})`);
      started.push('postgres');
      await bootPostgres();
    }
    const missing = SERVER_SERVICES.filter((s) => !running(s));
    if (missing.length) {
      password ??= readPgPassword(paths);
      await ensureSchemas({ sqlTool: bins.sqlTool, pgPort: ports.pgPort, password, query, say });
      writeStackConfig(paths, ports, password);
      say(`starting Temporal ${missing.join(', ')} (frontend 127.0.0.1:${ports.port}, ports ${ports.port}-${ports.port + SERVER_PORT_SPAN - 1})`);
      started.push(...missing);
      await bootServices(missing);
    }
    if (!running('ui')) {
      writeStackConfig(paths, ports, (password ??= readPgPassword(paths)));
      say(`starting the Temporal UI on ${uiUrl}`);
      started.push('ui');
      await startUi(paths, bins, ports);
      await waitForUi(uiUrl, Date.now() + timeoutMs, checkAlive(['ui']));
    }
  } catch (e) {
    // Leave nothing half-started behind: what this call started stops again; what was running keeps running.
    for (const c of [...started].reverse()) await stopComponent(paths.runDir, c, c === 'postgres' ? { signal: 'SIGINT' } : {});
    throw e;
  }

  return {
    address: `127.0.0.1:${ports.port}`,
    uiUrl,
    ports,
    paths,
    started,
    async restartServerServices(signal: NodeJS.Signals = 'SIGKILL') {
      await Promise.all(SERVER_SERVICES.map((s) => stopComponent(paths.runDir, s, { signal })));
      await bootServices(SERVER_SERVICES);
    },
    async restartPostgres(signal: NodeJS.Signals = 'SIGINT') {
      await stopComponent(paths.runDir, 'postgres', { signal, graceMs: 20_000 });
      await bootPostgres();
      const bounds = { deadline: Date.now() + timeoutMs, check: checkAlive(['postgres']) };
      const connection = await connectFrontend(`127.0.0.1:${ports.port}`, bounds);
      try {
        await waitServing(connection, bounds);
      } finally {
        await connection.close();
      }
    },
    sql: (q: string, database = 'temporal') => query(database, q),
    status: () => stackStatus(o.stateDir, ports),
    async stop(opts: { purge?: boolean } = {}) {
      await (opts.purge ? purgeStack(o.stateDir) : stopStack(o.stateDir));
    },
  };
}

/** The shell lines that point the CLI and the worker at a stack. */
export function exportLines(handle: Pick<StackHandle, 'address' | 'uiUrl'>): string {
  return `export TEMPORAL_ADDRESS=${handle.address} RUNBOOK_UI_URL=${handle.uiUrl}`;
}

