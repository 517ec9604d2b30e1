/**
 * `runbook backup`, `runbook backups list`, `runbook restore-backup` and `runbook recover-quorum`. Every flag is
 * checked with zod before anything starts; a bad flag names itself and the fix, exit 2.
 */
import { defaultStateDir } from '../../local/state-dir';
import type { Command } from 'commander';
import * as path from 'path';
import { z } from 'zod';
import { BACKUP_ID, listBackupClusters, listBackupRecords } from '../../activities/backup';
import type { Inventory } from '../../common/inventory';
import type { CliContext, RegisterCommands } from '../context';
import { nameList, parseFlags, wholeNumber } from '../flags';
import { formatBackupResult, formatRecoverResult, formatRestoreResult } from './recovery-summary';
import { plainTextProblem, printableDeep } from '../../common/text';

const NODE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const nodeName = z.string().regex(NODE, { error: 'must be a node name from the inventory (lowercase DNS label)' });
const common = {
  inventory: z.string().min(1),
  plan: z.boolean().default(false),
  yes: z.boolean().default(false),
  json: z.boolean().default(false),
};

const BackupFlags = z.strictObject({
  ...common,
  node: nodeName.optional(),
  stopped: z.boolean().default(false),
  keep: wholeNumber
    .pipe(z.number().min(1, { error: 'must be at least 1 (the backup just made is always kept)' }).max(1000, { error: 'must be at most 1000' }))
    .optional(),
  label: z
    .string()
    .max(200, { error: 'must be at most 200 characters' })
    .refine((l) => !plainTextProblem(l), { error: 'must be one line of printable text (no control characters or escape sequences)' })
    .optional(),
});

const ListFlags = z.strictObject({
  inventory: z.string().min(1).optional(),
  cluster: nodeName.optional(),
  node: nodeName.optional(),
  json: z.boolean().default(false),
});

const RestoreFlags = z.strictObject({
  ...common,
  node: nodeName,
  backup: z.string().regex(BACKUP_ID, { error: 'must be a backup id as printed by runbook backups list' }),
});

const RecoverFlags = z.strictObject({
  ...common,
  lost: nameList(nodeName, '--lost k8s-2,k8s-3', 'name the control-plane nodes lost for good'),
  template: z.union([z.literal('auto'), nodeName]).default('auto'),
  fence: z.boolean().default(false),
  waitTimeout: wholeNumber
    .pipe(z.number().min(10, { error: 'must be at least 10 seconds' }).max(24 * 3600, { error: 'must be at most 86400 seconds' }))
    .default(600),
});

function controlPlaneNamed(ctx: CliContext, inventory: Inventory, flag: string, name: string): void {
  const node = inventory.nodes.find((n) => n.name === name);
  if (!node) ctx.badInput(`${flag} ${name}: not in the inventory (nodes: ${inventory.nodes.map((n) => n.name).join(', ')})`);
  if (node.role !== 'controlplane') ctx.badInput(`${flag} ${name}: is a worker, which holds no dqlite data; name a control-plane node`);
}

export const registerRecoveryCommands: RegisterCommands = (program: Command, ctx: CliContext) => {
  program
    .command('backup')
    .description("Back up a control-plane node's dqlite backend directory off the node (tar streamed to the engine, sha256 verified)")
    .requiredOption('-i, --inventory <file>', 'inventory YAML')
    .option('--node <name>', 'control-plane node to back up (default: the first in the inventory)')
    .option('--stopped', 'stop microk8s on the node for a consistent copy, and start it again afterwards')
    .option('--keep <n>', "keep only the newest n backups of this cluster in the engine's state directory")
    .option('--label <text>', 'a note stored with the backup')
    .option('--plan', 'print the plan and exit without changes')
    .option('-y, --yes', 'start without asking for confirmation of the plan')
    .option('--json', 'print the result as JSON')
    .action(async (opts) => {
      const flags = parseFlags(ctx, BackupFlags, opts);
      const inventory = await ctx.loadInventory(flags.inventory);
      if (flags.node) controlPlaneNamed(ctx, inventory, '--node', flags.node);
      else if (!inventory.nodes.some((n) => n.role === 'controlplane')) ctx.badInput(`${flags.inventory}: no control-plane node to back up`);
      const node = flags.node ?? inventory.nodes.find((n) => n.role === 'controlplane')!.name;
      process.exitCode = await ctx.startRunbook({
        kind: 'backup',
        workflowType: 'backup',
        inventory,
        input: { node, stopped: flags.stopped, keep: flags.keep, label: flags.label },
        summary: `back up ${node} of ${inventory.cluster}${flags.stopped ? ' (stopped)' : ''}`,
        formatResult: (r) => formatBackupResult(r, flags.plan),
        planOnly: flags.plan,
        yes: flags.yes,
        json: flags.json,
      });
    });

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

  program
    .command('recover-quorum')
    .description(
      'Recover a cluster that lost the majority of its dqlite voters for good: stop and back up the survivors, ' +
        'reconfigure the template node, copy its raft files to the other survivors, start, remove the lost nodes',
    )
    .requiredOption('-i, --inventory <file>', 'inventory YAML')
    .option('--lost <names>', 'comma-separated control-plane nodes lost for good (required)')
    .option('--template <auto|name>', 'survivor whose raft data the others get (default: the newest data)', 'auto')
    .option('--fence', 'stop and disable microk8s on a "lost" node that still answers over SSH, instead of refusing')
    .option('--wait-timeout <seconds>', 'how long to wait for the API, a dqlite leader and Ready nodes after the start', '600')
    .option('--plan', 'print the plan from live state and exit without changes')
    .option('-y, --yes', 'start without asking for confirmation of the plan')
    .option('--json', 'print the result as JSON')
    .action(async (opts) => {
      const flags = parseFlags(ctx, RecoverFlags, opts);
      const inventory = await ctx.loadInventory(flags.inventory);
      for (const name of flags.lost) controlPlaneNamed(ctx, inventory, '--lost', name);
      const survivors = inventory.nodes.filter((n) => n.role === 'controlplane' && !flags.lost.includes(n.name));
      if (!survivors.length) ctx.badInput('--lost: lists every control-plane node; at least one survivor is needed');
      if (flags.template !== 'auto') {
        controlPlaneNamed(ctx, inventory, '--template', flags.template);
        if (flags.lost.includes(flags.template)) ctx.badInput(`--template ${flags.template}: is also in --lost; pick a survivor (${survivors.map((n) => n.name).join(', ')})`);
      }
      process.exitCode = await ctx.startRunbook({
        kind: 'recover-quorum',
        workflowType: 'recoverQuorum',
        inventory,
        input: {
          lost: flags.lost,
          template: flags.template === 'auto' ? undefined : flags.template,
          fence: flags.fence,
          waitTimeoutMs: flags.waitTimeout * 1000,
        },
        summary: `recover quorum of ${inventory.cluster}: lost ${flags.lost.join(', ')}`,
        formatResult: formatRecoverResult,
        planOnly: flags.plan,
        yes: flags.yes,
        json: flags.json,
      });
    });
};
