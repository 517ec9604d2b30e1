/**
 * Every local file the engine reads (inventory, SSH key, known_hosts, codec key, exported history, auth file, webhook
 * URL file) goes through here: it must be a regular file no bigger than its cap, and it is read without ever
 * blocking the event loop. A FIFO or a device named in an inventory would otherwise freeze the shared worker (every
 * other cluster's runbook with it) or grow it without bound: the file is opened non-blocking, judged by fstat on
 * that same descriptor (no race with a rename), and read only up to its cap.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const KiB = 1024;
const MiB = 1024 * KiB;

/** The caps, by what the file is; each message names its cap. */
export const FILE_CAPS = {
  inventory: 1 * MiB,
  'identity file': 64 * KiB,
  'known_hosts file': 4 * MiB,
  'codec key file': 64 * KiB,
  'auth file': 64 * KiB,
  'history file': 64 * MiB,
  'fleet file': 1 * MiB,
  'TLS file': 1 * MiB,
  'config file': 1 * MiB,
  'backup record': 4 * MiB,
  'pid file': 4 * KiB,
  'password file': 4 * KiB,
  'webhook URL file': 8 * KiB,
} as const;

export type LocalFileKind = keyof typeof FILE_CAPS;

/** A local file that cannot be used; the message says which file, why, and the fix. */
export class LocalFileError extends Error {
  constructor(
    readonly file: string,
    readonly kind: LocalFileKind,
    readonly reason: string,
    readonly code?: string,
  ) {
    super(`${kind} ${JSON.stringify(file)}: ${reason}`);
    this.name = 'LocalFileError';
  }
}

export function expandHome(p: string): string {
  return p === '~' ? os.homedir() : p.startsWith('~/') ? path.join(os.homedir(), p.slice(2)) : p;
}

function formatBytes(n: number): string {
  return n >= MiB ? `${(n / MiB).toFixed(n % MiB ? 1 : 0)} MiB` : n >= KiB ? `${Math.round(n / KiB)} KiB` : `${n} bytes`;
}

function describeType(st: fs.Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

function openError(file: string, kind: LocalFileKind, e: NodeJS.ErrnoException): LocalFileError {
  const reason =
    e.code === 'ENOENT'
      ? 'no such file (ENOENT)'
      : e.code === 'EACCES' || e.code === 'EPERM'
        ? `permission denied (${e.code})`
        : e.code === 'EISDIR'
          ? 'is a directory, not a file'
          : e.code === 'ELOOP'
            ? 'too many symbolic links'
            : `cannot be read (${e.code ?? e.message})`;
  return new LocalFileError(file, kind, reason, e.code);
}

/** Judge an open descriptor's stat: a regular file within the cap, or an error saying why not. */
function judge(file: string, kind: LocalFileKind, st: fs.Stats, maxBytes: number): void {
  if (!st.isFile()) throw new LocalFileError(file, kind, `is ${describeType(st)}; it must be a regular file`, 'ENOTREG');
  if (st.size > maxBytes) {
    throw new LocalFileError(file, kind, `is ${formatBytes(st.size)}, more than the ${formatBytes(maxBytes)} a ${kind} may be`, 'EFBIG');
  }
}

// O_NONBLOCK: opening a FIFO for reading never waits for a writer (fstat then refuses it).
const OPEN_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | (fs.constants.O_NOCTTY ?? 0);

/** Open non-blocking and judge by fstat on the same descriptor; the caller closes the handle. */
async function openJudged(file: string, kind: LocalFileKind, maxBytes: number): Promise<{ fh: fs.promises.FileHandle; st: fs.Stats }> {
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(expandHome(file), OPEN_FLAGS);
  } catch (e) {
    throw openError(file, kind, e as NodeJS.ErrnoException);
  }
  try {
    const st = await fh.stat();
    judge(file, kind, st, maxBytes);
    return { fh, st };
  } catch (e) {
    await fh.close().catch(() => undefined);
    throw e instanceof LocalFileError ? e : openError(file, kind, e as NodeJS.ErrnoException);
  }
}

/** Read a regular local file of at most its kind's cap, asynchronously. `~/` is expanded. */
export async function readLocalFile(file: string, kind: LocalFileKind, maxBytes: number = FILE_CAPS[kind]): Promise<Buffer> {
  const { fh, st } = await openJudged(file, kind, maxBytes);
  try {
    // Read at most maxBytes + 1: a file that grew after the stat is still refused, never read whole.
    const buf = Buffer.alloc(Math.min(maxBytes + 1, st.size + 1));
    let filled = 0;
    while (filled < buf.length) {
      const { bytesRead } = await fh.read(buf, filled, buf.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    if (filled > maxBytes) throw new LocalFileError(file, kind, `grew past the ${formatBytes(maxBytes)} a ${kind} may be while it was read`, 'EFBIG');
    return buf.subarray(0, filled);
  } catch (e) {
    if (e instanceof LocalFileError) throw e;
    throw openError(file, kind, e as NodeJS.ErrnoException);
  } finally {
    await fh.close().catch(() => undefined);
  }
}

export async function readLocalText(file: string, kind: LocalFileKind, maxBytes?: number): Promise<string> {
  return (await readLocalFile(file, kind, maxBytes)).toString('utf8');
}

/**
 * The same checks without reading: for the CLI, which judges files the worker will read later. Returns the
 * file's mode bits so callers can warn about permissions. Never blocks on a FIFO (it is opened non-blocking).
 */
export async function checkLocalFile(file: string, kind: LocalFileKind, maxBytes: number = FILE_CAPS[kind]): Promise<fs.Stats> {
  const { fh, st } = await openJudged(file, kind, maxBytes);
  await fh.close().catch(() => undefined);
  return st;
}

/**
 * The synchronous twin, for configuration read once at process start (codec keys), before any runbook runs: the
 * same checks, the same non-blocking open, so a FIFO or a device still cannot hang or bloat the process.
 */
export function readLocalFileSync(file: string, kind: LocalFileKind, maxBytes: number = FILE_CAPS[kind]): { data: Buffer; mode: number } {
  const local = expandHome(file);
  let fd: number;
  try {
    fd = fs.openSync(local, OPEN_FLAGS);
  } catch (e) {
    throw openError(file, kind, e as NodeJS.ErrnoException);
  }
  try {
    const st = fs.fstatSync(fd);
    judge(file, kind, st, maxBytes);
    const buf = Buffer.alloc(Math.min(maxBytes + 1, st.size + 1));
    let filled = 0;
    while (filled < buf.length) {
      const n = fs.readSync(fd, buf, filled, buf.length - filled, filled);
      if (n === 0) break;
      filled += n;
    }
    if (filled > maxBytes) throw new LocalFileError(file, kind, `grew past the ${formatBytes(maxBytes)} a ${kind} may be while it was read`, 'EFBIG');
    return { data: buf.subarray(0, filled), mode: st.mode & 0o777 };
  } catch (e) {
    if (e instanceof LocalFileError) throw e;
    throw openError(file, kind, e as NodeJS.ErrnoException);
  } finally {
    fs.closeSync(fd);
  }
}

/** True when group or others may read the file: OpenSSH refuses such a private key ("UNPROTECTED PRIVATE KEY FILE"). */
export function readableByOthers(mode: number): boolean {
  return (mode & 0o077) !== 0;
}
