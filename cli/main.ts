/** Entry point of `runbook`: run the program, turn CliExit into an exit code. */
import { ExitCode } from '../common/constants';
import { CliExit } from './exit';
import { buildProgram } from './program';

async function main(): Promise<number> {
  const { program } = buildProgram();
  await program.parseAsync(process.argv);
  return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.OK;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    if (e instanceof CliExit) {
      if (e.message) process.stderr.write(`${e.message}\n`);
      process.exit(e.code);
    }
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exit(ExitCode.RUNBOOK_FAILED);
  },
);
