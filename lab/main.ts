/** Standalone entry for the lab commands (`node dist/lab/main.js lab up ...`); `runbook lab` is the real one. */
import { Command } from 'commander';
import { registerLabCommands } from './commands';

const program = new Command('runbook').exitOverride((err) => process.exit(err.exitCode === 1 ? 2 : err.exitCode));
registerLabCommands(program);
program.parseAsync(process.argv).catch((e) => {
  process.stderr.write(`error: ${(e as Error).message}\n`);
  process.exit(1);
});
