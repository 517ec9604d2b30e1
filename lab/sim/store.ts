/**
 * The lab-wide state file and journal. Shim processes on many nodes run at once, so every read-modify-write of
 * state.json happens under an exclusive lock file (O_EXCL, stale locks of dead processes are taken over).
 * `settle` applies what time alone changes (restarts ending, role rebalancing, holds expiring) before any use.
 */
import * as fs from 'fs';
import * as path from 'path';
import {
  type Cluster,
  type LabState,
  desiredRoles,
  hasQuorum,
  leaderOf,
  rolesDiffer,
  schedulePending,
  servicesUp,
  ROLE_NAMES,
} from './model';
import { timingFor } from '../timing';
import { syncClusterYamls } from './backend';
import { syncObjects } from './datastore';

const shared = new Int32Array(new SharedArrayBuffer(4));
export function sleepSync(ms: number): void {
  if (ms > 0) Atomics.wait(shared, 0, 0, ms);
}

export const statePath = (labDir: string) => path.join(labDir, 'state.json');
export const journalPath = (labDir: string) => path.join(labDir, 'journal.jsonl');
const lockPath = (labDir: string) => path.join(labDir, 'state.lock');

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function acquire(labDir: string): number {
  const file = lockPath(labDir);
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx');
      fs.writeSync(fd, String(process.pid));
      return fd;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (attempt % 50 === 49) {
        // The holder may release it between our open and this read: then there is no one to judge.
        let holder = 0;
        try {
          holder = Number(fs.readFileSync(file, 'utf8') || '0');
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
        if (holder && !pidAlive(holder)) fs.rmSync(file, { force: true });
      }
      sleepSync(2);
    }
  }
}

export function readState(labDir: string): LabState {
  return JSON.parse(fs.readFileSync(statePath(labDir), 'utf8')) as LabState;
}

function writeState(labDir: string, s: LabState): void {
  const tmp = `${statePath(labDir)}.${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(s));
  fs.renameSync(tmp, statePath(labDir));
}

export interface JournalEntry {
  t: string;
  node: string;
  argv?: string[];
  exit?: number | null;
  ms?: number;
  event?: string;
  [k: string]: unknown;
}

export function journal(labDir: string, node: string, event: string, details: Record<string, unknown> = {}, at = Date.now()): void {
  const e: JournalEntry = { t: new Date(at).toISOString(), node, event, ...details };
  fs.appendFileSync(journalPath(labDir), JSON.stringify(e) + '\n');
}

export function journalCommand(labDir: string, node: string, argv: string[], exit: number | null, ms: number, extra: Record<string, unknown> = {}): void {
  const e: JournalEntry = { t: new Date(Date.now() - ms).toISOString(), node, argv, exit, ms, ...extra };
  fs.appendFileSync(journalPath(labDir), JSON.stringify(e) + '\n');
}

/** Run `fn` on the settled state under the lock and save it. */
export function withState<T>(labDir: string, fn: (s: LabState, now: number) => T): T {
  const fd = acquire(labDir);
  try {
    const s = readState(labDir);
    const now = Date.now();
    settle(labDir, s, now);
    const result = fn(s, now);
    syncObjects(labDir, s, now);
    writeState(labDir, s);
    return result;
  } finally {
    fs.closeSync(fd);
    fs.rmSync(lockPath(labDir), { force: true });
  }
}

/** Time-driven transitions, journalled at the time they happened. */
export function settle(labDir: string, s: LabState, now: number): void {
  const timing = timingFor(s.profile, s.timeScale);
  for (const n of Object.values(s.nodes)) {
    if (n.restartUntil && n.restartUntil <= now) {
      const at = n.restartUntil;
      n.restartUntil = 0;
      if (n.power === 'running' && n.services === 'running') journal(labDir, n.name, 'in-service', {}, at);
    }
    if (typeof n.snap.hold === 'number' && n.snap.hold <= now) n.snap.hold = null;
    if (typeof n.snap.systemHold === 'number' && n.snap.systemHold <= now) n.snap.systemHold = null;
  }
  for (const c of Object.values(s.clusters)) {
    if (c.members.length === 0 && c.k8sNodes.length === 0) {
      delete s.clusters[c.id];
      continue;
    }
    const available = hasQuorum(s, c, now);
    if (available !== c.available) {
      c.available = available;
      journal(labDir, c.members[0]?.node ?? c.id, available ? 'quorum-regained' : 'quorum-lost', { cluster: c.id });
    }
    const leader = leaderOf(s, c, now);
    c.leader = leader?.address ?? null;
    if (!leader) continue;
    if (c.rebalanceAt === null && rolesDiffer(s, c, now)) c.rebalanceAt = now + timing.rebalanceMs;
    if (c.rebalanceAt !== null && c.rebalanceAt <= now) {
      rebalance(labDir, s, c, now);
      c.rebalanceAt = null;
    }
    schedulePending(s, c, now);
  }
}

export function rebalance(labDir: string, s: LabState, c: Cluster, now: number): void {
  const changes: string[] = [];
  for (const [m, r] of desiredRoles(s, c, now)) {
    if (m.role !== r) {
      changes.push(`${m.node ?? m.address}: ${ROLE_NAMES[m.role]}→${ROLE_NAMES[r]}`);
      if (m.role === 0 && m.node) journal(labDir, m.node, 'voter-demoted', { cluster: c.id });
      m.role = r;
    }
  }
  if (changes.length) {
    journal(labDir, c.members[0]?.node ?? c.id, 'roles-changed', { cluster: c.id, changes }, now);
    syncClusterYamls(labDir, s, c, (n) => servicesUp(s.nodes[n], now));
  }
}

export function scheduleRebalance(s: LabState, c: Cluster, now: number): void {
  c.rebalanceAt = now + timingFor(s.profile, s.timeScale).rebalanceMs;
}
