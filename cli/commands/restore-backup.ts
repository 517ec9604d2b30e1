/** `runbook restore-backup -i inv.yaml --node N --backup ID`: a backup back on its node, the old data kept, verified. */
import type { Command } from 'commander';
import { z } from 'zod';
import type { CliContext, RegisterCommands } from '../context';
import { BACKUP_ID, listBackupRecords } from '../../activities/backup';
import { defaultStateDir } from '../../local/state-dir';
import { parseFlags } from '../flags';
import { controlPlaneNamed, nodeName, runbookFlags } from './control-plane-flags';
import { formatRestoreResult } from './recovery-summary';

const RestoreFlags = z.strictObject({
  ...runbookFlags,
  node: nodeName,
  backup: z.string().regex(BACKUP_ID, { error: 'must be a backup id as printed by runbook backups list' }),
});

export const registerRestoreBackupCommand: RegisterCommands = (program: Command, ctx: CliContext) => {
  program
    .command('restore-backup')
    .description('Put a backup back on its node: stop it, keep a copy of what is there, restore and verify, start it')
    .requiredOption('-i, --inventory <file>', 'inventory YAML')
    .requiredOption('--node <name>', 'the node the backup was taken on')
    .requiredOption('--backup <id>', 'backup id (runbook backups list)')
    .option('--plan', 'print the plan and exit without changes')
    .option('-y, --yes', 'start without asking for confirmation of the plan')
    .option('--json', 'print the result as JSON')
    .action(async (opts) => {
      const flags = parseFlags(ctx, RestoreFlags, opts);
      const inventory = await ctx.loadInventory(flags.inventory);
      controlPlaneNamed(ctx, inventory, '--node', flags.node);
      const record = listBackupRecords(defaultStateDir(), inventory.cluster).find((r) => r.id === flags.backup);
      if (!record) ctx.badInput(`--backup ${flags.backup}: no such backup of ${inventory.cluster}; see runbook backups list -i ${flags.inventory}`);
      if (record.node !== flags.node) ctx.badInput(`--backup ${flags.backup} was taken on ${record.node}: use --node ${record.node}`);
      process.exitCode = await ctx.startRunbook({
        kind: 'restore-backup',
        workflowType: 'restoreBackup',
        inventory,
        input: { node: flags.node, backupId: flags.backup },
        summary: `restore ${flags.node} of ${inventory.cluster} from ${flags.backup}`,
        formatResult: (r) => formatRestoreResult(r, flags.plan),
        planOnly: flags.plan,
        yes: flags.yes,
        json: flags.json,
      });
    });
};
