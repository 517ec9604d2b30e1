/** `runbook resume <id>`: resume a paused runbook. */
import type { Command } from 'commander';
import type { ProgramContext } from '../context';
import { example, update } from './runbook-id';
import { resumeUpdate } from '../../common/messages';

export function registerResumeCommand(program: Command, ctx: ProgramContext): void {
  program
    .command('resume <id>')
    .description('Resume a paused runbook')
    .option('--reason <text>', 'why')
    .addHelpText('after', example('runbook resume runbook-prod --reason "peak over"'))
    .action(async (id: string, o: { reason?: string }) => {
      await update(ctx, id, (c) => c.workflow.getHandle(id).executeUpdate(resumeUpdate, { args: [{ by: ctx.identity, reason: o.reason }] }), 'resumed', o.reason);
    });
}
