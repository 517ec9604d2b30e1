/** `runbook status <id>`: one screen about a runbook (kind, cluster, status, who started it, step, nodes, approvals, notes, UI link). */
import type { Command } from 'commander';
import type { ProgramContext } from '../context';
import { describeRunbook, startedBy, example, checkRunbookId } from './runbook-id';
import { progressQuery } from '../../common/messages';
import { RunbookClusterKey, RunbookKindKey } from '../../common/constants';
import { printable, printableDeep } from '../../common/text';
import { uiLink } from '../ui-link';
import { finalStatusOf } from '../watch/events';
import { statusScreen } from '../watch/status-screen';

export function registerStatusCommand(program: Command, ctx: ProgramContext): void {
  program
    .command('status <id>')
    .description('One screen about a runbook: kind, cluster, status, who started it, step, nodes, approvals, notes, UI link')
    .option('--json', 'print JSON')
    .addHelpText('after', example('runbook status runbook-prod', 'runbook status runbook-prod --json | jq .progress.nodes'))
    .action(async (id: string, o: { json?: boolean }) => {
      checkRunbookId(ctx, id);
      const client = await ctx.client();
      const desc = await describeRunbook(ctx, client, id);
      const handle = client.workflow.getHandle(id);
      let progressError: string | undefined;
      // Stored text (notes, reasons, node output) is another operator's input: escape control characters.
      const progress = await client
        .withDeadline(Date.now() + 5000, () => handle.query(progressQuery))
        .then((p) => printableDeep(p))
        .catch((e: Error) => ((progressError = printable(e.message.split('\n')[0])), undefined));
      const status = desc.status.name === 'RUNNING' ? 'running' : finalStatusOf(desc.status.name);
      const by = await startedBy(client, id, desc.runId).then((b) => b && printable(b), () => undefined);
      const link = uiLink(client.options.namespace, id, desc.runId);
      if (o.json) {
        const json = { workflowId: id, runId: desc.runId, status, startedBy: by, startTime: desc.startTime, closeTime: desc.closeTime, ui: link, progress };
        process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
        return;
      }
      const screen = statusScreen({
        workflowId: id,
        status,
        workflowType: desc.type,
        kind: desc.typedSearchAttributes.get(RunbookKindKey),
        cluster: desc.typedSearchAttributes.get(RunbookClusterKey),
        startedBy: by,
        startTime: desc.startTime,
        closeTime: desc.closeTime,
        taskQueue: desc.taskQueue,
        uiLink: link,
        progress,
        progressError,
        now: Date.now(),
      });
      process.stdout.write(`${screen.join('\n')}\n`);
    });
}
