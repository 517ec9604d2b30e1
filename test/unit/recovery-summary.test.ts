/** backup, restore-backup and recover-quorum print a summary, not their whole result (240 lines for a recovery). */
import { formatBackupResult, formatRecoverResult, formatRestoreResult } from '../../cli/commands/recovery-summary';
import type { FileChange } from '../../common/audit';

const change = (action: FileChange['action'], i: number): FileChange => ({ node: 'k8s-1', path: `/b/f${i}`, action, size: 1, sha256: 'a'.repeat(64) });

test('recover-quorum: a few lines with survivors, template, voters, backups and counts of file changes', () => {
  const changes = [...Array.from({ length: 200 }, (_, i) => change('copied', i)), change('rewritten', 900), change('deleted', 901)];
  const out = formatRecoverResult({
    plan: ['p'],
    outcome: 'recovered',
    survivors: ['k8s-1'],
    template: 'k8s-1',
    backups: [{ node: 'k8s-1', id: 'b1', path: '/x', sha256: 'f'.repeat(64) }],
    fileChanges: changes,
    removedNodes: ['k8s-2', 'k8s-3'],
    voters: 1,
    ha: false,
  });
  expect(out.split('\n').length).toBeLessThan(10);
  expect(out).toMatch(/^recovered on k8s-1 from k8s-1's raft data: 1 voter\(s\), high availability no$/m);
  expect(out).toContain('files: 200 copied, 1 rewritten, 1 deleted');
  expect(out).toContain('removed from the cluster: k8s-2, k8s-3');
  expect(out).toMatch(/HA is not back: add control-plane nodes with runbook form/);
  expect(out).not.toContain('{');
});

test('backup and restore: one line of what was made, where, and the --json hint', () => {
  const backup = formatBackupResult(
    { plan: [], backup: { id: 'b1', cluster: 'c', node: 'k8s-1', path: '/s/b1.tar', sha256: 'e'.repeat(64), size: 3 * 1024 * 1024, files: ['a', 'b'], backend: '/x', stopped: false, createdAt: 't', reused: false, pruned: ['b0'] } },
    false,
  );
  expect(backup).toMatch(/^backup b1 of k8s-1: 2 files, 3\.0 MiB, sha256 e{64}$/m);
  expect(backup).toContain('pruned (--keep): b0');
  const restore = formatRestoreResult({ plan: [], safetyBackup: 'b2', changes: [change('rewritten', 1), change('created', 2)] }, false);
  expect(restore).toContain('restored: files on the node 1 rewritten, 1 created, each verified by sha256');
  expect(restore).toContain('kept as backup b2');
});
