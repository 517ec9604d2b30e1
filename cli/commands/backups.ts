/** `runbook backups list [--cluster c | -i inv] [--node N]`: the backups kept in the state directory (no Temporal needed). */
import * as path from 'path';
import type { Command } from 'commander';
import { z } from 'zod';
import type { CliContext, RegisterCommands } from '../context';
import { listBackupClusters, listBackupRecords } from '../../activities/backup';
import { printableDeep } from '../../common/text';
import { defaultStateDir } from '../../local/state-dir';
import { parseFlags } from '../flags';
import { nodeName } from './control-plane-flags';

const ListFlags = z.strictObject({
  inventory: z.string().min(1).optional(),
  cluster: nodeName.optional(),
  node: nodeName.optional(),
  json: z.boolean().default(false),
});

export const registerBackupsCommand: RegisterCommands = (program: Command, ctx: CliContext) => {
  program
    .command('backups')
    .description('Backups kept by the engine')
    .command('list')
    .description("List the backups in the engine's state directory, newest first (no Temporal needed)")
    .option('-i, --inventory <file>', 'inventory YAML (for its cluster name)')
    .option('--cluster <name>', 'cluster name (instead of --inventory)')
    .option('--node <name>', 'only backups of this node')
    .option('--json', 'print JSON')
    .action(async (opts) => {
      const flags = parseFlags(ctx, ListFlags, opts);
      const only = flags.cluster ?? (flags.inventory ? (await ctx.loadInventory(flags.inventory)).cluster : undefined);
      const root = path.join(defaultStateDir(), 'backups');
      // Without --cluster or -i: every cluster's backups (the directory names are cluster names the engine wrote).
      const clusters = only ? [only] : listBackupClusters(defaultStateDir());
      const records = printableDeep(
        clusters.flatMap((c) => listBackupRecords(defaultStateDir(), c).map((r) => ({ ...r, cluster: c }))).filter((r) => !flags.node || r.node === flags.node),
      );
      if (flags.json) {
        console.log(JSON.stringify(records.map(({ entries: _e, ...r }) => r), null, 2));
        return;
      }
      if (!records.length) {
        console.log(`no backups${only ? ` of ${only}` : ''} in ${only ? path.join(root, only) : root}`);
        return;
      }
      console.log(['ID', 'CLUSTER', 'NODE', 'CREATED', 'SIZE', 'FILES', 'STOPPED', 'SHA256', 'LABEL'].join('\t'));
      for (const r of records) {
        console.log([r.id, r.cluster, r.node, r.createdAt, r.size, r.files.length, r.stopped ? 'yes' : 'no', r.sha256.slice(0, 12), r.label ?? ''].join('\t'));
      }
    });
};
