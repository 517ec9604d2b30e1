/**
 * The stack's private PostgreSQL: its own data directory under the state dir, listening on 127.0.0.1 only, with a
 * generated password (kept in a 0600 file, never printed). PostgreSQL refuses to run as root, so when we are root it
 * runs as the `postgres` system account, which must own the data directory and pass through the ones above it.
 */
import { execFile } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { promisify } from 'util';
import { findOnPath, isExecutableFile } from '../binaries';
import { LocalFileError, readLocalFileSync } from '../files';
import { grantTraversal, idsOf, type Ids } from '../unix-account';
import type { StackPaths } from './layout';
import { spawnDetached, type PidRecord } from './processes';

const execFileP = promisify(execFile);

/** The database superuser Temporal connects as (compose uses the same name). */
export const PG_USER = 'temporal';
const PG_SYSTEM_ACCOUNT = 'postgres';

export interface PgBinaries {
  initdb: string;
  postgres: string;
  psql: string;
}

export class PostgresNotFound extends Error {
  constructor(tried: string[]) {
    super(
      `PostgreSQL not found (tried ${tried.join(', ')}). Fix: apt-get install -y --no-install-recommends postgresql ` +
        '(or put initdb, postgres and psql on PATH)',
    );
    this.name = 'PostgresNotFound';
  }
}

/** initdb and postgres from PATH, else Debian's newest /usr/lib/postgresql/<major>/bin; psql beside them. */
export function findPostgres(env: NodeJS.ProcessEnv = process.env): PgBinaries {
  const debian = '/usr/lib/postgresql';
  const majors = fs.existsSync(debian) ? fs.readdirSync(debian).filter((d) => /^\d+$/.test(d)).sort((a, b) => Number(b) - Number(a)) : [];
  const dirs = majors.map((m) => path.join(debian, m, 'bin'));
  const find = (name: string, near?: string) =>
    [near && path.join(path.dirname(fs.realpathSync(near)), name), findOnPath(name, env), ...dirs.map((d) => path.join(d, name))].find(
      (f): f is string => !!f && isExecutableFile(f),
    );
  const postgres = find('postgres');
  const initdb = find('initdb', postgres);
  const psql = find('psql', postgres);
  if (!postgres || !initdb || !psql) throw new PostgresNotFound(['PATH', ...dirs]);
  return { postgres, initdb, psql };
}

/** Whom PostgreSQL runs as: ourselves, or the `postgres` account when we are root. */
export function postgresAccount(): Ids | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    return idsOf(PG_SYSTEM_ACCOUNT);
  } catch {
    throw new Error(`running as root, PostgreSQL needs the "${PG_SYSTEM_ACCOUNT}" system account, which is missing; install the postgresql package (it creates it) or run as an ordinary user`);
  }
}

export function readPgPassword(paths: StackPaths): string {
  try {
    return readLocalFileSync(paths.pgPasswordFile, 'password file').data.toString('utf8').trim();
  } catch (e) {
    if (!(e instanceof LocalFileError)) throw e;
    throw new Error(`${e.message}; the stack's database exists without its password file: remove it with "runbook stack down --purge" and run "runbook stack up" again`);
  }
}

/** Create the data directory once (initdb); later calls only re-check ownership and traversal. */
export async function initPostgres(paths: StackPaths, bins: PgBinaries, account: Ids | undefined, say: (l: string) => void): Promise<void> {
  fs.mkdirSync(paths.pgDir, { recursive: true, mode: 0o755 });
  if (account) {
    const opened = grantTraversal(paths.pgData, account.uid);
    if (opened.length) say(`  let the ${PG_SYSTEM_ACCOUNT} account pass through (o+x): ${opened.join(', ')}`);
  }
  if (fs.existsSync(path.join(paths.pgData, 'PG_VERSION'))) return;
  fs.rmSync(paths.pgData, { recursive: true, force: true }); // an initdb cut short leaves a partial directory
  fs.mkdirSync(paths.pgData, { mode: 0o700 });
  const password = randomBytes(18).toString('base64url');
  fs.writeFileSync(paths.pgPasswordFile, `${password}\n`, { mode: 0o600 });
  // initdb reads the password from a file its account can read; it is removed as soon as initdb is done.
  const pwfile = path.join(paths.pgDir, `.initdb-password-${process.pid}`);
  fs.writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (account) {
    fs.chownSync(paths.pgData, account.uid, account.gid);
    fs.chownSync(pwfile, account.uid, account.gid);
  }
  say(`  initdb ${paths.pgData}`);
  try {
    await execFileP(
      bins.initdb,
      ['-D', paths.pgData, '-U', PG_USER, `--pwfile=${pwfile}`, '--auth=scram-sha-256', '-E', 'UTF8', '--no-locale', '--no-instructions'],
      { ...(account ? { uid: account.uid, gid: account.gid } : {}), cwd: paths.pgDir, maxBuffer: 4 * 1024 * 1024 },
    );
  } catch (e) {
    fs.rmSync(paths.pgData, { recursive: true, force: true });
    throw new Error(`initdb failed: ${String((e as { stderr?: string }).stderr ?? (e as Error).message).trim().slice(0, 1000)}`);
  } finally {
    fs.rmSync(pwfile, { force: true });
  }
}

/** Start the postmaster detached; loopback only, no Unix socket (its default directory is root's /run). */
export function startPostgres(paths: StackPaths, bins: PgBinaries, account: Ids | undefined, pgPort: number): Promise<PidRecord> {
  return spawnDetached({
    component: 'postgres',
    port: pgPort,
    binary: bins.postgres,
    args: ['-D', paths.pgData, '-p', String(pgPort), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
    identity: ['-D', paths.pgData],
    logFile: path.join(paths.logDir, 'postgres.log'),
    runDir: paths.runDir,
    cwd: paths.pgDir,
    ...(account ? { ids: account } : {}),
  });
}

/** Run one query with psql and return its unaligned, tuples-only output. */
export async function psql(bins: PgBinaries, pgPort: number, password: string, database: string, query: string): Promise<string> {
  const { stdout } = await execFileP(bins.psql, ['-h', '127.0.0.1', '-p', String(pgPort), '-U', PG_USER, '-d', database, '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', query], {
    // The password travels in the environment, never on the command line (visible in ps) or in a log.
    env: { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: '5' },
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout.replace(/\n$/, '');
}

/** Wait until PostgreSQL answers a query, or fail when the postmaster has exited. */
export async function waitForPostgres(isRunning: () => boolean, query: () => Promise<string>, timeoutMs = 60_000): Promise<void> {
  let last: unknown;
  for (const end = Date.now() + timeoutMs; Date.now() < end; await new Promise((r) => setTimeout(r, 250))) {
    try {
      await query();
      return;
    } catch (e) {
      last = e;
    }
    if (!isRunning()) throw new Error('PostgreSQL exited while starting');
  }
  throw new Error(`PostgreSQL did not answer within ${timeoutMs / 1000} s: ${String((last as { stderr?: string })?.stderr ?? last).trim().slice(0, 300)}`);
}
