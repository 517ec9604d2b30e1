/**
 * backup and restore-backup end to end on the lab: the tarball leaves the node through the worker, and putting it
 * back returns the node's backend directory byte for byte (and keeps a copy of what was there).
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { snapPaths } from '../../lab/sim/backend';
import type { BackupResult, RestoreBackupResult } from '../../common/backup';
import { useLabSuite } from '../support/e2e';
import { startRunbook } from '../support/temporal';

const suite = useLabSuite({ lab: { name: 'bk', controlPlanes: 3, formed: true, profile: 'fast' } });

/** name → sha256 of every regular file in a node's backend directory. */
function backendFiles(node: string): Record<string, string> {
  const dir = snapPaths(suite.lab.dir, node).backend;
  return Object.fromEntries(
    fs
      .readdirSync(dir)
      .filter((f) => fs.statSync(path.join(dir, f)).isFile())
      .sort()
      .map((f) => [f, createHash('sha256').update(fs.readFileSync(path.join(dir, f))).digest('hex')]),
  );
}

async function runbook<T>(workflowType: string, kind: 'backup' | 'restore-backup', input: Record<string, unknown>): Promise<T> {
  const h = await startRunbook(suite.env, { kind, workflowType, inventory: suite.lab.inventory, input, summary: kind, yes: true }, suite.worker.taskQueue);
  return (await h.result()) as T;
}

test('backup then restore-backup round-trips the backend byte for byte', async () => {
  const b = await runbook<BackupResult>('backup', 'backup', { node: 'k8s-2', stopped: true, label: 'round trip' });
  const backup = b.backup!;
  const original = backendFiles('k8s-2');
  expect(Object.keys(original).sort()).toEqual([...backup.files].sort());
  expect(createHash('sha256').update(fs.readFileSync(backup.path)).digest('hex')).toBe(backup.sha256);
  expect((await suite.lab.status()).nodes.find((n) => n.name === 'k8s-2')?.services).toBe('running'); // started again

  // Damage the node's files: one changed, one deleted, one added.
  const dir = snapPaths(suite.lab.dir, 'k8s-2').backend;
  const segment = Object.keys(original).find((f) => /^\d{16}-\d{16}$/.test(f))!;
  fs.appendFileSync(path.join(dir, segment), 'garbage');
  fs.rmSync(path.join(dir, 'metadata1'));
  fs.writeFileSync(path.join(dir, 'stray-file'), 'x');
  const damaged = backendFiles('k8s-2');

  const r = await runbook<RestoreBackupResult>('restoreBackup', 'restore-backup', { node: 'k8s-2', backupId: backup.id });
  const restored = backendFiles('k8s-2');
  // Every file as in the backup; the simulator rewrites open segments and metadata at start, so compare the rest too.
  for (const [name, sha] of Object.entries(original)) {
    if (/^(open-\d+|metadata[12])$/.test(name)) continue;
    expect([name, restored[name]]).toEqual([name, sha]);
  }
  expect(restored['stray-file']).toBeUndefined();
  expect(r.changes.map((c) => `${c.action} ${path.basename(c.path)}`).sort()).toEqual(
    [`created metadata1`, `deleted stray-file`, `rewritten ${segment}`].sort(),
  );
  expect((await suite.lab.status()).nodes.find((n) => n.name === 'k8s-2')).toMatchObject({ services: 'running' });

  // The copy of what was there before the restore holds the damaged files.
  const list = await suite.cli(['backups', 'list', '--cluster', suite.lab.inventory.cluster, '--json'], { env: { RUNBOOK_STATE_DIR: suite.stateDir } });
  expect(list.code).toBe(0);
  const records = JSON.parse(list.stdout) as Array<{ id: string; label?: string; path: string }>;
  expect(records.map((x) => x.id)).toEqual(expect.arrayContaining([backup.id, r.safetyBackup]));
  const safety = records.find((x) => x.id === r.safetyBackup)!;
  expect(safety.label).toMatch(/before restoring/);
  expect(Object.keys(damaged)).toContain('stray-file');
});

test('bad flags exit 2 and start nothing', async () => {
  const bad = await suite.cli(['restore-backup', '-i', suite.lab.inventoryPath, '--node', 'k8s-2', '--backup', '../etc/passwd'], { env: { RUNBOOK_STATE_DIR: suite.stateDir } });
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/--backup: must be a backup id/);
  const keep = await suite.cli(['backup', '-i', suite.lab.inventoryPath, '--keep', '0'], { env: { RUNBOOK_STATE_DIR: suite.stateDir } });
  expect(keep.code).toBe(2);
  expect(keep.stderr).toMatch(/--keep: must be at least 1/);
  const lost = await suite.cli(['recover-quorum', '-i', suite.lab.inventoryPath], { env: { RUNBOOK_STATE_DIR: suite.stateDir } });
  expect(lost.code).toBe(2);
  expect(lost.stderr).toMatch(/--lost: is required/);
});

test('--keep leaves only the newest backups of the cluster, counting the one just made', async () => {
  const before = (await suite.cli(['backups', 'list', '--cluster', suite.lab.inventory.cluster, '--json'], { env: { RUNBOOK_STATE_DIR: suite.stateDir } })).stdout;
  const older = (JSON.parse(before) as Array<{ id: string }>).map((r) => r.id);
  expect(older.length).toBeGreaterThanOrEqual(1);
  const b = await runbook<BackupResult>('backup', 'backup', { node: 'k8s-1', keep: 1 });
  expect(b.backup!.pruned.sort()).toEqual([...older].sort());
  const after = JSON.parse((await suite.cli(['backups', 'list', '--cluster', suite.lab.inventory.cluster, '--json'], { env: { RUNBOOK_STATE_DIR: suite.stateDir } })).stdout) as Array<{ id: string; path: string }>;
  expect(after.map((r) => r.id)).toEqual([b.backup!.id]);
  expect(fs.readdirSync(path.dirname(after[0].path)).sort()).toEqual([`${b.backup!.id}.json`, `${b.backup!.id}.tar`]);
});
