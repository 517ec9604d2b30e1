/** `runbook pause <id>`: pause a runbook between steps. */
import type { Command } from 'commander';
import type { ProgramContext } from '../context';
import { example, update } from './runbook-id';
import { pauseUpdate } from '../../common/messages';

export function registerPauseCommand(program: Command, ctx: ProgramContext): void {
  program
    .command('pause <id>')
    .description('Pause a runbook between steps')
    .option('--reason <text>', 'why')
    .addHelpText('after', example('runbook pause runbook-prod --reason "traffic peak"'))
    .action(async (id: string, o: { reason?: string }) => {
      await update(ctx, id, (c) => c.workflow.getHandle(id).executeUpdate(pauseUpdate, { args: [{ by: ctx.identity, reason: o.reason }] }), 'paused', o.reason);
    });
}
