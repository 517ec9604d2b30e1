/** `runbook cancel <id>`: cancel a runbook; it unwinds what it must, then stops. */
import type { Command } from 'commander';
import type { ProgramContext } from '../context';
import { example, update } from './runbook-id';
import { ExitCode } from '../../common/constants';

export function registerCancelCommand(program: Command, ctx: ProgramContext): void {
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
