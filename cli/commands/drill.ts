/**
 * `runbook drill -i inv.yaml --backup ID|latest [--channel C]`: restore a backup into a fresh lab copy of the
 * cluster's topology and prove it serves (workflows/drill.ts). Exit 0 when it does, 1 when the backup is broken.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { BACKUP_ID, backupDir, findBackupRecord } from '../../activities/backup';
import { drillWorkflowId, type DrillResult } from '../../common/drill';
import { channelName, parseChannel } from '../../lab/sim/catalogue';
import { defaultStateDir } from '../../local/state-dir';
import type { CliContext, RegisterCommands } from '../context';
import { parseFlags } from '../flags';
import { runbookFlags } from './control-plane-flags';
import { example } from './runbook-id';

/** `--backup latest` or an id as `runbook backups list` prints it. */
export const drillBackupFlag = z
  .string({ error: 'is required: latest, or a backup id from runbook backups list' })
  .refine((v) => v === 'latest' || BACKUP_ID.test(v), { error: 'must be latest or a backup id as printed by runbook backups list' });

const DrillFlags = z.strictObject({
  ...runbookFlags,
  backup: drillBackupFlag,
  // The lab's store: a channel it does not have could never make the lab.
  channel: z
    .string()
    .refine((c) => !!parseChannel(c), { error: 'is not a channel the lab has; use <1.20..1.32|latest>[/stable|candidate|beta|edge], e.g. 1.28/stable' })
    .transform((c) => channelName(parseChannel(c)!))
    .optional(),
});

export function formatDrillResult(r: DrillResult, planOnly: boolean): string {
  const plan = ['plan:', ...r.plan.map((l) => `  ${l}`)];
  if (planOnly || r.outcome === 'planned') return plan.join('\n');
  const v = r.verdict;
  return [
    `backup ${r.backup.id} restores: the lab served its data`,
    `  dqlite leader:  ${v?.leader?.node ?? '?'} (${v?.leader?.address ?? '?'})`,
    `  Node objects:   ${v?.restored.join(', ') || 'none'} (back from the backup; expected ${r.expected.nodes.join(', ')}, ${r.expected.from === 'backup' ? 'recorded with the backup' : 'from the inventory'})`,
    ...(v?.registeredByLab.length ? [`  registered by the lab's own nodes: ${v.registeredByLab.join(', ')}`] : []),
    `  lab ${r.lab?.name ?? '?'}: ${r.topology?.controlPlanes} control plane(s), ${r.topology?.workers} worker(s) on ${r.topology?.channel}, ${r.lab?.removed ? 'removed' : 'gone'}`,
    '  (--json for the whole result)',
  ].join('\n');
}

export const registerDrillCommand: RegisterCommands = (program: Command, ctx: CliContext) => {
  program
    .command('drill')
    .description("Restore a backup into a fresh lab copy of the cluster's topology and prove it serves: a dqlite leader, the API, the Node objects")
    .requiredOption('-i, --inventory <file>', 'inventory YAML')
    .option('--backup <id|latest>', "the backup to drill: an id from runbook backups list, or latest (the cluster's newest)")
    .option('--channel <channel>', 'MicroK8s channel of the lab when the backup does not record the one it was taken on')
    .option('--plan', 'print the plan and exit without changes')
    .option('-y, --yes', 'start without asking for confirmation of the plan')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `\nExit code 0 when the backup restores and serves, 1 when it is broken (the message names what is missing).\n${example(
        'runbook drill -i prod.yaml --backup latest --yes',
        'runbook schedule create drill -i prod.yaml --every 24h',
      )}`,
    )
    .action(async (opts) => {
      const flags = parseFlags(ctx, DrillFlags, opts);
      const inventory = await ctx.loadInventory(flags.inventory);
      if (!inventory.nodes.some((n) => n.role === 'controlplane')) ctx.badInput(`${flags.inventory}: no control-plane node; a drill copies the cluster's control planes into a lab`);
      // The backups live in the engine's state directory, as for restore-backup: say now when there is none to drill.
      const record = findBackupRecord(defaultStateDir(), inventory.cluster, flags.backup);
      if (!record) {
        ctx.badInput(
          flags.backup === 'latest'
            ? `--backup latest: cluster ${inventory.cluster} has no backups in ${backupDir(defaultStateDir(), inventory.cluster)}; take one first: runbook backup -i ${flags.inventory}`
            : `--backup ${flags.backup}: no such backup of ${inventory.cluster}; see runbook backups list -i ${flags.inventory}`,
        );
      }
      if (!record.channel && !flags.channel) ctx.badInput(`--channel: backup ${record.id} does not record the MicroK8s channel it was taken on; name it, e.g. --channel 1.28/stable`);
      process.exitCode = await ctx.startRunbook({
        kind: 'drill',
        workflowType: 'restoreDrill',
        workflowId: drillWorkflowId(inventory.cluster),
        inventory,
        input: { backup: flags.backup, ...(flags.channel ? { channel: flags.channel } : {}) },
        summary: `restore drill of ${inventory.cluster}'s backup ${flags.backup === 'latest' ? `${record.id} (latest)` : record.id}`,
        formatResult: (r) => formatDrillResult(r, flags.plan),
        planOnly: flags.plan,
        yes: flags.yes,
        json: flags.json,
      });
    });
};
