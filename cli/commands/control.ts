/** Commands that work on any runbook by workflow ID: list, status, watch, approve, reject, pause, resume, decide, cancel. */
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client, type WorkflowExecutionDescription } from '@temporalio/client';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import { Option, type Command } from 'commander';
import { ExitCode, RunbookClusterKey, RunbookKindKey } from '../../common/constants';
import { plainTextProblem, printable, printableDeep } from '../../common/text';
import { approveUpdate, decideUpdate, pauseUpdate, progressQuery, rejectUpdate, resumeUpdate } from '../../common/messages';
import type { ProgramContext } from '../context';
import { uiLink } from '../ui-link';
import { finalStatusOf } from '../watch/events';
import { withReconnect } from '../reconnect';
import { statusScreen } from '../watch/status-screen';

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

/** describe(), with an unknown ID as bad input (exit 2) instead of a stack trace. */
async function describeRunbook(ctx: ProgramContext, client: Client, id: string): Promise<WorkflowExecutionDescription> {
  try {
    // A server restart while looking is waited out (reconnecting…), up to RUNBOOK_RECONNECT_TIMEOUT.
    return await withReconnect(() => client.workflow.getHandle(id).describe());
  } catch (e) {
    if (e instanceof WorkflowNotFoundError) {
      ctx.badInput(`${id}: no runbook with this workflow ID in namespace ${client.options.namespace}; "runbook list" shows them`);
    }
    throw e;
  }
}

/** Who started the run: the input's `requestedBy` (decoded like any payload), else the starting client's identity. */
async function startedBy(client: Client, id: string, runId: string): Promise<string | undefined> {
  const page = await client.workflowService.getWorkflowExecutionHistory({
    namespace: client.options.namespace,
    execution: { workflowId: id, runId },
    maximumPageSize: 1,
  });
  const started = page.history?.events?.[0]?.workflowExecutionStartedEventAttributes;
  const input = await decodeFromPayloadsAtIndex<{ requestedBy?: unknown }>(client.options.loadedDataConverter, 0, started?.input?.payloads).catch(
    () => undefined,
  );
  return typeof input?.requestedBy === 'string' ? input.requestedBy : started?.identity || undefined;
}

/** Choices for help and shell completion only: listQuery checks the value (any case, both spellings). */
function statusOption(): Option {
  const o = new Option('--status <status>', `only this status: ${STATUS_HELP}`);
  o.argChoices = ['running', 'failed', 'completed', 'cancelled', 'terminated', 'timed-out'];
  return o;
}

function example(...lines: string[]): string {
  return `\nExample${lines.length > 1 ? 's' : ''}:\n${lines.map((l) => `  ${l}`).join('\n')}\n`;
}

/** A workflow ID as typed: what `runbook list` prints, never empty or a control sequence. */
export function checkRunbookId(ctx: ProgramContext, id: string): void {
  if (!id || id.length > 1000 || plainTextProblem(id) || /\s/.test(id)) {
    ctx.badInput(`<id>: ${printable(JSON.stringify(id))} is not a runbook ID; give one as runbook list prints it, e.g. runbook-prod`);
  }
}

/** A --reason kept in history and shown on other operators' screens: one printable line. */
function checkReason(ctx: ProgramContext, reason: string | undefined): void {
  if (reason === undefined) return;
  const problem = plainTextProblem(reason) ?? (reason.length > 1000 ? 'must be at most 1,000 characters' : undefined);
  if (problem) ctx.badInput(`--reason: ${problem}; e.g. --reason "change CHG-42"`);
}

async function update(
  ctx: ProgramContext,
  id: string,
  run: (client: Client) => Promise<unknown>,
  done: string,
  reason?: string,
): Promise<void> {
  checkRunbookId(ctx, id);
  checkReason(ctx, reason);
  const client = await ctx.client();
  try {
    await run(client);
    process.stdout.write(`${done}\n`);
  } catch (e) {
    // A validator refusal ("nothing is waiting for approval") is the user's mistake: bad input, with the way to look.
    if (e instanceof WorkflowUpdateFailedError) {
      const msg = (e.cause as Error | undefined)?.message ?? e.message;
      process.stderr.write(`${id}: ${printable(msg)}; see what it waits for: runbook status ${id}\n`);
      process.exitCode = ExitCode.BAD_INPUT;
      return;
    }
    if (e instanceof WorkflowNotFoundError) {
      ctx.badInput(`${id}: no runbook with this workflow ID in namespace ${client.options.namespace}; "runbook list" shows them`);
    }
    process.stderr.write(`${id}: ${printable((e as Error).message.split('\n')[0])}\n`);
    process.exitCode = ExitCode.RUNBOOK_FAILED;
  }
}

export function registerControlCommands(program: Command, ctx: ProgramContext): void {
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

  program
    .command('approve <id>')
    .description('Approve the pending step of a runbook')
    .option('--reason <text>', 'why (kept in the workflow history)')
    .option('--approval <approvalId>', 'the approval to answer (refused if another one is pending)')
    .addHelpText('after', example('runbook approve runbook-prod --reason "change CHG-42"', 'runbook approve runbook-prod --approval approval-2'))
    .action(async (id: string, o: { reason?: string; approval?: string }) => {
      await update(
        ctx,
        id,
        (c) => c.workflow.getHandle(id).executeUpdate(approveUpdate, { args: [{ id: o.approval, by: ctx.identity, reason: o.reason }] }),
        `approved by ${ctx.identity}`,
        o.reason,
      );
    });

  program
    .command('reject <id>')
    .description('Reject the pending step of a runbook')
    .requiredOption('--reason <text>', 'why (required)')
    .option('--approval <approvalId>', 'the approval to answer')
    .addHelpText('after', example('runbook reject runbook-prod --reason "k8s-2 shows disk pressure; retry after the cleanup"'))
    .action(async (id: string, o: { reason: string; approval?: string }) => {
      await update(
        ctx,
        id,
        (c) => c.workflow.getHandle(id).executeUpdate(rejectUpdate, { args: [{ id: o.approval, by: ctx.identity, reason: o.reason }] }),
        `rejected by ${ctx.identity}`,
        o.reason,
      );
    });

  program
    .command('pause <id>')
    .description('Pause a runbook between steps')
    .option('--reason <text>', 'why')
    .addHelpText('after', example('runbook pause runbook-prod --reason "traffic peak"'))
    .action(async (id: string, o: { reason?: string }) => {
      await update(ctx, id, (c) => c.workflow.getHandle(id).executeUpdate(pauseUpdate, { args: [{ by: ctx.identity, reason: o.reason }] }), 'paused', o.reason);
    });

  program
    .command('resume <id>')
    .description('Resume a paused runbook')
    .option('--reason <text>', 'why')
    .addHelpText('after', example('runbook resume runbook-prod --reason "peak over"'))
    .action(async (id: string, o: { reason?: string }) => {
      await update(ctx, id, (c) => c.workflow.getHandle(id).executeUpdate(resumeUpdate, { args: [{ by: ctx.identity, reason: o.reason }] }), 'resumed', o.reason);
    });

  program
    .command('decide <id> <decision>')
    .description('After a failure with --on-failure pause: retry the node, roll back, or abort (no more changes)')
    .option('--reason <text>', 'why (kept in the workflow history)')
    .addHelpText('after', example('runbook decide runbook-prod retry --reason "disk freed on k8s-2"', 'runbook decide runbook-prod abort --reason "investigate first"'))
    .action(async (id: string, decision: string, o: { reason?: string }) => {
      if (decision !== 'retry' && decision !== 'rollback' && decision !== 'abort') {
        ctx.badInput(`decision: "${decision}" is not one of retry, rollback, abort; e.g. runbook decide ${id} retry`);
      }
      await update(
        ctx,
        id,
        (c) => c.workflow.getHandle(id).executeUpdate(decideUpdate, { args: [{ decision, by: ctx.identity, reason: o.reason }] }),
        `${decision} decided by ${ctx.identity}`,
        o.reason,
      );
    });

  program
    .command('cancel <id>')
    .description('Cancel a runbook (it unwinds what it must, then stops)')
    .addHelpText('after', example('runbook cancel runbook-prod && runbook watch runbook-prod'))
    .action(async (id: string) => {
      await update(
        ctx,
        id,
        async (c) => {
          // The server accepts a cancel for a closed run and does nothing: say so instead.
          const { status } = await c.workflow.getHandle(id).describe();
          if (status.name !== 'RUNNING') {
            process.stderr.write(`${id}: already ${status.name.toLowerCase().replace(/_/g, ' ')}; nothing to cancel\n`);
            process.exit(ExitCode.BAD_INPUT);
          }
          await c.workflow.getHandle(id).cancel();
        },
        `cancellation requested for ${id}; follow it: runbook watch ${id}`,
      );
    });
}
