/** `runbook approve <id>`: approve the pending step of a runbook. */
import type { Command } from 'commander';
import type { ProgramContext } from '../context';
import { example, update } from './runbook-id';
import { approveUpdate } from '../../common/messages';

export function registerApproveCommand(program: Command, ctx: ProgramContext): void {
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
}
