/**
 * Real TCP listeners for the nodes' MicroK8s ports: the cluster agent (25000), dqlite (19001) and the API server
 * (16443) accept connections on the node's address exactly while the simulated services would (sim/network.ts
 * `portState`), so any probe (`nc`, bash's /dev/tcp, `timeout … cat`) judges for real. One detached process per lab
 * follows state.json; `lab down` ends it. Simplification: a hung node or a blocked port refuses instead of dropping.
 *
 *   node dist/lab/listeners.js <labDir>
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { portState, AGENT_PORT, API_PORT } from './sim/network';
import { DQLITE_PORT, type LabState } from './sim/model';
import { labEntry } from './sim/install';

export const LISTENED_PORTS = [AGENT_PORT, DQLITE_PORT, API_PORT] as const;
const FOLLOW_MS = 100;

export const listenersPidFile = (labDir: string) => path.join(labDir, 'listeners.pid');

function readState(labDir: string): LabState | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(labDir, 'state.json'), 'utf8')) as LabState;
  } catch {
    return undefined;
  }
}

function follow(labDir: string): void {
  const open = new Map<string, net.Server>();
  let missing = 0;
  const tick = () => {
    const s = readState(labDir);
    if (!s) {
      // The lab is gone (down) or state.json is between writes: give up after a second of absence.
      if (++missing > 1000 / FOLLOW_MS) process.exit(0);
      return;
    }
    missing = 0;
    const now = Date.now();
    const wanted = new Set<string>();
    for (const n of Object.values(s.nodes)) {
      for (const port of LISTENED_PORTS) if (portState(s, n.address, port, now).open) wanted.add(`${n.address}:${port}`);
    }
    for (const [key, server] of open) {
      if (!wanted.has(key)) {
        server.close();
        open.delete(key);
      }
    }
    for (const key of wanted) {
      if (open.has(key)) continue;
      const [host, port] = key.split(':');
      const server = net.createServer((socket) => socket.destroy());
      server.on('error', () => open.delete(key)); // address busy: try again next tick
      server.listen({ host, port: Number(port), exclusive: true });
      open.set(key, server);
    }
  };
  tick();
  setInterval(tick, FOLLOW_MS);
}

const entry = () => labEntry('listeners.js');

/** Start the lab's listener process (detached: it outlives the command that made the lab). */
export function startListeners(labDir: string): void {
  const child = spawn(process.execPath, [entry(), labDir], { detached: true, stdio: 'ignore' });
  child.unref();
  if (child.pid) fs.writeFileSync(listenersPidFile(labDir), String(child.pid));
}

/** End the lab's listener process: only a process started as this lab's listeners (its command line says so). */
export function stopListeners(labDir: string): void {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(listenersPidFile(labDir), 'utf8'));
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (argv[1] !== entry() || argv[2] !== labDir) return;
    process.kill(pid, 'SIGKILL');
  } catch {
    /* not running */
  }
}

if (require.main === module) {
  const labDir = process.argv[2];
  if (!labDir || !fs.existsSync(path.join(labDir, 'state.json'))) {
    process.stderr.write('usage: listeners.js <labDir> (a lab directory with state.json)\n');
    process.exit(2);
  }
  follow(labDir);
}
