/** `runbook replace-node -i inv.yaml --node OLD [--with NEW]`: a failed node out, its replacement in (§13). */
import type { Command } from 'commander';
import { z } from 'zod';
import type { ReplaceNodeResult } from '../../common/replace-node';
import type { CliContext, RegisterCommands } from '../context';
import { parseFlags } from '../flags';
import { nodeName, runbookFlags } from './control-plane-flags';

const Flags = z.strictObject({
  ...runbookFlags,
  node: nodeName,
  with: nodeName.optional(),
});

export function formatReplaceNode(r: ReplaceNodeResult, planOnly: boolean): string {
  if (planOnly) return ['plan (nothing was changed):', ...r.plan.map((l) => `  ${l}`)].join('\n');
  const out = { leave: `${r.node} left and was removed`, force: `${r.node} removed with remove-node --force`, 'already-gone': `${r.node} was already gone` }[r.removal];
  return [`${out}; ${r.replacement} ${r.joined.length ? 'joined' : 'already a member'}; ${r.voters} dqlite voter(s), high availability ${r.ha ? 'yes' : 'no'}`].join('\n');
}

export const registerReplaceNodeCommand: RegisterCommands = (program: Command, ctx: CliContext) => {
  program
    .command('replace-node')
    .description('Replace a failed node: the old one out (leave, or remove-node --force when it is dead or rebuilt), the new one in with its role and failure domain, voters and HA verified back')
    .requiredOption('-i, --inventory <file>', 'inventory YAML (both nodes in it)')
    .requiredOption('--node <name>', 'the node to replace')
    .option('--with <name>', 'its replacement, an inventory entry with the same role (default: --node, a host rebuilt in place)')
    .option('--plan', 'print the plan from live state and exit without changes')
    .option('-y, --yes', 'start without asking for confirmation of the plan')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExamples:\n  runbook replace-node -i inventory.yaml --node k8s-3 --plan\n  runbook replace-node -i inventory.yaml --node k8s-3 --with k8s-4 --yes')
    .action(async (opts) => {
      const flags = parseFlags(ctx, Flags, opts);
      const inventory = await ctx.loadInventory(flags.inventory);
      const replacement = flags.with ?? flags.node;
      const names = inventory.nodes.map((n) => n.name).join(', ');
      const old = inventory.nodes.find((n) => n.name === flags.node);
      const next = inventory.nodes.find((n) => n.name === replacement);
      if (!old) ctx.badInput(`--node ${flags.node}: not in ${flags.inventory} (nodes: ${names})`);
      if (!next) ctx.badInput(`--with ${replacement}: not in ${flags.inventory}; add the new machine to the inventory first (nodes: ${names})`);
      if (old.role !== next.role) ctx.badInput(`--with ${replacement}: is a ${next.role}, ${old.name} a ${old.role}; a replacement takes the same role`);
      if (old !== next && old.failureDomain !== undefined && next.failureDomain !== undefined && old.failureDomain !== next.failureDomain) {
        ctx.badInput(`--with ${replacement}: failure domain ${next.failureDomain}, ${old.name} had ${old.failureDomain}; the replacement keeps the dead node's (§13): set it to ${old.failureDomain} or leave it out`);
      }
      if (old !== next && old.address === next.address) ctx.badInput(`--with ${replacement}: has ${old.name}'s address ${old.address}; for a host rebuilt at the same address, omit --with`);
      process.exitCode = await ctx.startRunbook({
        kind: 'replace-node',
        workflowType: 'replaceNode',
        inventory,
        input: { node: flags.node, replacement },
        summary: `replace ${flags.node}${replacement !== flags.node ? ` with ${replacement}` : ' (rebuilt)'} in ${inventory.cluster}`,
        planOnly: flags.plan,
        yes: flags.yes,
        json: flags.json,
        formatResult: (r) => formatReplaceNode(r, flags.plan),
      });
    });
};
