/**
 * The one simulator entry every lab shim runs: `node main.js <microk8s|snap|dqlite> args...` with LAB_DIR and
 * LAB_NODE set by the shim. Each run is journalled (t, node, argv, exit, ms, simMs = simulated waiting), also
 * when TERM/HUP/INT kills it (`exit: null, killed`). Faults `slow`, `drop-ssh` and `fail-cert-refresh` act here.
 */
import * as fs from 'fs';
import { Exit, Sim } from './context';
import { connectionOf, descendants, signal } from '../processes';
import { journalCommand, readState, withState } from './store';

type Handler = (sim: Sim, args: string[]) => number | Promise<number>;

function microk8s(sim: Sim, args: string[]): number | Promise<number> {
  const [sub, ...rest] = args;
  // Lazy requires keep start-up short: each command loads only what it uses.
  /* eslint-disable @typescript-eslint/no-require-imports */
  // Not run as root (the lab's sudo shim marks root): "Insufficient permissions to access MicroK8s." exit 1.
  require('./guards').exitIfNoPermissions(sim, sub, rest);
  switch (sub) {
    case 'add-node':
      return require('./membership').addNode(sim, rest);
    case 'join':
      return require('./membership').join(sim, rest);
    case 'leave':
      return require('./membership').leave(sim, rest);
    case 'remove-node':
      return require('./membership').removeNode(sim, rest);
    case 'status':
      return require('./lifecycle').status(sim, rest);
    case 'start':
      return require('./lifecycle').start(sim, rest);
    case 'stop':
      return require('./lifecycle').stop(sim, rest);
    case 'version':
      return require('./lifecycle').version(sim, rest);
    case 'inspect':
      return require('./lifecycle').inspect(sim, rest);
    case 'kubectl':
      return require('./kubectl').kubectl(sim, rest);
    case 'refresh-certs':
      return refreshCertsUnderFault(sim, rest);
    default: {
      const subs = ['add-node', 'addons', 'config', 'ctr', 'dashboard-proxy', 'dbctl', 'disable', 'enable', 'helm', 'helm3', 'images', 'inspect', 'istioctl', 'join', 'kubectl', 'leave', 'linkerd', 'refresh-certs', 'remove-node', 'reset', 'start', 'status', 'stop', 'version'];
      const head = sub === undefined ? '' : `'${sub}' is not a valid MicroK8s subcommand.\n`;
      sim.out(`${head}Available subcommands are:\n${subs.map((x) => `\t${x}`).join('\n')}`);
      return 1;
    }
  }
  /* eslint-enable @typescript-eslint/no-require-imports */
}

/**
 * `microk8s refresh-certs`, with the `fail-cert-refresh` fault (lab/faults.ts) on top: on a control plane that has
 * it, kubelite does not become ready again after a certificate refresh (`-e`). The command itself succeeds, as on a
 * real node: `snapctl restart` returns once systemd has started kubelite (a simple service), which then keeps
 * failing on the new certificates. The node stays NotReady until `refresh-certs --undo` puts the previous
 * certificates back (or heal). Set from the start of the command, so the node never looks Ready in between.
 */
async function refreshCertsUnderFault(sim: Sim, args: string[]): Promise<number> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const run = (): Promise<number> => require('./certs').refreshCerts(sim, args);
  const refresh = args.some((a) => a === '-e' || a === '--cert' || a.startsWith('--cert='));
  const undo = args.some((a) => a === '-u' || a === '--undo');
  const armed = sim.state((_s, _now, self) => !!self.faults.failCertRefresh && !self.worker);
  if (!armed || refresh === undo) return run();
  const before = sim.state((_s, _now, self) => {
    const was = self.kubeliteFailed;
    if (refresh) self.kubeliteFailed = true;
    return was;
  });
  const code = await run();
  sim.state((_s, _now, self) => {
    if (code !== 0) self.kubeliteFailed = before;
    else if (undo) self.kubeliteFailed = false;
    else sim.event('cert-refresh-failed', { reason: 'kubelite does not become ready on the new certificates (fail-cert-refresh fault)' });
  });
  return code;
}

const HANDLERS: Record<string, Handler> = {
  microk8s,
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  snap: (sim, args) => require('./snap').snap(sim, args),
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  dqlite: (sim, args) => require('./dqlite').dqlite(sim, args),
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  reboot: (sim, args) => require('./reboot').rebootCommand(sim, 'reboot', args),
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  shutdown: (sim, args) => require('./reboot').rebootCommand(sim, 'shutdown', args),
  // Only `systemctl reboot` reaches here (the shim sends anything else to the real systemctl).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  systemctl: (sim, args) => require('./reboot').rebootCommand(sim, 'systemctl', args),
  // Only `nc -z -w N HOST PORT` reaches here (the shim sends anything else to the real nc).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  nc: (sim, args) => require('./network').nc(sim, args),
};

/** Cut this command's SSH connection: kill the per-connection sshd and everything under it. */
function dropConnection(sim: Sim): void {
  const listener = Number(fs.readFileSync(sim.pidFile(), 'utf8').trim());
  const conn = connectionOf(process.pid, listener);
  if (!conn) return;
  const tree = descendants(conn).filter((p) => p !== process.pid);
  signal([conn, ...tree], 'SIGKILL');
}

const SIGNALS: Array<[NodeJS.Signals, number]> = [
  ['SIGTERM', 15],
  ['SIGHUP', 1],
  ['SIGINT', 2],
];

async function main(): Promise<void> {
  const [tool, ...args] = process.argv.slice(2);
  const labDir = process.env.LAB_DIR;
  const node = process.env.LAB_NODE;
  if (!labDir || !node || !HANDLERS[tool]) {
    process.stderr.write('lab simulator: run through a lab shim (LAB_DIR, LAB_NODE and a tool name are required)\n');
    process.exit(127);
  }
  const started = Date.now();
  const sim = new Sim(labDir, node);
  const argv = [tool, ...args];
  // Killed mid-way (the engine's cancel sends TERM to the process group): what already happened stays
  // happened (state changes are atomic under the lock), and the journal still gets the command.
  for (const [sig, n] of SIGNALS) {
    process.on(sig, () => {
      journalCommand(labDir, node, argv, null, Date.now() - started, { killed: sig, simMs: sim.simMs });
      process.exit(128 + n);
    });
  }
  const faults = readState(labDir).nodes[node]?.faults ?? {};
  if (faults.slowMs && !faults.slowAfter) await sim.sleep(faults.slowMs);
  let drop: 'before' | 'after' | undefined;
  if (faults.dropSsh) {
    drop = withState(labDir, (s) => {
      const d = s.nodes[node].faults.dropSsh;
      delete s.nodes[node].faults.dropSsh;
      return d;
    });
  }
  if (drop === 'before') {
    journalCommand(labDir, node, argv, null, Date.now() - started, { dropped: 'before' });
    dropConnection(sim);
    process.exit(255);
  }
  if (drop === 'after') sim.hold();
  let code: number;
  try {
    code = await HANDLERS[tool](sim, args);
  } catch (e) {
    if (e instanceof Exit) code = e.code;
    else {
      sim.err(`lab simulator error: ${(e as Error).stack ?? e}`);
      code = 70;
    }
  }
  // `slow --when after`: acted, and still running (a client that dies now leaves the change made).
  if (faults.slowMs && faults.slowAfter) await sim.sleep(faults.slowMs);
  if (drop === 'after') {
    journalCommand(labDir, node, argv, null, Date.now() - started, { dropped: 'after', wouldExit: code, simMs: sim.simMs });
    sim.releaseHalf();
    dropConnection(sim);
    process.exit(255);
  }
  // bootMs: this simulator process's own start-up before `started` (Node.js), a cost of the lab, not of MicroK8s.
  journalCommand(labDir, node, argv, code, Date.now() - started, { simMs: sim.simMs, bootMs: Math.round(started - performance.timeOrigin) });
  process.exit(code);
}

void main();
