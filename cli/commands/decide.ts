/** `runbook decide <id> retry|rollback|abort`: answer a failure that paused a runbook (`--on-failure pause`). */
import type { Command } from 'commander';
import type { ProgramContext } from '../context';
import { example, update } from './runbook-id';
import { decideUpdate } from '../../common/messages';

export function registerDecideCommand(program: Command, ctx: ProgramContext): void {
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
}
