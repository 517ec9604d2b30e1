/** `runbook list [--cluster c] [--kind k] [--status s]`: runbooks by search attributes, newest first. */
import { Option, type Command } from 'commander';
import type { ProgramContext } from '../context';
import { example } from './runbook-id';
import { RunbookClusterKey, RunbookKindKey } from '../../common/constants';
import { printableDeep } from '../../common/text';
import { finalStatusOf } from '../watch/events';
import { withReconnect } from '../reconnect';

/** `--status` words (the CLI's and Temporal's spellings, any case) → ExecutionStatus values. */
const STATUS_WORDS: Record<string, string> = {
  running: 'Running',
  completed: 'Completed',
  failed: 'Failed',
  cancelled: 'Canceled',
  canceled: 'Canceled',
  terminated: 'Terminated',
  'timed-out': 'TimedOut',
  timedout: 'TimedOut',
  'continued-as-new': 'ContinuedAsNew',
  continuedasnew: 'ContinuedAsNew',
};
const STATUS_HELP = 'Running, Failed, Completed, Cancelled, Terminated, Timed-out (any case)';
const SAFE_VALUE = /^[A-Za-z0-9._-]+$/;

/** A visibility query from flags; values are checked so they cannot break out of the quotes. */
export function listQuery(o: { cluster?: string; kind?: string; status?: string }, badInput: (m: string) => never): string {
  const parts = ['RunbookKind IS NOT NULL'];
  if (o.cluster) {
    if (!SAFE_VALUE.test(o.cluster)) badInput(`--cluster: ${JSON.stringify(o.cluster)} is not a cluster name (letters, digits, . _ -)`);
    parts.push(`RunbookCluster = '${o.cluster}'`);
  }
  if (o.kind) {
    if (!SAFE_VALUE.test(o.kind)) badInput(`--kind: ${JSON.stringify(o.kind)} is not a runbook kind (check, upgrade, ...)`);
    parts.push(`RunbookKind = '${o.kind}'`);
  }
  if (o.status) {
    const status = STATUS_WORDS[o.status.toLowerCase()];
    if (!status) badInput(`--status: ${JSON.stringify(o.status)} is not one of ${STATUS_HELP}; e.g. --status running`);
    parts.push(`ExecutionStatus = '${status}'`);
  }
  return parts.join(' AND ');
}

/** Choices for help and shell completion only: listQuery checks the value (any case, both spellings). */
function statusOption(): Option {
  const o = new Option('--status <status>', `only this status: ${STATUS_HELP}`);
  o.argChoices = ['running', 'failed', 'completed', 'cancelled', 'terminated', 'timed-out'];
  return o;
}

export function registerListCommand(program: Command, ctx: ProgramContext): void {
  program
    .command('list')
    .description('List runbooks (search attributes RunbookCluster / RunbookKind), newest first')
    .option('--cluster <name>', 'only this cluster')
    .option('--kind <kind>', 'only this runbook kind (check, form, upgrade, ...)')
    .addOption(statusOption())
    .option('--limit <n>', 'at most this many', '20')
    .option('--json', 'print JSON')
    .addHelpText('after', example('runbook list --cluster prod --status running', 'runbook list --kind upgrade --status failed --limit 5'))
    .action(async (o: { cluster?: string; kind?: string; status?: string; limit: string; json?: boolean }) => {
      const query = listQuery(o, (m) => ctx.badInput(m));
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit <= 0) ctx.badInput(`--limit: ${JSON.stringify(o.limit)} must be a positive whole number`);
      const client = await ctx.client();
      type Row = { workflowId: string; kind: string; cluster: string; status: string; startedAt: string };
      const rows = await withReconnect(async () => {
        const found: Row[] = [];
        for await (const wf of client.workflow.list({ query, pageSize: limit })) {
          found.push({
            workflowId: wf.workflowId,
            kind: wf.typedSearchAttributes.get(RunbookKindKey) ?? wf.type,
            cluster: wf.typedSearchAttributes.get(RunbookClusterKey) ?? '-',
            status: wf.status.name === 'RUNNING' ? 'running' : finalStatusOf(wf.status.name),
            startedAt: wf.startTime.toISOString(),
          });
          if (found.length >= limit) break;
        }
        return found;
      });
      if (o.json) {
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      const lines = printableDeep(rows).map((r) => [r.workflowId, r.kind, r.cluster, r.status, r.startedAt].join('\t'));
      process.stdout.write(lines.length ? `ID\tKIND\tCLUSTER\tSTATUS\tSTARTED\n${lines.join('\n')}\n` : 'no runbooks match\n');
    });
}
