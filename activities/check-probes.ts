/**
 * Host probes for the `check` runbook that are not MicroK8s commands: sudo, disk and clock.
 * Each command builder sits beside its output parser.
 */
import type { NodeSpec } from '../common/inventory';
import { command } from '../common/shell';
import type { DiskUsage, SudoState } from '../common/check';

/** `sudo -n true`: succeeds only when sudo needs no password (the engine never types one). */
export const SUDO_PROBE = command('sudo', '-n', 'true');

export function parseSudoProbe(exitCode: number | null, stderr: string): SudoState {
  if (exitCode === 0) return 'ok';
  return /password is required|a terminal is required/i.test(stderr) ? 'password-required' : 'failed';
}

/** Free space of the filesystem holding the snap data directory (POSIX `df -P`, 1 KiB blocks). */
export function diskCommand(node: NodeSpec): string {
  return command('df', '-Pk', node.paths.snapData);
}

/** `Filesystem 1024-blocks Used Available Capacity Mounted on`, then one row (mount points may hold spaces). */
export function parseDf(stdout: string): DiskUsage | undefined {
  const rows = stdout.split('\n').map((l) => l.trim()).filter(Boolean);
  const row = rows.find((l, i) => i > 0 && /\s\d+%\s/.test(`${l} `));
  if (!row) return undefined;
  const m = /^(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)%\s+(.+)$/.exec(row);
  if (!m) return undefined;
  return {
    filesystem: m[1],
    totalKb: Number(m[2]),
    availableKb: Number(m[4]),
    usedPercent: Number(m[5]),
    mountedOn: m[6],
  };
}

/** The remote clock in nanoseconds since the epoch. */
export const CLOCK_PROBE = command('date', '+%s%N');

/** Milliseconds, or undefined when `date` lacks `%N` (busybox prints a literal N). */
export function parseClockNs(stdout: string): number | undefined {
  const m = /^(\d{10})(\d{9})$/.exec(stdout.trim());
  return m ? Number(m[1]) * 1000 + Number(m[2]) / 1e6 : undefined;
}

/** The node's clock minus ours, assuming it read its clock halfway through the round trip. */
export function clockSkewMs(remoteMs: number, sentAtMs: number, receivedAtMs: number): number {
  return Math.round(remoteMs - (sentAtMs + receivedAtMs) / 2);
}

/** Inter-node TLS breaks with skewed clocks; warn well before that. */
export const MAX_CLOCK_SKEW_MS = 2000;
/** Below this much free space under the data directory, dqlite and containerd get into trouble. */
export const MIN_FREE_DISK_KB = 2 * 1024 * 1024;
