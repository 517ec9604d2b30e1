/** `runbook backup -i inv.yaml [--node N] [--stopped] [--keep K] [--label TEXT]`: the dqlite backend directory off a control plane, sha256 verified. */
import type { Command } from 'commander';
import { z } from 'zod';
import type { CliContext, RegisterCommands } from '../context';
import { parseFlags, wholeNumber } from '../flags';
import { plainTextProblem } from '../../common/text';
import { controlPlaneNamed, nodeName, runbookFlags } from './control-plane-flags';
import { formatBackupResult } from './recovery-summary';

const BackupFlags = z.strictObject({
  ...runbookFlags,
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

export const registerBackupCommand: RegisterCommands = (program: Command, ctx: CliContext) => {
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
};
