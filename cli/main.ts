/** Entry point of `runbook`: run the program, turn every error into one clear line and its documented exit code. */
import { ExitCode } from '../common/constants';
import { printable } from '../common/text';
import { CliExit, exitFor } from '../local/exit';
import { buildProgram } from './program';
import { runbookEnv } from '../local/environment';

// `runbook --help | head`: the reader went away; that is not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : ExitCode.OK);
    throw e;
  });
}

async function main(): Promise<number> {
  const { program } = buildProgram();
  await program.parseAsync(process.argv);
  return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.OK;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    const exit = e instanceof CliExit ? e : exitFor(e);
    // Messages quote what the user typed or a file held: never a raw control character on the terminal.
    if (exit.message) process.stderr.write(`${printable(exit.message)}\n`);
    if (runbookEnv('RUNBOOK_DEBUG') === '1' && !(e instanceof CliExit)) process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exit(exit.code);
  },
);
