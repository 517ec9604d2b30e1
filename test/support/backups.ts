/** Backups as the tests damage them: the engine's own records and tarballs, changed the way real ones went wrong. */
import { execFileSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { BackupRecord } from '../../common/backup';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** Replace a backup's tarball by one holding just `files`, and its record to match, so it still looks intact. */
function replaceBackup(b: Pick<BackupRecord, 'path'>, files: Record<string, Buffer>): void {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'damaged-backup-'));
  try {
    for (const [name, data] of Object.entries(files)) fs.writeFileSync(path.join(tmp, name), data);
    execFileSync('tar', ['-C', tmp, '-cf', b.path, '.']);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const bytes = fs.readFileSync(b.path);
  const jsonPath = b.path.replace(/\.tar$/, '.json');
  const record = JSON.parse(fs.readFileSync(jsonPath, 'utf8')) as BackupRecord;
  const entries = Object.entries(files).map(([name, data]) => ({ path: name, size: data.length, sha256: sha256(data) }));
  fs.writeFileSync(jsonPath, JSON.stringify({ ...record, sha256: sha256(bytes), size: bytes.length, files: Object.keys(files), entries }));
}

/**
 * Make a backup what canonical/microk8s#4259's were: a valid tar that holds nothing. Its record is updated to match
 * (sha256, size, no files), so it still looks intact: only restoring it shows that it is empty.
 */
export function emptyOutBackup(b: Pick<BackupRecord, 'path'>): void {
  replaceBackup(b, {});
}

/**
 * Make a backup look like a real cluster's: one closed raft segment of bytes the lab's simulator did not write (as a
 * real dqlite database's are to it). Its record is updated to match, so it is intact as far as its sha256 goes.
 */
export function foreignBackup(b: Pick<BackupRecord, 'path'>): void {
  replaceBackup(b, { '0000000000000001-0000000000000042': Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) % 256)) });
}
