/**
 * The README's first command: `runbook demo` (what `npm run demo` runs after its set-up) tells the whole story on a
 * lab and ends with exit 0. Run as a user runs it, with `--exit` so it tears down; every step's outcome is checked.
 * Not on the shared fixture (test/support/e2e.ts): `runbook demo` starts its own server, labs and worker.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { freePort } from '../support/browser';
import { CLI_MAIN, REPO_ROOT, temporalCliPath } from '../support/temporal';

test('the demo runs every runbook through the real CLI and exits 0', async () => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'demo-e2e-'));
  const [port, uiPort] = [await freePort(), await freePort()];
  try {
    const { code, out } = await new Promise<{ code: number | null; out: string }>((resolve) => {
      let out = '';
      const child = spawn(process.execPath, [CLI_MAIN, 'demo', '--exit', '--port', String(port), '--ui-port', String(uiPort)], {
        cwd: REPO_ROOT,
        env: { ...process.env, RUNBOOK_STATE_DIR: stateDir, TEMPORAL_CLI_PATH: temporalCliPath() },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.on('exit', (c) => resolve({ code: c, out }));
    });
    expect(out).not.toMatch(/demo: ".*" exited \d+, expected \d+/);
    expect(code).toBe(0);
    // Each runbook ended as the story says, in this order.
    const endings = [...out.matchAll(/runbook-demo: (\w+) after [\d:]+ \((\S+) on cluster demo\); exit code (\d)/g)].map((m) => `${m[2]} ${m[1]} ${m[3]}`);
    expect(endings).toEqual([
      'check completed 0',
      'form completed 0',
      'refresh-policy completed 0',
      'upgrade failed 1',
      'upgrade completed 0',
      'refresh-policy completed 0',
      'check completed 1',
      'refresh-certs completed 0',
      'reboot completed 0',
      'recover-quorum completed 0',
      'replace-node completed 0',
      'replace-node completed 0',
    ]);
    expect(out).toMatch(/cluster demo: pre-flight passed; not formed yet/);
    expect(out).toMatch(/^k8s-w2\s+1\.29\/stable\s+v1\.29\.\S+\s+\d+\s+forever/m);
    // New hardware: the lost nodes replaced (recover-quorum had removed them), HA back.
    expect(out).toMatch(/^k8s-2 was already gone; k8s-2 joined; 1 dqlite voter\(s\), high availability no$/m);
    expect(out).toMatch(/^k8s-3 was already gone; k8s-3 joined; 3 dqlite voter\(s\), high availability yes$/m);
    // The reboot: only the two nodes a package asked for, each with a new boot id.
    expect(out).toMatch(/^k8s-1\s+control plane\s+rebooted\s+[0-9a-f]{8}\s+[0-9a-f]{8}/m);
    expect(out).toMatch(/^k8s-w1\s+worker\s+rebooted\s+/m);
    expect(out).toMatch(/^k8s-w2\s+worker\s+skipped \(no reboot required\)/m);
    // The fleet: demo (the canary: its rebuilt nodes brought to 1.29's latest patch), then demo-b from 1.28; both under
    // their own lock.
    expect(out).toMatch(/^demo\s+succeeded\s+runbook-demo\s+(upgraded|nothing to do): v1\.29\.\S+\s*$/m);
    expect(out).toMatch(/^demo-b\s+succeeded\s+runbook-demo-b\s+upgraded: v1\.29\.\S+\s*$/m);
    expect(out).toMatch(/^fleet demo-sites: 2 succeeded, 0 failed, 0 busy \(skipped\), 0 not started\s*$/m);
    // The schedule's triggered backup ran under the cluster's lock, and says which backup it made.
    expect(out).toMatch(/^runbook-demo\.backup\s+backup\s+demo\s+every 6h\s+active\s+\S+\s+\S+ backup \S+ of k8s-\d\s*$/m);
  } finally {
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}, 600_000);
