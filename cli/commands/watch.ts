/** `runbook watch <id>`: follow a runbook until it ends; exits with its outcome. */
import type { Command } from 'commander';
import type { ProgramContext } from '../context';
import { describeRunbook, example, checkRunbookId } from './runbook-id';
import { uiLink } from '../ui-link';

export function registerWatchCommand(program: Command, ctx: ProgramContext): void {
  program
    .command('watch <id>')
    .description(
      'Follow a runbook until it ends: redrawn in place on a terminal, one line per change otherwise; ' +
        'exits with its outcome (0 completed, 1 failed, cancelled or terminated)',
    )
    .option('--json', 'stream one JSON object per change (step, node, approval, note, final)')
    .addHelpText('after', example('runbook watch runbook-prod || page-oncall', 'runbook watch runbook-prod --json | jq -c \'select(.type == "node")\''))
    .action(async (id: string, o: { json?: boolean }) => {
      checkRunbookId(ctx, id);
      const client = await ctx.client();
      const desc = await describeRunbook(ctx, client, id);
      if (!o.json) process.stdout.write(`watching ${id} (UI: ${uiLink(client.options.namespace, id, desc.runId)}); Ctrl-C detaches\n`);
      process.exitCode = await ctx.follow(id, { jsonLines: o.json });
    });
}
