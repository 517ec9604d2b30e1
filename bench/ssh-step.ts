/**
 * Per-step cost of a trivial remote command (`true`), K times in sequence, by column:
 *   openssh  - a fresh `ssh node true` with the OpenSSH client each time (no ControlMaster);
 *   ssh2     - one exec per step over the pool's single reused ssh2 connection.
 * Prints median and p95 per step and the ratio to OpenSSH. A throwaway sshd is started unless BENCH_TARGET
 * names an existing one. More columns (e.g. steps as Temporal activities) are added to `columns` below.
 *
 *   npm run build && node dist/bench/ssh-step.js            # K=200
 *   BENCH_K=50 node dist/bench/ssh-step.js
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { promisify } from 'util';
import { DEFAULT_PATHS, type NodeSpec } from '../common/inventory';
import { SshPool } from '../activities/ssh';
import { generateKey, isListening, startSshd, stopSshd } from '../lab/sshd';

const run = promisify(execFile);

/** What every column gets: one node, reachable and trusted. */
export interface BenchTarget {
  node: NodeSpec;
  knownHosts: string;
}

/** A column: `prepare` returns the step to time (connections opened in `prepare` are not counted). */
export interface Column {
  name: string;
  prepare(target: BenchTarget): Promise<{ step: () => Promise<void>; close: () => Promise<void> }>;
}

export const openSshColumn: Column = {
  name: 'openssh (new process + connection per step)',
  async prepare({ node, knownHosts }) {
    const args = [
      '-i', node.identityFile!, '-p', String(node.port), '-o', `UserKnownHostsFile=${knownHosts}`,
      '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'ControlMaster=no', '-o', 'ControlPath=none',
      '-o', 'LogLevel=ERROR', `${node.user}@${node.address}`, 'true',
    ];
    return { step: async () => void (await run('ssh', args)), close: async () => undefined };
  },
};

export const ssh2Column: Column = {
  name: 'ssh2 exec over one pooled connection',
  async prepare({ node, knownHosts }) {
    const pool = new SshPool();
    const sh = pool.session(node, { knownHosts, hostKeyPolicy: 'strict' });
    await sh.check('true'); // connect outside the timing
    return { step: async () => void (await sh.check('true', { quiet: true })), close: () => pool.close() };
  },
};

export const columns: Column[] = [openSshColumn, ssh2Column];

export function summarize(samples: number[]): { median: number; p95: number } {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
  return { median: at(0.5), p95: at(0.95) };
}

async function measure(column: Column, target: BenchTarget, k: number): Promise<number[]> {
  const { step, close } = await column.prepare(target);
  try {
    for (let i = 0; i < Math.min(5, k); i++) await step(); // warm-up
    const samples: number[] = [];
    for (let i = 0; i < k; i++) {
      const t0 = performance.now();
      await step();
      samples.push(performance.now() - t0);
    }
    return samples;
  } finally {
    await close();
  }
}

/** A throwaway sshd on a random loopback address, with its own keys. */
async function throwawayTarget(dir: string): Promise<{ target: BenchTarget; stop: () => void }> {
  const clientKey = path.join(dir, 'client_key');
  const hostKey = path.join(dir, 'host_key');
  generateKey(clientKey);
  generateKey(hostKey);
  let address = '';
  let port = 0;
  while (!port || (await isListening(address, port))) {
    address = `127.0.${200 + Math.floor(Math.random() * 50)}.${2 + Math.floor(Math.random() * 250)}`;
    port = 20000 + Math.floor(Math.random() * 30000);
  }
  const authorizedKeys = path.join(dir, 'authorized_keys');
  fs.copyFileSync(`${clientKey}.pub`, authorizedKeys);
  const handle = await startSshd({ dir: path.join(dir, 'sshd'), address, port, hostKeyFile: hostKey, authorizedKeysFile: authorizedKeys, env: { SHLVL: '1' } }); // as the lab: skip this machine's heavy ~/.bashrc
  const knownHosts = path.join(dir, 'known_hosts');
  const [type, blob] = fs.readFileSync(`${hostKey}.pub`, 'utf8').split(/\s+/);
  fs.writeFileSync(knownHosts, `[${address}]:${port} ${type} ${blob}\n`);
  const node: NodeSpec = {
    name: 'bench-node', address, port, user: os.userInfo().username, role: 'controlplane',
    identityFile: clientKey, become: 'none', paths: DEFAULT_PATHS,
  };
  return { target: { node, knownHosts }, stop: () => stopSshd(handle.pidFile) };
}

export interface ColumnResult {
  name: string;
  median: number;
  p95: number;
}

export function printRow(r: ColumnResult, base: number): void {
  console.log(
    `${r.name.padEnd(48)} median ${r.median.toFixed(2).padStart(7)} ms  p95 ${r.p95.toFixed(2).padStart(7)} ms  ratio ${(r.median / base).toFixed(3)}`,
  );
}

export async function main(
  k = Number(process.env.BENCH_K ?? 200),
  extra: Column[] = [],
  after?: (target: BenchTarget) => Promise<ColumnResult | ColumnResult[]>,
): Promise<ColumnResult[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-ssh-step-'));
  const { target, stop } = await throwawayTarget(dir);
  try {
    console.log(`ssh-step: K=${k} sequential trivial steps (\`true\`) against ${target.node.address}:${target.node.port}, ${os.cpus().length} cores`);
    const results: ColumnResult[] = [];
    for (const column of [...columns, ...extra]) {
      results.push({ name: column.name, ...summarize(await measure(column, target, k)) });
    }
    if (after) results.push(...[await after(target)].flat());
    for (const r of results) printRow(r, results[0].median);
    return results;
  } finally {
    stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
