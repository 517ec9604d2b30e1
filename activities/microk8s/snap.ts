/**
 * snapd's view of MicroK8s (behaviour reference §6): `snap list`, `snap info`, `snap refresh`, `snap revert`.
 * `snap` lives in /usr/bin, so it is called by name. Revisions stay strings: sideloaded snaps have `x1`.
 */
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/constants';
import { command } from '../../common/shell';
import { normalizeChannel } from '../../common/versions';
import { UnexpectedOutputError, nonBlankLines } from './unexpected-output';

const SNAP = 'microk8s';

// ---------------------------------------------------------------------------------------------------------------
// snap list

export function snapListCommand(opts: { all?: boolean } = {}): string {
  return opts.all ? command('snap', 'list', '--all', SNAP) : command('snap', 'list', SNAP);
}

export interface SnapListRow {
  version: string;
  revision: string;
  /** Absent when the column shows `-` (retained revisions in `--all`, sideloaded snaps). */
  tracking?: string;
  /** Publisher with the verification mark (`✓`, `*`, `**`) stripped. */
  publisher: string;
  notes: string[];
  /** `disabled` in Notes: a retained old revision, or the current one while a refresh is in progress. */
  disabled: boolean;
}

export interface SnapList extends SnapListRow {
  /** Every microk8s row (more than one with `--all`). */
  rows: SnapListRow[];
}

function stripMark(publisher: string): string {
  return publisher.replace(/(?:✓|✪|\*+)$/u, '');
}

/**
 * `Name Version Rev Tracking Publisher Notes`, whitespace-separated. The returned row is the enabled one; when
 * every row is disabled (a refresh in progress, #2891) it is the tracking row, else the highest revision.
 */
export function parseSnapList(stdout: string): SnapList {
  const rows: SnapListRow[] = [];
  for (const line of nonBlankLines(stdout)) {
    const cols = line.trim().split(/\s+/);
    if (cols[0] !== SNAP) continue;
    if (cols.length < 5) throw new UnexpectedOutputError('snap list', stdout, `short row ${JSON.stringify(line)}`);
    const [, version, revision, tracking, publisher, notes = '-'] = cols;
    const noteList = notes === '-' ? [] : notes.split(',');
    const row: SnapListRow = { version, revision, publisher: stripMark(publisher), notes: noteList, disabled: noteList.includes('disabled') };
    if (tracking !== '-') row.tracking = tracking;
    rows.push(row);
  }
  if (rows.length === 0) throw new UnexpectedOutputError('snap list', stdout, 'microk8s is not installed');
  const byRevision = [...rows].sort((a, b) => Number(b.revision) - Number(a.revision));
  const current = rows.find((r) => !r.disabled) ?? rows.find((r) => r.tracking) ?? byRevision[0];
  return { ...current, rows };
}

/** `error: no matching snaps installed` / `error: snap "microk8s" is not installed`. */
export function isSnapNotInstalled(stderr: string): boolean {
  return /no matching snaps installed|snap "microk8s" is not installed/.test(stderr);
}

// ---------------------------------------------------------------------------------------------------------------
// snap info

export function snapInfoCommand(opts: { absTime?: boolean } = {}): string {
  return opts.absTime ? command('snap', 'info', '--abs-time', SNAP) : command('snap', 'info', SNAP);
}

export interface SnapRelease {
  version: string;
  revision: string;
}

export interface SnapInfo {
  tracking?: string;
  /** `hold:` (a per-snap hold): `forever`, or the time it ends (RFC3339 with `--abs-time`). Absent when not held. */
  hold?: string;
  installed?: SnapRelease;
  /** Channel → release, or `closed` (`–`/`--`). A `↑`/`^` channel serves the one above it and gets its release. */
  channels: Record<string, SnapRelease | 'closed'>;
}

const CHANNEL_LINE = /^\s+([A-Za-z0-9._-]+\/[A-Za-z0-9._/-]+):\s*(.*)$/;
const RELEASE = /^(\S+)\s+(?:\S+\s+)?\((x?\d+)\)/;

export function parseSnapInfo(stdout: string): SnapInfo {
  const info: SnapInfo = { channels: {} };
  let inChannels = false;
  let previous: SnapRelease | 'closed' | undefined;
  for (const line of stdout.split('\n').map((l) => l.replace(/\s+$/, ''))) {
    if (line === '') continue;
    const top = /^([a-z-]+):\s*(.*)$/.exec(line);
    if (top) {
      inChannels = top[1] === 'channels';
      if (top[1] === 'tracking') info.tracking = top[2].trim();
      if (top[1] === 'hold') info.hold = top[2].trim();
      if (top[1] === 'installed') {
        const m = RELEASE.exec(top[2].trim());
        if (!m) throw new UnexpectedOutputError('snap info', stdout, 'unreadable installed: line');
        info.installed = { version: m[1], revision: m[2] };
      }
      continue;
    }
    if (!inChannels) continue;
    const ch = CHANNEL_LINE.exec(line);
    if (!ch) continue;
    const value = ch[2].trim();
    let release: SnapRelease | 'closed';
    if (value === '–' || value === '--' || value === '-' || value === '') release = 'closed';
    else if (value === '↑' || value === '^') release = previous ?? 'closed';
    else {
      const m = RELEASE.exec(value);
      if (!m) throw new UnexpectedOutputError('snap info', stdout, `unreadable channel line ${JSON.stringify(line)}`);
      release = { version: m[1], revision: m[2] };
    }
    info.channels[ch[1]] = release;
    previous = release;
  }
  return info;
}

// ---------------------------------------------------------------------------------------------------------------
// snap refresh / revert

/** `snap refresh microk8s --channel=<track>/<risk>` (the channel is validated and normalised first). */
export function refreshCommand(channel: string): string {
  return command('snap', 'refresh', SNAP, `--channel=${normalizeChannel(channel)}`);
}

/** `snap revert microk8s [--revision=N]`: back to the previous (or given) revision and its data. */
export function revertCommand(opts: { revision?: string } = {}): string {
  if (opts.revision === undefined) return command('snap', 'revert', SNAP);
  if (!/^x?\d+$/.test(opts.revision)) {
    throw ApplicationFailure.create({
      message: `revision: ${JSON.stringify(opts.revision)} is not a snap revision (a number such as "6089")`,
      type: FailureType.InvalidInput,
      nonRetryable: true,
    });
  }
  return command('snap', 'revert', SNAP, `--revision=${opts.revision}`);
}

export type SnapChangeOutcome =
  /** `microk8s (1.32/stable) v1.32.0 from Canonical✓ refreshed`. */
  | { outcome: 'refreshed'; channel?: string; version: string }
  /** Only the tracked channel changed (same revision). */
  | { outcome: 'switched'; channel: string }
  /** `snap "microk8s" has no updates available`. */
  | { outcome: 'no-updates' }
  /** `microk8s reverted to v1.28.5`. */
  | { outcome: 'reverted'; version: string }
  /** `snap "microk8s" has "auto-refresh" change in progress`: wait and retry. */
  | { outcome: 'change-in-progress'; change: string }
  | { outcome: 'failed'; message: string };

function changeInProgress(text: string): SnapChangeOutcome | undefined {
  const m = /snap "microk8s" has "([^"]+)" change in progress/.exec(text);
  return m ? { outcome: 'change-in-progress', change: m[1] } : undefined;
}

function failure(stdout: string, stderr: string): SnapChangeOutcome {
  const lines = nonBlankLines(`${stderr}\n${stdout}`).map((l) => l.trim());
  return { outcome: 'failed', message: lines.find((l) => l.startsWith('error:')) ?? lines[0] ?? 'no output' };
}

export function parseRefreshOutput(stdout: string, stderr: string, exitCode: number): SnapChangeOutcome {
  const all = `${stdout}\n${stderr}`;
  const busy = changeInProgress(all);
  if (busy) return busy;
  for (const raw of nonBlankLines(all)) {
    const line = raw.trim();
    let m = /^microk8s(?: \(([^)]+)\))? (\S+) from .+ refreshed$/.exec(line);
    if (m) return m[1] ? { outcome: 'refreshed', channel: m[1], version: m[2] } : { outcome: 'refreshed', version: m[2] };
    if (/^snap "microk8s" has no updates available$/.test(line) || /^All snaps up to date\.?$/.test(line)) {
      return { outcome: 'no-updates' };
    }
    m = /^microk8s switched to the (\S+) channel$/.exec(line) ?? /^"?microk8s"? switched to the "?([^"\s]+)"? channel/.exec(line);
    if (m) return { outcome: 'switched', channel: m[1] };
  }
  if (exitCode === 0) throw new UnexpectedOutputError('snap refresh', all);
  return failure(stdout, stderr);
}

export function parseRevertOutput(stdout: string, stderr: string, exitCode: number): SnapChangeOutcome {
  const all = `${stdout}\n${stderr}`;
  const busy = changeInProgress(all);
  if (busy) return busy;
  const m = /^microk8s reverted to (\S+)$/m.exec(all.replace(/\r/g, ''));
  if (m) return { outcome: 'reverted', version: m[1] };
  if (exitCode === 0) throw new UnexpectedOutputError('snap revert', all);
  return failure(stdout, stderr);
}

// ---------------------------------------------------------------------------------------------------------------
// snap refresh control (behaviour reference §14)

/** Hold auto-refresh of microk8s (snapd 2.58+); an explicit `snap refresh microk8s --channel` still works. */
export function holdCommand(): string {
  return command('snap', 'refresh', '--hold', SNAP);
}

export function unholdCommand(): string {
  return command('snap', 'refresh', '--unhold', SNAP);
}

/** `snap refresh --time --abs-time`: the timer, the last and next refresh, a system-wide hold. */
export function refreshTimeCommand(): string {
  return command('snap', 'refresh', '--time', '--abs-time');
}

export interface RefreshTime {
  /** `timer:` (or `schedule:` on old snapd), e.g. `00:00~24:00/4`. */
  timer?: string;
  last?: string;
  next?: string;
  /** A system-wide hold (`snap refresh --hold` without names, or `refresh.hold`); per-snap holds are not shown here. */
  systemHold?: string;
  /** `next: … (but held)`. */
  nextHeld: boolean;
}

export function parseRefreshTime(stdout: string): RefreshTime {
  const out: RefreshTime = { nextHeld: false };
  for (const line of nonBlankLines(stdout)) {
    const m = /^(timer|schedule|last|next|hold):\s*(.*)$/.exec(line.trim());
    if (!m) continue;
    const value = m[2].trim();
    if (m[1] === 'timer' || m[1] === 'schedule') out.timer = value;
    else if (m[1] === 'last') out.last = value;
    else if (m[1] === 'hold') out.systemHold = value;
    else {
      out.nextHeld = value.endsWith('(but held)');
      out.next = value.replace(/\s*\(but held\)$/, '');
    }
  }
  if (!out.timer && !out.next) throw new UnexpectedOutputError('snap refresh --time', stdout, 'no timer: or next: line');
  return out;
}
