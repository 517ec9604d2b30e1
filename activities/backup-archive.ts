/**
 * Reading a backup tarball back, in one pass: the sha256 of the whole file (does it match what was streamed?)
 * and of every regular file inside it (does it match the node's files?). A tiny ustar reader, because a backup
 * that cannot be read back is not kept.
 */
import { createHash, type Hash } from 'crypto';
import * as fs from 'fs';
import type { ArchiveEntry } from '../common/backup';

export interface ArchiveReading {
  sha256: string;
  size: number;
  entries: ArchiveEntry[];
  /** The end-of-archive marker was found and every header checksum was right. */
  complete: boolean;
  problem?: string;
}

function cString(b: Buffer, start: number, len: number): string {
  const s = b.subarray(start, start + len);
  const nul = s.indexOf(0);
  return s.subarray(0, nul === -1 ? s.length : nul).toString('utf8');
}

function octal(b: Buffer, start: number, len: number): number {
  const s = cString(b, start, len).trim();
  return s ? parseInt(s, 8) : 0;
}

function headerChecksumOk(h: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i];
  return sum === octal(h, 148, 8);
}

class TarReader {
  readonly entries: ArchiveEntry[] = [];
  problem?: string;
  zeroBlocks = 0;
  private head = Buffer.alloc(0);
  private remaining = 0;
  private pad = 0;
  private current?: { path: string; size: number; hash: Hash };

  push(buf: Buffer): void {
    let off = 0;
    while (off < buf.length && !this.problem) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, buf.length - off);
        this.current?.hash.update(buf.subarray(off, off + n));
        this.remaining -= n;
        off += n;
        if (this.remaining === 0) this.finishEntry();
        continue;
      }
      if (this.pad > 0) {
        const n = Math.min(this.pad, buf.length - off);
        this.pad -= n;
        off += n;
        continue;
      }
      const n = Math.min(512 - this.head.length, buf.length - off);
      this.head = Buffer.concat([this.head, buf.subarray(off, off + n)]);
      off += n;
      if (this.head.length === 512) {
        this.onHeader(this.head);
        this.head = Buffer.alloc(0);
      }
    }
  }

  private onHeader(h: Buffer): void {
    if (h.every((b) => b === 0)) {
      this.zeroBlocks++;
      return;
    }
    if (this.zeroBlocks > 0) return void (this.problem = 'data after the end-of-archive marker');
    if (!headerChecksumOk(h)) return void (this.problem = `bad header checksum after ${this.entries.length} entries`);
    const name = cString(h, 0, 100);
    const prefix = cString(h, 257, 6).startsWith('ustar') ? cString(h, 345, 155) : '';
    const full = (prefix ? `${prefix}/${name}` : name).replace(/^\.\//, '').replace(/\/$/, '');
    const size = octal(h, 124, 12);
    const type = String.fromCharCode(h[156]);
    if (type === 'L' || type === 'x' || type === 'g') {
      return void (this.problem = `unsupported tar entry type ${JSON.stringify(type)} (long names are not expected in a dqlite backend)`);
    }
    this.remaining = size;
    this.pad = (512 - (size % 512)) % 512;
    this.current = type === '0' || type === '\0' ? { path: full, size, hash: createHash('sha256') } : undefined;
    if (size === 0) this.finishEntry();
  }

  private finishEntry(): void {
    if (this.current) this.entries.push({ path: this.current.path, size: this.current.size, sha256: this.current.hash.digest('hex') });
    this.current = undefined;
  }
}

/** Read a tarball from disk: whole-file sha256 and per-entry sha256 in one pass. */
export function readArchive(file: string): ArchiveReading {
  const fd = fs.openSync(file, 'r');
  const whole = createHash('sha256');
  const tar = new TarReader();
  const buf = Buffer.alloc(1 << 20);
  let size = 0;
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      const chunk = buf.subarray(0, n);
      whole.update(chunk);
      tar.push(chunk);
      size += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  const problem = tar.problem ?? (tar.zeroBlocks < 2 ? 'the archive is truncated (no end-of-archive marker)' : undefined);
  return { sha256: whole.digest('hex'), size, entries: tar.entries, complete: !problem, problem };
}

/** sha256 of a local file. */
export function sha256OfFile(file: string): string {
  const hash = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(1 << 20);
  try {
    for (let n = fs.readSync(fd, buf, 0, buf.length, null); n > 0; n = fs.readSync(fd, buf, 0, buf.length, null)) {
      hash.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}
