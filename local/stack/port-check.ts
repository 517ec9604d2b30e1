/**
 * Before anything starts: every port the stack needs is free (or held by this stack's own running component), and
 * a running stack is not asked to move to other ports.
 */
import { portInUse } from '../ports';
import { SERVER_PORT_SPAN, SERVER_SERVICES, servicePorts, STACK_COMPONENTS, type StackComponent, type StackPaths, type StackPorts } from './layout';
import { runningRecord } from './processes';
import { recordedPorts } from './status';

/** A port the stack cannot use: the CLI turns it into exit 2 naming the flag. */
export class StackPortError extends Error {
  constructor(
    readonly flag: '--port' | '--ui-port' | '--pg-port',
    message: string,
  ) {
    super(`${flag}: ${message}`);
    this.name = 'StackPortError';
  }
}

const FLAG_OF: Record<'port' | 'uiPort' | 'pgPort', '--port' | '--ui-port' | '--pg-port'> = { port: '--port', uiPort: '--ui-port', pgPort: '--pg-port' };

export async function checkPortsFree(paths: StackPaths, ports: StackPorts): Promise<void> {
  const recorded = recordedPorts(paths);
  const running = STACK_COMPONENTS.filter((c) => runningRecord(paths.runDir, c));
  if (recorded && running.length) {
    for (const key of ['port', 'uiPort', 'pgPort'] as const) {
      if (recorded[key] !== ports[key]) {
        throw new StackPortError(FLAG_OF[key], `the stack is already running with ${FLAG_OF[key]} ${recorded[key]} (${running.join(', ')} up); run "runbook stack down" first, or pass ${FLAG_OF[key]} ${recorded[key]}`);
      }
    }
  }
  const wanted: Array<[StackComponent, number, keyof typeof FLAG_OF]> = [
    ['postgres', ports.pgPort, 'pgPort'],
    ...SERVER_SERVICES.flatMap((s): Array<[StackComponent, number, 'port']> => {
      const p = servicePorts(ports.port)[s];
      return [
        [s, p.grpc, 'port'],
        [s, p.membership, 'port'],
      ];
    }),
    ['ui', ports.uiPort, 'uiPort'],
  ];
  const all = wanted.map((w) => w[1]);
  const clash = all.find((p, i) => all.indexOf(p) !== i);
  if (clash !== undefined) {
    throw new StackPortError(FLAG_OF[wanted.find((w) => w[1] === clash && w[2] !== 'port')?.[2] ?? 'port'], `port ${clash} is used twice: the server takes --port to --port+${SERVER_PORT_SPAN - 1}; choose ports outside that range`);
  }
  for (const [component, port, key] of wanted) {
    if (running.includes(component)) continue;
    if (await portInUse(port)) {
      const span = key === 'port' ? ` (the server uses ${ports.port}-${ports.port + SERVER_PORT_SPAN - 1})` : '';
      throw new StackPortError(FLAG_OF[key], `port ${port} is already in use by another program${span}; stop it or pass another ${FLAG_OF[key]}`);
    }
  }
}
