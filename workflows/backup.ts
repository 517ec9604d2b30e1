/**
 * `runbook backup` and `runbook restore-backup`: a node's dqlite backend directory copied off the node and put back.
 * The tarball lives in the engine's state directory; history holds only its id, path, size and checksums.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import { backupIdFor, controlPlane, describeBackupResult, invalidInput, local, nodeOps } from './backup-steps';
import { Checklist } from './checklist';
import { RunbookController } from './runbook-controller';
import { FailureType } from '../common/constants';
import type { BackupInput, BackupResult, RestoreBackupInput, RestoreBackupResult } from '../common/backup';

/** Back up one control-plane node's backend directory off the node. */
export async function backup(input: BackupInput): Promise<BackupResult> {
  const { inventory } = input;
  const rb = new RunbookController('backup', inventory.cluster, inventory.nodes.filter((n) => n.role === 'controlplane').map((n) => n.name));
  const node = controlPlane(inventory, input.node, '--node');
  const id = backupIdFor(node.name, 'backup');
  const plan = [
    ...(input.stopped ? [`stop microk8s on ${node.name} (microk8s stop) for a consistent copy`] : []),
    `back up ${node.name}'s dqlite backend directory off the node as ${id} (tar streamed to the engine's backups/${inventory.cluster}/, sha256 verified)`,
    ...(input.stopped ? [`start microk8s on ${node.name} again (only if this runbook stopped it)`] : []),
    ...(input.keep ? [`keep the newest ${input.keep} backups of ${inventory.cluster}, delete older ones`] : []),
  ];
  if (input.planOnly) {
    rb.step('plan only');
    return { plan };
  }
  await rb.approvePlan(plan, input.yes, `back up ${node.name}`);

  const checklist = new Checklist(rb);
  try {
    if (input.stopped) {
      let stoppedByUs = false;
      // Started again only if this runbook stopped it: an operator's stop is left in place.
      const startAgain = async () => {
        if (!stoppedByUs) return;
        rb.step(`startNode ${node.name}`);
        rb.node(node.name, 'starting');
        await nodeOps.startMicrok8sOnNode.executeWithOptions({ summary: `start ${node.name}` }, [{ inventory, node: node.name }]);
      };
      await checklist.step(
        `stopNode ${node.name}`,
        async () => {
          rb.node(node.name, 'stopping');
          const s = await nodeOps.stopMicrok8sOnNode.executeWithOptions({ summary: `stop ${node.name}` }, [{ inventory, node: node.name }]);
          stoppedByUs = s.changed;
          rb.node(node.name, 'stopped', s.detail);
        },
        { undo: startAgain },
      );
    }
    const b = await checklist.step(`backupNode ${node.name}`, () => {
      rb.node(node.name, 'backing-up');
      return nodeOps.backupNode.executeWithOptions({ summary: `back up ${node.name}` }, [
        { inventory, node: node.name, id, stopped: input.stopped, keep: input.keep, label: input.label },
      ]);
    });
    rb.note(`backup ${describeBackupResult(b)}`);
    if (b.pruned.length) rb.note(`removed older backups (keep ${input.keep}): ${b.pruned.join(', ')}`);
    const { commands: _c, entries: _e, ...summary } = b;
    return { plan, backup: summary };
  } finally {
    await checklist.undo();
    rb.node(node.name, 'done');
    rb.step('done');
  }
}

/** Stop the node, keep a copy of what is there, put the backup back (verified), start the node. */
export async function restoreBackup(input: RestoreBackupInput): Promise<RestoreBackupResult> {
  const { inventory } = input;
  const rb = new RunbookController('restore-backup', inventory.cluster, [input.node]);
  const node = controlPlane(inventory, input.node, '--node');
  rb.step('describeBackup');
  const record = await local.describeBackup.executeWithOptions({ summary: `read backup ${input.backupId}` }, [
    { cluster: inventory.cluster, backupId: input.backupId },
  ]);
  if (record.node !== node.name) invalidInput(`--backup ${record.id} was taken on ${record.node}; restore it with --node ${record.node}`);
  if (!record.intact) {
    throw ApplicationFailure.create({ type: FailureType.BackupCorrupt, message: `backup ${record.id} no longer matches its sha256; it cannot be restored`, nonRetryable: true });
  }
  const safetyId = backupIdFor(node.name, 'before-restore');
  const plan = [
    `stop microk8s on ${node.name}`,
    `keep a copy of ${node.name}'s current backend directory off the node as ${safetyId}`,
    `put backup ${describeBackupResult(record)} back in place (streamed up, unpacked beside the backend, every file's sha256 checked, then swapped in)`,
    `start microk8s on ${node.name}`,
  ];
  if (input.planOnly) return { plan, changes: [] };
  await rb.approvePlan(plan, input.yes, `restore ${node.name} from ${record.id}`);

  rb.step(`stopNode ${node.name}`);
  rb.node(node.name, 'stopping');
  await nodeOps.stopMicrok8sOnNode.executeWithOptions({ summary: `stop ${node.name}` }, [{ inventory, node: node.name }]);
  rb.step(`backupNode ${node.name} (what is there now)`);
  rb.node(node.name, 'backing-up', 'copy of the current files');
  const safety = await nodeOps.backupNode.executeWithOptions({ summary: `keep a copy of ${node.name}` }, [
    { inventory, node: node.name, id: safetyId, stopped: true, label: `before restoring ${record.id}` },
  ]);
  rb.note(`the files that were on ${node.name} are kept as backup ${describeBackupResult(safety)}`);
  rb.step(`restoreBackup ${node.name}`);
  rb.node(node.name, 'restoring', record.id);
  const restored = await nodeOps.restoreNodeBackup.executeWithOptions({ summary: `restore ${record.id} on ${node.name}` }, [
    { inventory, node: node.name, backupId: record.id },
  ]);
  rb.step(`startNode ${node.name}`);
  rb.node(node.name, 'starting');
  await nodeOps.startMicrok8sOnNode.executeWithOptions({ summary: `start ${node.name}` }, [{ inventory, node: node.name }]);
  rb.node(node.name, 'done', `restored ${record.id}`);
  rb.step('done');
  return { plan, safetyBackup: safety.id, changes: restored.changes };
}
