/** Commands that work on any runbook by workflow ID: list, status, watch, approve, reject, pause, resume, cancel. */
import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import type { Command } from 'commander';
import { ExitCode, RunbookClusterKey, RunbookKindKey } from '../../common/constants';
import { approveUpdate, pauseUpdate, progressQuery, rejectUpdate, resumeUpdate } from '../../common/messages';
import type { RunbookCli } from '../program';
import { uiLink } from '../program';

const STATUSES = ['Running', 'Completed', 'Failed', 'Canceled', 'Terminated', 'TimedOut', 'ContinuedAsNew'];
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
    const status = STATUSES.find((s) => s.toLowerCase() === o.status!.toLowerCase());
    if (!status) badInput(`--status: ${JSON.stringify(o.status)} is not one of ${STATUSES.join(', ')}`);
    parts.push(`ExecutionStatus = '${status}'`);
  }
  return parts.join(' AND ');
}

async function update(ctx: RunbookCli, id: string, run: (client: Client) => Promise<unknown>, done: string): Promise<void> {
  const client = await ctx.client();
  try {
    await run(client);
    process.stdout.write(`${done}\n`);
  } catch (e) {
    // A validator refusal ("nothing is waiting for approval") is the user's mistake, not a crash.
    const msg = e instanceof WorkflowUpdateFailedError ? ((e.cause as Error | undefined)?.message ?? e.message) : (e as Error).message;
    process.stderr.write(`${id}: ${msg}\n`);
    process.exitCode = ExitCode.RUNBOOK_FAILED;
  }
}

export function registerControlCommands(program: Command, ctx: RunbookCli): void {
  program
    .command('list')
    .description('List runbooks (search attributes RunbookCluster / RunbookKind)')
    .option('--cluster <name>', 'only this cluster')
    .option('--kind <kind>', 'only this runbook kind (check, form, upgrade, ...)')
    .option('--status <status>', `only this status (${STATUSES.join(', ')})`)
    .option('--limit <n>', 'at most this many', '20')
    .action(async (o: { cluster?: string; kind?: string; status?: string; limit: string }) => {
      const query = listQuery(o, (m) => ctx.badInput(m));
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit <= 0) ctx.badInput(`--limit: ${JSON.stringify(o.limit)} must be a positive whole number`);
      const client = await ctx.client();
      const rows: string[] = [];
      for await (const wf of client.workflow.list({ query, pageSize: limit })) {
        const cluster = wf.typedSearchAttributes.get(RunbookClusterKey);
        const kind = wf.typedSearchAttributes.get(RunbookKindKey);
        rows.push([wf.workflowId, kind ?? wf.type, cluster ?? '-', wf.status.name, wf.startTime.toISOString()].join('\t'));
        if (rows.length >= limit) break;
      }
      process.stdout.write(rows.length ? `ID\tKIND\tCLUSTER\tSTATUS\tSTARTED\n${rows.join('\n')}\n` : 'no runbooks match\n');
    });

  program
    .command('status <id>')
    .description("A runbook's status, current step, node states and pending approval")
    .option('--json', 'print JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const client = await ctx.client();
      const handle = client.workflow.getHandle(id);
      const desc = await handle.describe();
      const progress = await handle.query(progressQuery).catch(() => undefined);
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ workflowId: id, runId: desc.runId, status: desc.status.name, progress }, null, 2)}\n`);
        return;
      }
      const lines = [`${id}: ${desc.status.name} (${desc.type}, started ${desc.startTime.toISOString()})`];
      lines.push(`  UI: ${uiLink(client.options.namespace, id, desc.runId)}`);
      if (progress) {
        lines.push(`  step: ${progress.step}${progress.paused ? ' (paused)' : ''}`);
        for (const n of progress.nodes) lines.push(`  ${n.name}: ${n.state}${n.detail ? ` (${n.detail})` : ''}`);
        if (progress.pendingApproval) lines.push(`  waiting for approval: ${progress.pendingApproval.summary} (runbook approve ${id})`);
        for (const note of progress.notes) lines.push(`  note: ${note}`);
      }
      process.stdout.write(`${lines.join('\n')}\n`);
    });

  program
    .command('watch <id>')
    .description('Follow a runbook until it ends; exits with its outcome (0 ok, 1 failed)')
    .action(async (id: string) => {
      process.exitCode = await ctx.follow(id, {});
    });

  program
    .command('approve <id>')
    .description('Approve the pending step of a runbook')
    .option('--reason <text>', 'why (kept in the workflow history)')
    .option('--approval <approvalId>', 'the approval to answer (refused if another one is pending)')
    .action(async (id: string, o: { reason?: string; approval?: string }) => {
      await update(
        ctx,
        id,
        (c) => c.workflow.getHandle(id).executeUpdate(approveUpdate, { args: [{ id: o.approval, by: ctx.identity, reason: o.reason }] }),
        `approved by ${ctx.identity}`,
      );
    });

  program
    .command('reject <id>')
    .description('Reject the pending step of a runbook')
    .requiredOption('--reason <text>', 'why (required)')
    .option('--approval <approvalId>', 'the approval to answer')
    .action(async (id: string, o: { reason: string; approval?: string }) => {
      await update(
        ctx,
        id,
        (c) => c.workflow.getHandle(id).executeUpdate(rejectUpdate, { args: [{ id: o.approval, by: ctx.identity, reason: o.reason }] }),
        `rejected by ${ctx.identity}`,
      );
    });

  program
    .command('pause <id>')
    .description('Pause a runbook between steps')
    .option('--reason <text>', 'why')
    .action(async (id: string, o: { reason?: string }) => {
      await update(ctx, id, (c) => c.workflow.getHandle(id).executeUpdate(pauseUpdate, { args: [{ by: ctx.identity, reason: o.reason }] }), 'paused');
    });

  program
    .command('resume <id>')
    .description('Resume a paused runbook')
    .option('--reason <text>', 'why')
    .action(async (id: string, o: { reason?: string }) => {
      await update(ctx, id, (c) => c.workflow.getHandle(id).executeUpdate(resumeUpdate, { args: [{ by: ctx.identity, reason: o.reason }] }), 'resumed');
    });

  program
    .command('cancel <id>')
    .description('Cancel a runbook (it unwinds what it must, then stops)')
    .action(async (id: string) => {
      await update(ctx, id, (c) => c.workflow.getHandle(id).cancel(), `cancellation requested for ${id}; follow it: runbook watch ${id}`);
    });
}
