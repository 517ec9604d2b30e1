/** Exit codes travel as a CliExit error up to main, which prints the message and exits with the code. */
import { ExitCode } from '../common/constants';

export class CliExit extends Error {
  constructor(
    readonly code: number,
    message = '',
  ) {
    super(message);
    this.name = 'CliExit';
  }
}

export function badInput(message: string): never {
  throw new CliExit(ExitCode.BAD_INPUT, message);
}

export const EXIT_CODES_HELP = `Exit codes:
  0  the runbook succeeded (check: the cluster is healthy)
  1  the runbook failed, found problems, or the cluster is held by another runbook
  2  bad input (flags, inventory); nothing was started
  3  cannot reach Temporal (start one with "runbook dev", or set --address / TEMPORAL_ADDRESS)
  130  detached with Ctrl-C; the runbook keeps running on the worker`;
