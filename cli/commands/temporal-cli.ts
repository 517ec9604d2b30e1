/** `runbook temporal-cli [--install]`: print the Temporal CLI the engine uses, building it if asked. */
import type { Command } from 'commander';
import { ExitCode } from '../../common/constants';
import { findTemporalCli, resolveTemporalCli, TemporalCliNotFound } from '../temporal-cli';
import { CliExit } from '../../local/exit';

export function registerTemporalCliCommand(program: Command): void {
  program
    .command('temporal-cli')
    .description('Print the path of the Temporal CLI (TEMPORAL_CLI_PATH, PATH, cache); --install builds it with go if missing')
    .option('--install', 'go install it into the cache when not found (takes minutes)')
    .action(async (o: { install?: boolean }) => {
      if (!o.install) {
        const found = findTemporalCli();
        if (!found.path) throw new CliExit(ExitCode.RUNBOOK_FAILED, new TemporalCliNotFound(found.tried).message);
        process.stdout.write(`${found.path}\n`);
        return;
      }
      const r = await resolveTemporalCli({ sdkDownload: false, log: (l) => process.stderr.write(`${l}\n`) }).catch((e: Error) => {
        throw new CliExit(ExitCode.RUNBOOK_FAILED, e.message);
      });
      process.stdout.write(`${r.path}\n`);
    });
}
