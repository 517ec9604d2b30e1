/** `runbook refresh-policy -i inv.yaml --status|--hold|--unhold`: snap auto-refresh across the cluster (§14). */
import type { Command } from 'commander';
import { z } from 'zod';
import type { RefreshPolicyResult } from '../../common/refresh-policy';
import type { CliContext, RegisterCommands } from '../context';
import { parseFlags } from '../flags';
import { columns } from '../columns';

const Flags = z
  .strictObject({
    inventory: z.string().min(1),
    status: z.boolean().default(false),
    hold: z.boolean().default(false),
    unhold: z.boolean().default(false),
    plan: z.boolean().default(false),
    yes: z.boolean().default(false),
    json: z.boolean().default(false),
  })
  .refine((f) => [f.status, f.hold, f.unhold].filter(Boolean).length === 1, {
    error: 'give exactly one of --status, --hold or --unhold',
    path: ['status'],
  });

export function formatRefreshPolicy(r: RefreshPolicyResult, planOnly = false): string {
  const rows = [['NODE', 'CHANNEL', 'VERSION', 'REV', 'MICROK8S HOLD', 'SYSTEM HOLD', 'NEXT REFRESH']];
  for (const n of r.nodes) {
    if (n.unreachable) rows.push([n.node, '-', '-', '-', 'unknown (does not answer)', '-', '-']);
    else rows.push([n.node, n.tracking ?? '-', n.version, n.revision, n.hold ?? 'not held', n.systemHold ?? '-', n.next ?? '-']);
  }
  const lines = columns(rows);
  if (planOnly) lines.unshift('plan (nothing changed):', ...r.plan.map((p) => `  - ${p}`), '');
  else if (r.action !== 'status') lines.push('', r.changed.length ? `${r.action === 'hold' ? 'held' : 'released'} on: ${r.changed.join(', ')}` : 'nothing changed');
  if (r.drift.length) lines.push('', 'drift:', ...r.drift.map((d) => `  - ${d}`));
  return lines.join('\n');
}

export const registerRefreshPolicyCommand: RegisterCommands = (program: Command, ctx: CliContext) => {
  program
    .command('refresh-policy')
    .description("Show, hold or release snap auto-refresh of microk8s on every node, with the drift between nodes")
    .requiredOption('-i, --inventory <file>', 'inventory YAML')
    .option('--status', "show each node's channel, version, holds and next auto-refresh (read-only)")
    .option('--hold', 'hold auto-refresh of microk8s indefinitely on every node (snap refresh --hold microk8s)')
    .option('--unhold', 'release that hold on every node (snap refresh --unhold microk8s)')
    .option('--plan', 'print what would change and exit')
    .option('-y, --yes', 'start without asking for confirmation of the plan')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExamples:\n  runbook refresh-policy -i inventory.yaml --status\n  runbook refresh-policy -i inventory.yaml --hold --yes')
    .action(async (opts) => {
      const flags = parseFlags(ctx, Flags, opts);
      const inventory = await ctx.loadInventory(flags.inventory);
      const action = flags.hold ? 'hold' : flags.unhold ? 'unhold' : 'status';
      process.exitCode = await ctx.startRunbook({
        kind: 'refresh-policy',
        workflowType: 'refreshPolicy',
        inventory,
        input: { action },
        summary: `refresh-policy ${action} on ${inventory.cluster} (${inventory.nodes.length} nodes)`,
        planOnly: flags.plan,
        yes: action === 'status' || flags.yes,
        json: flags.json,
        formatResult: (r) => formatRefreshPolicy(r, flags.plan),
      });
    });
};
