/**
 * `runbook history ID` and `runbook history --file exported.json`: the audit trail of a runbook, built from its event
 * history (cli/audit). Text by default, `--markdown` for tickets, `--json` for tools.
 */
import { isGrpcServiceError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Command } from 'commander';
import { z } from 'zod';
import { CodecConfigError } from '../../codec/keys';
import { loadDataConverter } from '../../codec/data-converter';
import { ExitCode } from '../../common/constants';
import type { CliContext } from '../context';
import type { RunbookAudit } from '../audit/model';
import { printableDeep } from '../../common/text';
import { auditFromFile, auditFromServer, HistoryDecodeError, HistoryFileError } from '../audit/read-history';
import { renderJson, renderMarkdown, renderText } from '../audit/render';

const HistoryFlags = z
  .strictObject({
    file: z.string().min(1, { error: 'needs a path' }).optional(),
    run: z
      .string()
      .regex(/^[0-9A-Za-z-]{1,64}$/, { error: 'is not a run ID; copy it from `runbook list` or the Temporal UI (a UUID)' })
      .optional(),
    json: z.boolean().default(false),
    markdown: z.boolean().default(false),
    children: z.boolean().default(true),
  });

type HistoryFlags = z.infer<typeof HistoryFlags>;

/** Exit 2 naming the flag, before anything is read. */
export function validateHistoryArgs(ctx: Pick<CliContext, 'badInput'>, id: string | undefined, raw: unknown): HistoryFlags {
  const parsed = HistoryFlags.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = String(issue.path[0] ?? '');
    return ctx.badInput(`--${key}: ${issue.message}`);
  }
  const flags = parsed.data;
  if (flags.json && flags.markdown) ctx.badInput('--json and --markdown: pick one output format');
  if (id && flags.file) ctx.badInput(`give a workflow ID or --file, not both (got ${JSON.stringify(id)} and --file ${flags.file})`);
  if (!id && !flags.file) ctx.badInput('give the runbook workflow ID (e.g. runbook-prod) or --file <exported history.json>');
  if (flags.file && flags.run) ctx.badInput('--run: only with a workflow ID; an exported file holds one run already');
  return flags;
}

export function renderAudit(audit: RunbookAudit, flags: Pick<HistoryFlags, 'json' | 'markdown'>): string {
  if (flags.json) return renderJson(audit) + '\n'; // JSON escapes control characters itself
  // Reasons, labels and command output are other people's text: no escape sequence reaches this terminal.
  const safe = printableDeep(audit);
  return flags.markdown ? renderMarkdown(safe) : renderText(safe);
}

async function readFromServer(ctx: CliContext, id: string, flags: HistoryFlags): Promise<RunbookAudit | number> {
  let client: Client;
  try {
    client = await ctx.client();
    return await auditFromServer(client, id, flags.run, { children: flags.children });
  } catch (err) {
    if (err instanceof WorkflowNotFoundError || (isGrpcServiceError(err) && err.code === 5)) {
      ctx.badInput(
        `no runbook with workflow ID ${JSON.stringify(id)}${flags.run ? ` and run ${flags.run}` : ''} in this namespace; ` +
          'find it with `runbook list`, or check TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE',
      );
    }
    if (err instanceof HistoryDecodeError) ctx.badInput(`${err.message} (set RUNBOOK_CODEC_KEY_FILE / RUNBOOK_CODEC_OLD_KEYS to the worker's keys)`);
    if (isGrpcServiceError(err) && (err.code === 14 || err.code === 4)) {
      process.stderr.write(`runbook history: Temporal is unreachable (${err.details || err.message}); check TEMPORAL_ADDRESS\n`);
      return ExitCode.TEMPORAL_UNREACHABLE;
    }
    throw err;
  }
}

async function readFromFile(ctx: CliContext, file: string): Promise<RunbookAudit> {
  try {
    return await auditFromFile(file, await loadDataConverter());
  } catch (err) {
    if (err instanceof HistoryFileError) return ctx.badInput(`--file: ${err.message}`);
    if (err instanceof HistoryDecodeError) return ctx.badInput(`--file: ${err.message} (set RUNBOOK_CODEC_KEY_FILE / RUNBOOK_CODEC_OLD_KEYS to the worker's keys)`);
    if (err instanceof CodecConfigError) return ctx.badInput(err.message);
    throw err;
  }
}

export function registerHistoryCommands(program: Command, ctx: CliContext): void {
  program
    .command('history')
    .description(
      'The audit trail of a runbook from its event history: who started it with what, the approved plan, every ' +
        'remote command with its exit code and output, approvals, failures, compensations and files changed',
    )
    .argument('[id]', 'runbook workflow ID (runbook-<cluster>)')
    .option('--run <runId>', 'a particular run (default: the latest)')
    .option('--file <history.json>', 'read a history exported with `temporal workflow show -w ID --output json`')
    .option('--json', 'print the audit as JSON')
    .option('--markdown', 'print the audit as markdown, for a ticket')
    .option('--no-children', "skip the per-node child workflows' histories")
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  runbook history runbook-prod',
        '  runbook history runbook-prod --run 5f1c…-… --markdown > audit.md',
        '  temporal workflow show -w runbook-prod --output json > h.json && runbook history --file h.json --json',
      ].join('\n'),
    )
    .action(async (id: string | undefined, opts: Record<string, unknown>) => {
      const flags = validateHistoryArgs(ctx, id, opts);
      const audit = flags.file ? await readFromFile(ctx, flags.file) : await readFromServer(ctx, id!, flags);
      if (typeof audit === 'number') {
        process.exitCode = audit;
        return;
      }
      process.stdout.write(renderAudit(audit, flags));
      process.exitCode = ExitCode.OK;
    });
}
