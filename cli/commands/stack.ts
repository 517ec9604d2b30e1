/**
 * `runbook stack up|down|status|binaries`: the production topology without Docker (PostgreSQL, the four Temporal
 * server services, the UI server) as local processes under the state dir. The engine is local/stack/stack.ts.
 */
import type { Command } from 'commander';
import { ExitCode } from '../../common/constants';
import { DEFAULT_NAMESPACE } from '../../common/temporal-versions';
import { CliExit, badInput } from '../../local/exit';
import { stackBinaries, STACK_BINARIES } from '../../local/stack/binaries';
import { SERVER_PORT_SPAN, STACK_DEFAULT_PORTS, type StackPorts } from '../../local/stack/layout';
import { StackPortError } from '../../local/stack/port-check';
import { exportLines, startStack } from '../../local/stack/stack';
import { stackStatus } from '../../local/stack/status';
import { purgeStack, stopStack } from '../../local/stack/stop';
import { defaultStateDir } from '../../local/state-dir';
import { parsePort } from '../flags';

interface PortFlags {
  stateDir: string;
  port: string;
  uiPort: string;
  pgPort: string;
}

/** Decimal digits only (`0x1f90` is not a port), in range, and room for the server's block above --port. */
function stackPorts(o: PortFlags): StackPorts {
  const port = (flag: string, v: string) => {
    if (!/^\d{1,5}$/.test(v.trim())) badInput(`${flag}: ${JSON.stringify(v)} is not a TCP port; write it in decimal digits, e.g. ${flag} 7233`);
    return parsePort(flag, v.trim(), badInput);
  };
  const ports = { port: port('--port', o.port), uiPort: port('--ui-port', o.uiPort), pgPort: port('--pg-port', o.pgPort) };
  if (ports.port + SERVER_PORT_SPAN - 1 > 65535) badInput(`--port: the server uses --port to --port+${SERVER_PORT_SPAN - 1}; pick at most ${65536 - SERVER_PORT_SPAN}`);
  return ports;
}

function portOptions(cmd: Command): Command {
  return cmd
    .option('--state-dir <dir>', 'engine state directory; the stack lives in <dir>/stack (env RUNBOOK_STATE_DIR)', defaultStateDir())
    .option('--port <port>', `frontend gRPC port; the server also uses the next ${SERVER_PORT_SPAN - 1}`, String(STACK_DEFAULT_PORTS.port))
    .option('--ui-port <port>', 'Web UI port', String(STACK_DEFAULT_PORTS.uiPort))
    .option('--pg-port <port>', 'PostgreSQL port (loopback only)', String(STACK_DEFAULT_PORTS.pgPort));
}

/** The state dir the stack lives under: never empty (that would be the current directory). */
function stateDir(o: { stateDir: string }): string {
  if (!o.stateDir || !o.stateDir.trim() || /[\0\n]/.test(o.stateDir)) {
    badInput(`--state-dir: ${JSON.stringify(o.stateDir)} is not a directory name; give one, e.g. --state-dir ${defaultStateDir()} (or set RUNBOOK_STATE_DIR)`);
  }
  return o.stateDir;
}

/** Known failures become one line and an exit code; a port problem is bad input, nothing having started. */
async function cliErrors<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof CliExit) throw e;
    if (e instanceof StackPortError) badInput(e.message);
    throw new CliExit(ExitCode.RUNBOOK_FAILED, `runbook stack: ${(e as Error).message}`);
  }
}

export function registerStackCommands(program: Command): void {
  const stack = program
    .command('stack')
    .description('Run the production Temporal topology without Docker: PostgreSQL, the four server services and the Web UI');

  portOptions(stack.command('up'))
    .description('Start what is not running (idempotent) and wait until the frontend and the UI answer')
    .action(async (o: PortFlags) => {
      const ports = stackPorts(o);
      const dir = stateDir(o);
      const started = Date.now();
      const say = (l: string) => process.stderr.write(`${l}\n`);
      const h = await cliErrors(startStack({ stateDir: dir, ...ports, say }));
      const out = (l: string) => process.stdout.write(`${l}\n`);
      if (h.started.length === 0) out('the stack is already running; nothing to do');
      else out(`started ${h.started.join(', ')} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      out(`Temporal: ${h.address} (namespace ${DEFAULT_NAMESPACE})`);
      out(`Web UI:   ${h.uiUrl}`);
      out(exportLines(h));
    });

  portOptions(stack.command('status'))
    .description('Each component: pid, port, up or down (exit 0 only when all are up)')
    .option('--json', 'one JSON array')
    .action(async (o: PortFlags & { json?: boolean }) => {
      const rows = await stackStatus(stateDir(o), stackPorts(o));
      if (o.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      else {
        process.stdout.write(`${'component'.padEnd(10)} ${'pid'.padEnd(8)} ${'port'.padEnd(6)} state\n`);
        for (const r of rows) process.stdout.write(`${r.component.padEnd(10)} ${String(r.pid ?? '-').padEnd(8)} ${String(r.port).padEnd(6)} ${r.up ? 'up' : 'down'}\n`);
      }
      if (!rows.every((r) => r.up)) throw new CliExit(ExitCode.RUNBOOK_FAILED);
    });

  stack
    .command('down')
    .description('Stop every component (SIGTERM, SIGKILL after a bound); data stays unless --purge')
    .option('--state-dir <dir>', 'engine state directory (env RUNBOOK_STATE_DIR)', defaultStateDir())
    .option('--purge', 'also remove <state-dir>/stack: the database, configuration and logs')
    .action(async (o: { stateDir: string; purge?: boolean }) => {
      const dir = stateDir(o);
      const lines = await cliErrors(o.purge ? purgeStack(dir) : stopStack(dir));
      for (const l of lines) process.stdout.write(`${l}\n`);
    });

  stack
    .command('binaries')
    .description(`Print the stack's binaries (${Object.values(STACK_BINARIES).map((b) => b.envVar).join(', ')}, PATH, cache); --install builds missing ones with go`)
    .option('--install', 'go install missing ones into the cache (minutes each)')
    .action(async (o: { install?: boolean }) => {
      const bins = await cliErrors(stackBinaries({ install: !!o.install, log: (l) => process.stderr.write(`${l}\n`) }));
      for (const [key, file] of Object.entries(bins)) process.stdout.write(`${STACK_BINARIES[key as keyof typeof STACK_BINARIES].name} ${file}\n`);
    });
}
