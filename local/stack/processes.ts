/**
 * The stack's long-running processes: started detached (they outlive `runbook stack up`), each with a pid file, and
 * only ever signalled after /proc/<pid>/cmdline shows it is still the process we started: a pid left behind by a
 * crash may have been recycled by anything else on the machine.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { LocalFileError, readLocalFileSync } from '../files';
import type { StackComponent } from './layout';

export interface PidRecord {
  component: StackComponent;
  pid: number;
  port: number;
  /** Arguments that must all appear in /proc/<pid>/cmdline: the binary and what makes this stack's copy unique. */
  identity: string[];
}

export function pidFile(runDir: string, component: StackComponent): string {
  return path.join(runDir, `${component}.pid`);
}

export function readPidRecord(runDir: string, component: StackComponent): PidRecord | undefined {
  let text: string;
  try {
    text = readLocalFileSync(pidFile(runDir, component), 'pid file').data.toString('utf8');
  } catch (e) {
    if (e instanceof LocalFileError) return undefined;
    throw e;
  }
  try {
    const r = JSON.parse(text) as PidRecord;
    const valid = Number.isInteger(r.pid) && r.pid > 1 && Number.isInteger(r.port) && Array.isArray(r.identity) && r.identity.every((s) => typeof s === 'string');
    return valid ? { ...r, component } : undefined;
  } catch {
    return undefined; // a torn write: treated as no record, the process (if any) fails its identity check anyway
  }
}

function writePidRecord(runDir: string, r: PidRecord): void {
  fs.mkdirSync(runDir, { recursive: true });
  const file = pidFile(runDir, r.component);
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(r));
  fs.renameSync(`${file}.tmp`, file);
}

export function removePidRecord(runDir: string, component: StackComponent): void {
  fs.rmSync(pidFile(runDir, component), { force: true });
}

/** A /proc file, read up to a cap (its size is reported as 0, so the regular-file reader cannot be used). */
function readProc(file: string, cap = 64 * 1024): string | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY);
  } catch {
    return undefined;
  }
  try {
    const buf = Buffer.alloc(cap);
    let filled = 0;
    for (let n = 1; n > 0 && filled < cap; filled += n) n = fs.readSync(fd, buf, filled, cap - filled, null);
    return buf.subarray(0, filled).toString('utf8');
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/** Alive and not a zombie (a container's pid 1 may never reap what it inherits). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const stat = readProc(`/proc/${pid}/stat`, 4096);
  if (stat === undefined) return false;
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

function matchesIdentity(pid: number, identity: string[]): boolean {
  const cmdline = readProc(`/proc/${pid}/cmdline`);
  if (!cmdline) return false;
  const args = new Set(cmdline.split('\0'));
  return identity.every((a) => args.has(a));
}

/** The component's pid when it is running and still the process the record names. */
export function runningRecord(runDir: string, component: StackComponent): PidRecord | undefined {
  const r = readPidRecord(runDir, component);
  return r && isAlive(r.pid) && matchesIdentity(r.pid, r.identity) ? r : undefined;
}

export interface SpawnSpec {
  component: StackComponent;
  port: number;
  binary: string;
  args: string[];
  /** Arguments besides the binary that identify this process (the data or config directory, the service). */
  identity: string[];
  logFile: string;
  runDir: string;
  env?: NodeJS.ProcessEnv;
  /** Run as this account (PostgreSQL refuses root). */
  ids?: { uid: number; gid: number };
  cwd?: string;
}

/** Start detached with output to its log (the previous run's kept as `.1`), and record the pid. */
export async function spawnDetached(s: SpawnSpec): Promise<PidRecord> {
  fs.mkdirSync(path.dirname(s.logFile), { recursive: true });
  if (fs.existsSync(s.logFile)) fs.renameSync(s.logFile, `${s.logFile}.1`);
  const fd = fs.openSync(s.logFile, 'a', 0o640);
  try {
    const child = spawn(s.binary, s.args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: s.env ?? process.env,
      ...(s.cwd ? { cwd: s.cwd } : {}),
      ...(s.ids ? { uid: s.ids.uid, gid: s.ids.gid } : {}),
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    child.unref();
    const record: PidRecord = { component: s.component, pid: child.pid!, port: s.port, identity: [s.binary, ...s.identity] };
    writePidRecord(s.runDir, record);
    return record;
  } finally {
    fs.closeSync(fd);
  }
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
    if (!isAlive(pid)) return true;
  }
  return !isAlive(pid);
}

/**
 * Stop a component if it is ours and running: `signal` (SIGTERM; PostgreSQL's fast shutdown is SIGINT), then
 * SIGKILL to its whole process group after `graceMs`. Resolves with what happened, for status lines.
 */
export async function stopComponent(
  runDir: string,
  component: StackComponent,
  opts: { signal?: NodeJS.Signals; graceMs?: number } = {},
): Promise<'stopped' | 'killed' | 'not running'> {
  const r = runningRecord(runDir, component);
  if (!r) {
    removePidRecord(runDir, component);
    return 'not running';
  }
  // Detached, so the process leads its own group: a SIGKILL takes PostgreSQL's backends with the postmaster.
  const send = (signal: NodeJS.Signals) => {
    for (const target of signal === 'SIGKILL' ? [-r.pid, r.pid] : [r.pid]) {
      try {
        process.kill(target, signal);
      } catch {
        /* exited between the check and the signal */
      }
    }
  };
  const signal = opts.signal ?? 'SIGTERM';
  send(signal);
  let outcome: 'stopped' | 'killed' = signal === 'SIGKILL' ? 'killed' : 'stopped';
  if (signal !== 'SIGKILL' && !(await waitGone(r.pid, opts.graceMs ?? 10_000))) {
    outcome = 'killed';
    send('SIGKILL');
  }
  await waitGone(r.pid, 5_000);
  removePidRecord(runDir, component);
  return outcome;
}
