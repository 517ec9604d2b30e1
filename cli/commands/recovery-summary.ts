/**
 * What `backup`, `restore-backup` and `recover-quorum` print when they end: a short summary for people (the whole
 * result, every file change included, is JSON with `--json` and in `runbook history`).
 */
import type { FileChange } from '../../common/audit';
import type { BackupResult, RestoreBackupResult } from '../../common/backup';
import type { RecoverQuorumResult } from '../../common/recovery';

function mib(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : `${Math.ceil(bytes / 1024)} KiB`;
}

function changeCounts(changes: FileChange[]): string {
  const by = new Map<string, number>();
  for (const c of changes) by.set(c.action, (by.get(c.action) ?? 0) + 1);
  return [...by].map(([action, n]) => `${n} ${action}`).join(', ') || 'none';
}

const planLines = (plan: string[]) => ['plan:', ...plan.map((l) => `  ${l}`)];

export function formatBackupResult(r: BackupResult, planOnly: boolean): string {
  if (planOnly || !r.backup) return planLines(r.plan).join('\n');
  const b = r.backup;
  return [
    `backup ${b.id} of ${b.node}: ${b.files.length} files, ${mib(b.size)}, sha256 ${b.sha256}${b.reused ? ' (an identical backup already existed)' : ''}`,
    `  stored at ${b.path}`,
    ...(b.pruned.length ? [`  pruned (--keep): ${b.pruned.join(', ')}`] : []),
    '  (--json for the whole result)',
  ].join('\n');
}

export function formatRestoreResult(r: RestoreBackupResult, planOnly: boolean): string {
  if (planOnly) return planLines(r.plan).join('\n');
  return [
    `restored: files on the node ${changeCounts(r.changes)}, each verified by sha256`,
    ...(r.safetyBackup ? [`  what was there before is kept as backup ${r.safetyBackup}`] : []),
    '  (--json or runbook history for every file)',
  ].join('\n');
}

export function formatRecoverResult(r: RecoverQuorumResult): string {
  if (r.outcome === 'planned') return planLines(r.plan).join('\n');
  return [
    `recovered on ${r.survivors.join(', ')}${r.template ? ` from ${r.template}'s raft data` : ''}: ${r.voters ?? '?'} voter(s), high availability ${r.ha ? 'yes' : 'no'}`,
    `  backups taken first: ${r.backups.map((b) => `${b.node} ${b.id}`).join(', ') || 'none'}`,
    `  files: ${changeCounts(r.fileChanges)}`,
    `  removed from the cluster: ${r.removedNodes.join(', ') || 'none'}`,
    ...(r.ha ? [] : ['  HA is not back: add control-plane nodes with runbook form (three or more give HA)']),
    '  (--json or runbook history for every file changed)',
  ].join('\n');
}
