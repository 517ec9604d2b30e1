/** Exit codes travel as a CliExit error up to main, which prints the message and exits with the code. */
import { ExitCode } from '../common/constants';
import { printable } from '../common/text';

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

// gRPC status codes (the SDK's errors carry them as `code`, on themselves or their cause).
const GRPC_NOT_FOUND = 5;
const GRPC_UNAVAILABLE = 14;
const GRPC_DEADLINE_EXCEEDED = 4;

function grpcCode(e: unknown): number | undefined {
  for (let c = e as { code?: unknown; cause?: unknown } | undefined, depth = 0; c && depth < 5; c = c.cause as typeof c, depth++) {
    if (typeof c.code === 'number') return c.code;
  }
  return undefined;
}

/** Why a connection failed, in words: tonic's and grpc-js's messages are long and nested. */
export function connectionReason(e: unknown): string {
  const msg = String((e as Error)?.message ?? e);
  if (/refused/i.test(msg)) return 'connection refused';
  if (/dns error|ENOTFOUND|failed to lookup|Name or service not known/i.test(msg)) return 'the host name does not resolve';
  if (/timed? ?out|deadline/i.test(msg)) return 'no answer in time';
  if (/certificate|tls|ssl/i.test(msg)) return `TLS failed (${printable(msg.split('\n')[0]).slice(0, 160)})`;
  return printable(msg.split('\n')[0]).slice(0, 200);
}

/**
 * Any other error that reaches main, as one line and the documented exit code: a namespace that does not exist is
 * bad input (2), a server that went away is 3, anything else 1. The stack trace only with RUNBOOK_DEBUG=1.
 */
export function exitFor(e: unknown): CliExit {
  const name = (e as Error)?.name;
  const code = grpcCode(e);
  if (name === 'NamespaceNotFoundError' || (code === GRPC_NOT_FOUND && /namespace/i.test(String((e as Error)?.message)))) {
    const ns = (e as { namespace?: string }).namespace;
    return new CliExit(
      ExitCode.BAD_INPUT,
      `--namespace: ${ns ? `"${printable(ns)}"` : 'the namespace'} does not exist on this Temporal server; fix --namespace (or TEMPORAL_NAMESPACE), or create it: temporal operator namespace create -n <name>`,
    );
  }
  if (code === GRPC_UNAVAILABLE || code === GRPC_DEADLINE_EXCEEDED) {
    return new CliExit(ExitCode.TEMPORAL_UNREACHABLE, `lost Temporal: ${connectionReason(e)}; check the server, then run the command again`);
  }
  const message = printable(String((e as Error)?.message ?? e).split('\n')[0]).slice(0, 500);
  return new CliExit(ExitCode.RUNBOOK_FAILED, `runbook: ${message} (RUNBOOK_DEBUG=1 shows the details)`);
}

export const EXIT_CODES_HELP = `Exit codes:
  0  the runbook succeeded (check: the cluster is healthy)
  1  the runbook failed, found problems, or the cluster is held by another runbook
  2  bad input (flags, inventory); nothing was started
  3  cannot reach Temporal (start one with "runbook dev", or set --address / TEMPORAL_ADDRESS)
  130  detached with Ctrl-C; the runbook keeps running on the worker`;
