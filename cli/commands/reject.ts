/** `runbook reject <id> --reason ...`: reject the pending step of a runbook. */
import type { Command } from 'commander';
import type { ProgramContext } from '../context';
import { example, update } from './runbook-id';
import { rejectUpdate } from '../../common/messages';

export function registerRejectCommand(program: Command, ctx: ProgramContext): void {
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
}
