/** `runbook form -i inv.yaml [--worker-concurrency N] [--clean-stale]`: flags validated with zod before anything starts (exit 2). */
import type { Command } from 'commander';
import { z } from 'zod';
import type { CliContext, RegisterCommands } from '../context';
import { parseFlags, secondsNumber, wholeNumber } from '../flags';
import type { FormResult } from '../../common/form';

const FormFlags = z.strictObject({
  inventory: z.string().min(1),
  plan: z.boolean().default(false),
  yes: z.boolean().default(false),
  json: z.boolean().default(false),
  cleanStale: z.boolean().default(false),
  workerConcurrency: wholeNumber.pipe(z.number().min(1, { error: 'must be at least 1' }).max(100, { error: 'must be at most 100' })).default(5),
  maxClockSkew: secondsNumber
    .pipe(z.number().min(0.001, { error: 'must be at least 0.001 seconds (1 ms)' }).max(300, { error: 'must be at most 300 seconds' }))
    .default(2),
});

export const registerFormCommand: RegisterCommands = (program: Command, ctx: CliContext) => {
  program
    .command('form')
    .description(
      'Form an HA cluster from freshly installed nodes, or grow an existing one: pre-flight, join control-plane ' +
        'nodes one at a time, workers in parallel, set failure domains, verify',
    )
    .requiredOption('-i, --inventory <file>', 'inventory YAML')
    .option('--plan', 'print the plan from live state and exit without changes')
    .option('-y, --yes', 'start without asking for confirmation of the plan')
    .option('--worker-concurrency <n>', 'workers joining at once (control-plane joins are always one at a time)', '5')
    .option('--max-clock-skew <seconds>', 'largest clock difference allowed between nodes', '2')
    .option('--clean-stale', 'remove stale dqlite members that block a join without asking (remove-node <ip> --force)')
    .option('--json', 'print the result as JSON')
    .action(async (opts) => {
      const flags = parseFlags(ctx, FormFlags, opts);
      const inventory = await ctx.loadInventory(flags.inventory);
      const cps = inventory.nodes.filter((n) => n.role === 'controlplane').length;
      if (cps === 0) ctx.badInput(`${flags.inventory}: no node has role controlplane; a cluster needs at least one`);
      process.exitCode = await ctx.startRunbook({
        kind: 'form',
        workflowType: 'form',
        inventory,
        input: {
          workerConcurrency: flags.workerConcurrency,
          maxClockSkewMs: Math.round(flags.maxClockSkew * 1000),
          cleanStale: flags.cleanStale,
        },
        summary: `form ${inventory.cluster}: ${cps} control-plane, ${inventory.nodes.length - cps} worker node(s)`,
        details: [
          `**form** \`${inventory.cluster}\``,
          '',
          '| node | address | role | failure domain |',
          '|---|---|---|---|',
          ...inventory.nodes.map((n) => `| ${n.name} | ${n.address} | ${n.role} | ${n.failureDomain ?? ''} |`),
        ].join('\n'),
        planOnly: flags.plan,
        yes: flags.yes,
        json: flags.json,
        formatResult: (r) => formatFormResult(r, flags.plan),
      });
    });
};

/** The plan, what changed, the notes and the closing summary table. */
export function formatFormResult(r: FormResult, planOnly: boolean): string {
  if (planOnly) return ['plan (nothing was changed):', ...r.plan.map((l) => `  ${l}`)].join('\n');
  const lines = [r.changed ? `joined: ${r.joined.length ? r.joined.join(', ') : 'none'} (primary ${r.primary})` : 'no change: the cluster is already formed as the inventory says'];
  for (const n of r.notes) if (!n.startsWith('high-availability:')) lines.push(`note: ${n}`);
  return [...lines, '', ...r.table].join('\n');
}
