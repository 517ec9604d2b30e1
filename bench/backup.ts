/**
 * Throughput of the off-node backup and the restore, on a one-node lab whose backend holds BENCH_MB of extra
 * closed segments (default 64). Columns:
 *   openssh  - `ssh node tar -C backend -cf - . > file`, the manual baseline (no checksums, no verification);
 *   backup   - backupNode: tar streamed through the ssh2 pool, sha256 while streaming, read back and matched;
 *   restore  - restoreNodeBackup: streamed up, unpacked beside the backend, every file's sha256 checked, swapped in.
 * Prints median seconds and MB/s over BENCH_K runs (default 3).
 *
 *   npm run build && node dist/bench/backup.js
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { execFile } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { promisify } from 'util';
import { createBackupActivities } from '../activities/backup';
import { SshPool } from '../activities/ssh';
import { Lab } from '../lab';
import { snapPaths } from '../lab/sim/backend';

const run = promisify(execFile);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const mb = Number(process.env.BENCH_MB ?? 64);
  const k = Number(process.env.BENCH_K ?? 3);
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-backup-'));
  const lab = await Lab.up({ name: `bench-bk-${process.pid % 10000}`, controlPlanes: 1, formed: true, profile: 'fast', stateDir });
  const ssh = new SshPool();
  try {
    const backend = snapPaths(lab.dir, 'k8s-1').backend;
    const pad = (n: number) => String(n).padStart(16, '0');
    for (let i = 0; i < mb / 8; i++) fs.writeFileSync(path.join(backend, `${pad(900000 + i * 10)}-${pad(900009 + i * 10)}`), randomBytes(8 << 20));
    await lab.exec('k8s-1', 'sudo -n microk8s stop');
    const size = fs.readdirSync(backend).reduce((sum, f) => sum + fs.statSync(path.join(backend, f)).size, 0) / (1 << 20);

    const node = lab.inventory.nodes[0];
    const sshArgs = ['-i', node.identityFile!, '-p', String(node.port), '-o', `UserKnownHostsFile=${lab.inventory.knownHosts}`, '-o', 'BatchMode=yes', `${node.user}@${node.address}`];
    const acts = createBackupActivities({ ssh, stateDir });
    const inv = lab.inventory;
    const columns: Array<[string, (i: number) => Promise<void>]> = [
      ['openssh tar > file (baseline)', async (i) => void (await run('sh', ['-c', `ssh ${sshArgs.join(' ')} tar -C ${backend} -cf - . > ${stateDir}/plain-${i}.tar`]))],
      ['backupNode (sha256 + read back)', async (i) => void (await new MockActivityEnvironment().run(acts.backupNode, { inventory: inv, node: 'k8s-1', id: `bench-${i}`, stopped: true }))],
      ['restoreNodeBackup (verify + swap)', async (i) => {
        fs.appendFileSync(path.join(backend, 'info.yaml'), '#'); // make each restore do the work
        await new MockActivityEnvironment().run(acts.restoreNodeBackup, { inventory: inv, node: 'k8s-1', backupId: `bench-${i}` });
      }],
    ];
    console.log(`backend: ${size.toFixed(1)} MiB, ${k} runs each`);
    for (const [name, step] of columns) {
      const samples: number[] = [];
      for (let i = 0; i < k; i++) {
        const t0 = performance.now();
        await step(i);
        samples.push((performance.now() - t0) / 1000);
      }
      const s = median(samples);
      console.log(`${name.padEnd(36)} median ${s.toFixed(2)} s  ${(size / s).toFixed(1)} MiB/s`);
    }
  } finally {
    await ssh.close();
    await lab.down();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
