/**
 * The realistic profile, scaled down (timeScale 0.05: a 16 s join takes 0.8 s): long commands take the
 * reference's durations times the scale, stream their progress while they run, journal their simulated
 * duration (`simMs`), and a refresh killed mid-way leaves a change that is either done or not, and safe to redo.
 */
import { spawn } from 'child_process';
import { nodePaths } from '../../common/inventory';
import { spread, timingFor } from '../../lab/timing';
import { useLab, waitFor } from '../support/lab';

const SCALE = 0.05;
const lab = useLab({ controlPlanes: 2, profile: 'realistic', timeScale: SCALE });
const sh = (node: string, cmd: string) => lab().exec(node, cmd);
const ip = (node: string) => lab().nodes.find((n) => n.name === node)!.address;
const mk = (node: string) => `sudo -n ${nodePaths(lab().inventory.nodes.find((n) => n.name === node)!).microk8s}`;
const lastCommand = (node: string, word: string) => [...lab().journal()].reverse().find((e) => e.node === node && e.argv?.includes(word))!;

/** Run over SSH and note when each stream first carried `text` (ms since start). */
function timed(node: string, command: string, marks: Array<[1 | 2, string]>): Promise<{ code: number | null; stdout: string; stderr: string; at: number[]; ms: number }> {
  const t0 = Date.now();
  const at = marks.map(() => -1);
  return new Promise((resolve) => {
    const child = spawn('ssh', [...lab().sshOptions(), `${lab().inventory.nodes[0].user}@${ip(node)}`, command]);
    const out = ['', ''];
    const feed = (fd: 1 | 2) => (d: Buffer) => {
      out[fd - 1] += d;
      marks.forEach(([f, text], i) => {
        if (at[i] < 0 && f === fd && out[fd - 1].includes(text)) at[i] = Date.now() - t0;
      });
    };
    child.stdout.on('data', feed(1));
    child.stderr.on('data', feed(2));
    child.on('close', (code) => resolve({ code, stdout: out[0], stderr: out[1], at, ms: Date.now() - t0 }));
  });
}

describe('realistic timing profile (scaled)', () => {
  const t = timingFor('realistic', SCALE);

  it('durations follow the reference, times the scale', () => {
    const real = timingFor('realistic');
    expect(real.joinSettleMs + real.joinPolls * real.joinPollMs).toBeGreaterThanOrEqual(15_000);
    expect(real.refreshMs).toEqual([20_000, 60_000]);
    expect([real.leaveMs, real.rebalanceMs, real.drainRetryMs, real.startWaitMaxMs]).toEqual([30_000, 30_000, 5_000, 60_000]);
    expect(real.dqliteRestartMs).toBeGreaterThanOrEqual(6_000);
    expect(t.joinMs).toBe(Math.round(real.joinSettleMs * SCALE) + real.joinPolls * Math.round(real.joinPollMs * SCALE));
    expect(spread(20_000, 60_000, 'k8s-2:5330')).toBe(spread(20_000, 60_000, 'k8s-2:5330'));
    const fast = timingFor('fast');
    expect(fast.joinMs + fast.refreshMs[1] + fast.leaveMs).toBeLessThan(200);
  });

  it('a control-plane join streams its dots and journals its simulated duration', async () => {
    const tok = (await sh('k8s-1', `${mk('k8s-1')} add-node --format token-check`)).stdout.trim();
    const r = await timed('k8s-2', `${mk('k8s-2')} join ${ip('k8s-1')}:25000/${tok}`, [
      [1, 'Waiting for this node to finish joining the cluster. '],
      [1, 'Successfully joined'],
    ]);
    expect(r.code).toBe(0);
    // First join to a lone node: k8s-dqlite restart on the real IP, then sleep 10 and the polls.
    const sim = t.dqliteRestartMs + t.joinMs;
    expect(r.at[1] - r.at[0]).toBeGreaterThanOrEqual(t.joinMs - 50);
    const e = lastCommand('k8s-2', 'join');
    expect(e.simMs).toBe(sim);
    expect(e.ms).toBeGreaterThanOrEqual(sim);
  });

  it('an unattended auto-refresh in progress: refresh refused with its wording, Notes disabled', async () => {
    await sh('k8s-2', 'true'); // warm the connection: the change lasts 1 s here
    await lab().fault('k8s-2', 'auto-refresh');
    const r = await sh('k8s-2', 'sudo -n snap refresh microk8s; snap list microk8s');
    expect(r.stderr).toBe('error: snap "microk8s" has "auto-refresh" change in progress\n');
    expect(r.stdout).toMatch(/\nmicrok8s\s+\S+\s+\d+\s+1\.28\/stable\s+canonical✓\s+disabled,classic\n$/);
    await waitFor('auto-refresh done', async () => (await sh('k8s-2', 'snap list microk8s')).stdout.endsWith(' classic\n'), 10_000, 100);
  });

  it('a refresh prints the INFO notice early, the result after 20-60 s (scaled, deterministic per node and revision)', async () => {
    const r = await timed('k8s-2', 'sudo -n snap refresh microk8s --channel=1.29/stable', [
      [2, 'INFO Waiting for "snap.microk8s.daemon-kubelite.service" to stop.'],
      [1, 'refreshed'],
    ]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00 INFO Waiting for "snap\.microk8s\.daemon-kubelite\.service" to stop\.\n$/);
    expect(r.stdout).toMatch(/^microk8s \(1\.29\/stable\) v1\.29\.\d+ from Canonical✓ refreshed\n$/);
    const rev = (await lab().status()).nodes.find((n) => n.name === 'k8s-2')!.revision;
    const busy = spread(t.refreshMs[0], t.refreshMs[1], `k8s-2:${rev}`);
    expect(lastCommand('k8s-2', 'refresh').simMs).toBe(busy);
    expect(busy).toBeGreaterThanOrEqual(t.refreshMs[0]);
    expect(r.at[1] - r.at[0]).toBeGreaterThanOrEqual(busy * 0.8);
  });

  it('a refresh killed mid-way: the change is done, a rerun waits for it, then finds nothing to do', async () => {
    const before = (await lab().status()).nodes.find((n) => n.name === 'k8s-1')!;
    // `exec` keeps the pid: the shell becomes the shim, which becomes the simulator.
    let stderr = '';
    const child = spawn('ssh', [...lab().sshOptions(), `${lab().inventory.nodes[0].user}@${ip('k8s-1')}`, 'echo pid=$$ >&2; exec sudo -n snap refresh microk8s --channel=1.29/stable']);
    child.stderr.on('data', (d) => (stderr += d));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    await waitFor('the INFO notice', () => stderr.includes('INFO Waiting'), 10_000);
    const pid = /pid=(\d+)/.exec(stderr)![1];
    expect((await sh('k8s-1', `kill -TERM ${pid}`)).code).toBe(0);
    expect(await closed).toBe(143);
    expect(lastCommand('k8s-1', 'refresh')).toMatchObject({ exit: null, killed: 'SIGTERM' });
    const list = (await sh('k8s-1', 'snap list microk8s')).stdout.split('\n')[1].split(/\s+/);
    expect([list[3], list[5]]).toEqual(['1.29/stable', 'disabled,classic']);
    const again = await sh('k8s-1', 'sudo -n snap refresh microk8s --channel=1.29/stable');
    expect([again.code, again.stderr]).toEqual([1, 'error: snap "microk8s" has "refresh-snap" change in progress\n']);
    await waitFor('change done', async () => (await sh('k8s-1', 'snap list microk8s')).stdout.endsWith(' classic\n'), 10_000, 200);
    const redo = await sh('k8s-1', 'sudo -n snap refresh microk8s --channel=1.29/stable');
    expect([redo.code, redo.stdout]).toEqual([0, 'snap "microk8s" has no updates available\n']);
    expect((await lab().status()).nodes.find((n) => n.name === 'k8s-1')!.revision).toBeGreaterThan(before.revision);
  });
});
