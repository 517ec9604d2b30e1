/**
 * One reboot of one lab node, as a detached process (started by the node's `reboot`, sim/reboot.ts): once the
 * command that started it has returned, the machine goes down (sshd and every session end); after the boot time
 * its sshd starts again and the state records the boot (new boot id, services starting). A `no-boot` node stays
 * down until `lab heal`; a lab brought down meanwhile is left alone.
 *
 *   node dist/lab/boot.js <labDir> <node> <pid of the reboot command>
 */
import * as fs from 'fs';
import * as path from 'path';
import { Sim } from './sim/context';
import { finishBoot } from './sim/reboot';
import { readState, withState } from './sim/store';
import { killNode } from './sshd';
import { startNodeSshdIn } from './index';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

async function main(labDir: string, node: string, parent: number): Promise<void> {
  // The reboot command must have ended (its session is killed with the machine; this process must not be).
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'EPERM';
    }
  };
  for (let i = 0; i < 250 && alive(parent); i++) await sleep(20);
  const pidFile = path.join(labDir, 'nodes', node, 'sshd', 'sshd.pid');
  killNode(pidFile);
  for (;;) {
    if (!fs.existsSync(path.join(labDir, 'lab.json'))) return;
    const n = readState(labDir).nodes[node];
    if (n?.power !== 'rebooting' || n.host?.bootAt === undefined) return; // healed meanwhile, or no-boot
    const wait = n.host.bootAt - Date.now();
    if (wait <= 0) break;
    await sleep(Math.min(wait, 1000));
  }
  await startNodeSshdIn(labDir, node);
  const sim = new Sim(labDir, node);
  withState(labDir, (s, now) => {
    const n = s.nodes[node];
    if (n.power === 'rebooting') finishBoot(sim, s, n, now);
  });
}

const [labDir, node, parent] = process.argv.slice(2);
if (!labDir || !node || !/^\d+$/.test(parent ?? '')) {
  process.stderr.write('usage: boot.js <labDir> <node> <pid>\n');
  process.exit(2);
}
main(labDir, node, Number(parent)).catch((e) => {
  process.stderr.write(`lab boot of ${node}: ${(e as Error).message}\n`);
  process.exit(1);
});
