/** `runbook recover-quorum -i inv.yaml --lost k8s-2,k8s-3 [--template auto|NAME] [--fence]`: the documented dqlite quorum recovery. */
import type { Command } from 'commander';
import { z } from 'zod';
import type { CliContext, RegisterCommands } from '../context';
import { nameList, parseFlags, wholeNumber } from '../flags';
import { controlPlaneNamed, nodeName, runbookFlags } from './control-plane-flags';
import { formatRecoverResult } from './recovery-summary';

const RecoverFlags = z.strictObject({
  ...runbookFlags,
  lost: nameList(nodeName, '--lost k8s-2,k8s-3', 'name the control-plane nodes lost for good'),
  template: z.union([z.literal('auto'), nodeName]).default('auto'),
  fence: z.boolean().default(false),
  waitTimeout: wholeNumber
    .pipe(z.number().min(10, { error: 'must be at least 10 seconds' }).max(24 * 3600, { error: 'must be at most 86400 seconds' }))
    .default(600),
});

export const registerRecoverQuorumCommand: RegisterCommands = (program: Command, ctx: CliContext) => {
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
