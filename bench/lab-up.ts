/**
 * Benchmark: time to bring up N = 3, 10, 50 lab nodes (formed, fast profile), time for every node to answer
 * over SSH, and the lab's total RSS (all its sshd processes). Goal: 50 nodes < 30 s and < 1 GiB.
 * Then the realistic profile at x0.1: two joins, a refresh and a leave by hand, wall time against the sum of the
 * journal's simulated command durations (`simMs`).
 * Run: npm run build && node dist/bench/lab-up.js
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { nodePaths } from '../common/inventory';
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
        for (let node = queue.shift(); node; node = queue.shift()) if ((await lab.exec(node.name, 'sudo -n microk8s version')).code !== 0) failures++;
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

/** Realistic profile, scaled: what the simulated commands would take on MicroK8s vs what they took here. */
async function realistic(timeScale: number): Promise<string> {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lab-bench-'));
  const lab = await Lab.up({ name: 'benchreal', controlPlanes: 3, profile: 'realistic', timeScale, stateDir });
  try {
    const mk = (n: string) => `sudo -n ${nodePaths(lab.inventory.nodes.find((x) => x.name === n)!).microk8s}`;
    const t0 = Date.now();
    for (const n of ['k8s-2', 'k8s-3']) {
      const tok = (await lab.exec('k8s-1', `${mk('k8s-1')} add-node --format token-check`)).stdout.trim();
      await lab.exec(n, `${mk(n)} join ${lab.nodes[0].address}:25000/${tok}`);
    }
    await lab.exec('k8s-3', 'sudo -n snap refresh microk8s');
    await lab.exec('k8s-3', `${mk('k8s-3')} leave`);
    const wall = Date.now() - t0;
    const cmds = lab.journal().filter((e) => e.argv && typeof e.simMs === 'number' && Date.parse(e.t) >= t0);
    const sim = cmds.reduce((a, e) => a + (e.simMs as number), 0);
    const rows = cmds.filter((e) => (e.simMs as number) > 0).map((e) => `${e.argv!.slice(0, 2).join(' ')} ${((e.simMs as number) / 1000).toFixed(2)} s`);
    return `realistic x${timeScale}: ${cmds.length} simulated commands, simulated ${(sim / 1000).toFixed(2)} s (= ${(sim / timeScale / 1000).toFixed(0)} s unscaled), wall ${(wall / 1000).toFixed(2)} s\n      ${rows.join('; ')}`;
  } finally {
    await lab.down();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}

async function main() {
  console.log(`lab-up benchmark on ${os.cpus().length} cores`);
  for (const n of [3, 10, 50]) console.log(await measure(n));
  console.log(await realistic(0.1));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
