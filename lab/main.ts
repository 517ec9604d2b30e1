/** Standalone entry for the lab commands (`node dist/lab/main.js lab up ...`); `runbook lab` is the real one. */
import { Command } from 'commander';
import { registerLabCommands } from './commands';
import { CliExit } from '../local/exit';

const program = new Command('runbook').exitOverride((err) => process.exit(err.exitCode === 1 ? 2 : err.exitCode));
registerLabCommands(program);
program.parseAsync(process.argv).catch((e) => {
  process.stderr.write(`${e instanceof CliExit ? e.message : `error: ${(e as Error).message}`}\n`);
  process.exit(e instanceof CliExit ? e.code : 1);
});
