import { execFileSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readArchive } from '../../activities/backup-archive';
import { archiveMismatch } from '../../activities/backup';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

describe('backup archives are read back before they are kept', () => {
  let dir: string;
  let tar: string;
  const contents: Record<string, Buffer> = {
    'cluster.yaml': Buffer.from('- ID: 1\n  Address: 10.0.0.1:19001\n  Role: 0\n'),
    'info.yaml': Buffer.from('ID: 1\nAddress: 10.0.0.1:19001\nRole: 0\n'),
    'open-1': Buffer.alloc(70_000, 7),
    empty: Buffer.alloc(0),
  };

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rq-archive-'));
    fs.mkdirSync(path.join(dir, 'backend'));
    for (const [name, b] of Object.entries(contents)) fs.writeFileSync(path.join(dir, 'backend', name), b);
    tar = path.join(dir, 'b.tar');
    execFileSync('tar', ['-C', path.join(dir, 'backend'), '-cf', tar, '.']);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('a tarball made by GNU tar yields every file with its sha256', () => {
    const r = readArchive(tar);
    expect(r.complete).toBe(true);
    expect(r.sha256).toBe(sha(fs.readFileSync(tar)));
    expect(Object.fromEntries(r.entries.map((e) => [e.path, e.sha256]))).toEqual(
      Object.fromEntries(Object.entries(contents).map(([n, b]) => [n, sha(b)])),
    );
  });

  test('a truncated or corrupted tarball is not complete', () => {
    const whole = fs.readFileSync(tar);
    const cut = path.join(dir, 'cut.tar');
    fs.writeFileSync(cut, whole.subarray(0, 2048));
    expect(readArchive(cut).complete).toBe(false);
    const bad = Buffer.from(whole);
    bad[10] ^= 0xff; // inside the first header's name: its checksum no longer matches
    const badFile = path.join(dir, 'bad.tar');
    fs.writeFileSync(badFile, bad);
    expect(readArchive(badFile).problem).toMatch(/header checksum/);
  });

  test('a stopped node must match exactly; a running node only in identity files and closed raft files', () => {
    const entries = readArchive(tar).entries;
    const listing = Object.entries(contents).map(([name, b]) => ({ name, size: b.length, sha256: sha(b) }));
    expect(archiveMismatch(entries, listing, true)).toBeUndefined();
    const moved = listing.map((f) => (f.name === 'open-1' ? { ...f, sha256: sha('changed') } : f));
    expect(archiveMismatch(entries, moved, true)).toMatch(/open-1/);
    expect(archiveMismatch(entries, moved, false)).toBeUndefined();
    const lostInfo = entries.filter((e) => e.path !== 'info.yaml');
    expect(archiveMismatch(lostInfo, listing, false)).toMatch(/info.yaml is on the node but not in the archive/);
  });
});
