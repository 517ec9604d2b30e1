/**
 * Benchmark: time to bring up N = 3, 10, 50 lab nodes (formed, fast profile), time for every node to answer
 * over SSH, and the lab's total RSS (all its sshd processes). Goal: 50 nodes < 30 s and < 1 GiB.
 * Run: npm run build && node dist/bench/lab-up.js
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Lab } from '../lab';
import { sessionPids } from '../lab/sshd';

/** RSS counts shared pages (sshd's libraries) once per process; PSS shares them out, so sums are honest. */
function memKiB(pid: number, field: 'Rss' | 'Pss'): number {
  try {
    return Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

async function measure(n: number): Promise<string> {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lab-bench-'));
  const t0 = Date.now();
  const lab = await Lab.up({ name: `bench${n}`, controlPlanes: Math.min(3, n), workers: Math.max(0, n - 3), formed: true, stateDir });
  const upMs = Date.now() - t0;
  try {
    const t1 = Date.now();
    const queue = [...lab.nodes];
    let failures = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let node = queue.shift(); node; node = queue.shift()) if ((await lab.exec(node.name, 'microk8s version')).code !== 0) failures++;
      }),
    );
    const answerMs = Date.now() - t1;
    const sum = { listenersRss: 0, listenersPss: 0, sessionsRss: 0, sessionsPss: 0 };
    for (const node of lab.nodes) {
      const pidFile = path.join(lab.dir, 'nodes', node.name, 'sshd', 'sshd.pid');
      const pid = Number(fs.readFileSync(pidFile, 'utf8'));
      sum.listenersRss += memKiB(pid, 'Rss');
      sum.listenersPss += memKiB(pid, 'Pss');
      for (const p of sessionPids(pidFile)) {
        sum.sessionsRss += memKiB(p, 'Rss');
        sum.sessionsPss += memKiB(p, 'Pss');
      }
    }
    const mib = (k: number) => `${(k / 1024).toFixed(0)} MiB`;
    return (
      `N=${String(n).padStart(2)}  up ${(upMs / 1000).toFixed(2)} s  every node answered over SSH in ${(answerMs / 1000).toFixed(2)} s (${failures} failures)\n` +
      `      sshd listeners: RSS ${mib(sum.listenersRss)}, PSS ${mib(sum.listenersPss)}; open multiplexed SSH sessions: RSS ${mib(sum.sessionsRss)}, PSS ${mib(sum.sessionsPss)}`
    );
  } finally {
    await lab.down();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}

async function main() {
  console.log(`lab-up benchmark on ${os.cpus().length} cores`);
  for (const n of [3, 10, 50]) console.log(await measure(n));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
