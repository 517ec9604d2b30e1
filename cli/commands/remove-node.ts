/** `runbook remove-node -i inv.yaml --node N [--force-lost]`: drain, leave, remove-node, verify. */
import { Option, type Command } from 'commander';
import { z } from 'zod';
import type { RemoveNodeResult } from '../../common/remove-node';
import type { CliContext, RegisterCommands } from '../context';
import { parseFlags } from '../flags';

const RemoveFlags = z.strictObject({
  inventory: z.string().min(1),
  node: z.string().min(1),
  forceLost: z.boolean().default(false),
  plan: z.boolean().default(false),
  yes: z.boolean().default(false),
  json: z.boolean().default(false),
});

export const registerRemoveNodeCommand: RegisterCommands = (program: Command, ctx: CliContext) => {
  program
    .command('remove-node')
    .description('Remove a node safely: drain, leave, remove-node, verify; --force-lost for a node that is gone for good')
    .requiredOption('-i, --inventory <file>', 'inventory YAML')
    .requiredOption('--node <name>', 'the node to remove (its inventory name)')
    .addOption(new Option('--force-lost', 'the node is lost for good: remove-node --force without drain or leave'))
    .option('--plan', 'print the plan from live state and exit without changes')
    .option('-y, --yes', 'start without asking for confirmation of the plan')
    .option('--json', 'print the result as JSON')
    .action(async (opts) => {
      const flags = parseFlags(ctx, RemoveFlags, opts);
      const inventory = await ctx.loadInventory(flags.inventory);
      if (!inventory.nodes.some((n) => n.name === flags.node)) {
        ctx.badInput(
          `--node: ${JSON.stringify(flags.node)} is not in ${flags.inventory}; use one of ${inventory.nodes.map((n) => n.name).join(', ')}`,
        );
      }
      if (inventory.nodes.length < 2) ctx.badInput(`${flags.inventory}: a removal needs another node to run remove-node on`);
      process.exitCode = await ctx.startRunbook({
        kind: 'remove-node',
        workflowType: 'removeNode',
        inventory,
        input: { node: flags.node, forceLost: flags.forceLost },
        summary: `remove ${flags.node} from ${inventory.cluster}${flags.forceLost ? ' (lost, --force)' : ''}`,
        planOnly: flags.plan,
        yes: flags.yes,
        json: flags.json,
        formatResult: (r) => formatRemoveResult(r, flags.plan),
      });
    });
};

export function formatRemoveResult(r: RemoveNodeResult, planOnly: boolean): string {
  if (planOnly) return ['plan (nothing was changed):', ...r.plan.map((l) => `  ${l}`)].join('\n');
  return [r.changed ? `${r.node} removed (via ${r.remover})` : `${r.node}: nothing to remove`, ...r.notes.map((n) => `note: ${n}`)].join('\n');
}
