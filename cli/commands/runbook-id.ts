/**
 * A runbook addressed by its workflow ID, for the commands that take one (status, watch, approve, reject, pause,
 * resume, decide, cancel): checking the ID as typed, describing the run, reading who started it, sending it an update.
 */
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client, type WorkflowExecutionDescription } from '@temporalio/client';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import { ExitCode } from '../../common/constants';
import { plainTextProblem, printable } from '../../common/text';
import type { ProgramContext } from '../context';
import { withReconnect } from '../reconnect';

/** describe(), with an unknown ID as bad input (exit 2) instead of a stack trace. */
export async function describeRunbook(ctx: ProgramContext, client: Client, id: string): Promise<WorkflowExecutionDescription> {
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
export async function startedBy(client: Client, id: string, runId: string): Promise<string | undefined> {
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

/** A command's examples, for `--help`. */
export function example(...lines: string[]): string {
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

/** Send an update to the run; a validator's refusal is bad input (exit 2) that says where to look. */
export async function update(
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
