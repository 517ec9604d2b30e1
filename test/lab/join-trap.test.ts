/**
 * The join trap (behaviour reference §2 and failure mode 6): `microk8s join` prints `Successfully joined the
 * cluster.` and exits 0 even when dqlite never converged. The lab springs it on a `no-converge` fault and when a
 * voter is down; only a runbook that verifies (`.cluster`, `kubectl get nodes`, `status`) notices. Also the
 * human `lab status` table and `--json` on that state. Unformed lab, 4 control planes, fast profile.
 */
import { execFile } from 'child_process';
import * as path from 'path';
import { promisify } from 'util';
import { nodePaths } from '../../common/inventory';
import { formatLabStatus } from '../../lab/commands';
import { useLab, waitFor } from '../support/lab';

const lab = useLab({ controlPlanes: 4 });
const sh = (node: string, cmd: string) => lab().exec(node, cmd);
const ip = (node: string) => lab().nodes.find((n) => n.name === node)!.address;
const paths = (node: string) => nodePaths(lab().inventory.nodes.find((n) => n.name === node)!);
const mk = (node: string) => `sudo -n ${paths(node).microk8s}`;
const token = async () => (await sh('k8s-1', `${mk('k8s-1')} add-node --format token-check`)).stdout.trim();
const join = async (node: string) => sh(node, `${mk(node)} join ${ip('k8s-1')}:25000/${await token()}`);
const cluster = async () => (await sh('k8s-1', `sudo -n ${paths('k8s-1').dqlite} -s file://${paths('k8s-1').clusterYaml} k8s .cluster`)).stdout;
const TRAPPED = /^Contacting cluster at [\d.]+\nWaiting for this node to finish joining the cluster\. (\.\. ){10}\nSuccessfully joined the cluster\.\n$/;

describe('the join trap: exit 0 without convergence', () => {
  beforeAll(async () => {
    for (const n of ['k8s-2', 'k8s-3']) expect((await join(n)).code).toBe(0);
    await waitFor('HA with 3 voters', async () => (await lab().status()).cluster.ha, 10_000);
  });

  it('no-converge: join says success, but the node is not in .cluster, has no Node, and status says not running', async () => {
    await lab().fault('k8s-4', 'no-converge');
    const r = await join('k8s-4');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(TRAPPED);
    expect(await cluster()).not.toContain(`${ip('k8s-4')}:19001`);
    expect((await sh('k8s-1', `${mk('k8s-1')} kubectl get nodes`)).stdout).not.toMatch(/\nk8s-4\s+Ready\s/);
    const status = await sh('k8s-4', `${mk('k8s-4')} status`);
    expect([status.code, status.stdout]).toEqual([1, 'microk8s is not running. Use microk8s inspect for a deeper inspection.\n']);
    const dq = await sh('k8s-4', `sudo -n ${paths('k8s-4').dqlite} -s file://${paths('k8s-4').clusterYaml} k8s .cluster`);
    expect([dq.code, dq.stderr]).toEqual([1, `Error: open servers store: open ${paths('k8s-4').clusterYaml}: no such file or directory\n`]);
    const st = await lab().status();
    const k4 = st.nodes.find((n) => n.name === 'k8s-4')!;
    expect(k4).toMatchObject({ ready: false, kubernetes: false, dqlite: { role: 'none', up: false } });
    expect(k4.dqlite!.error).toContain('join did not converge (no-converge fault)');
    expect(st.cluster.nodes).toContain('k8s-4');
    expect(lab().journal().some((e) => e.event === 'join-not-converged' && e.node === 'k8s-4')).toBe(true);
  });

  it('lab status shows membership, roles, leader, versions, cordons and pods per node; --json too', async () => {
    const text = formatLabStatus(await lab().status());
    const lines = text.split('\n');
    expect(lines[1]).toMatch(/^cluster c\d+: available, leader k8s-1, HA yes, voters k8s-1 k8s-2 k8s-3, stand-bys none, spares none; nodes k8s-1 k8s-2 k8s-3 k8s-4$/);
    expect(lines[2].split(/\s{2,}/)).toEqual(['NODE', 'CLUSTER', 'AS', 'ADDRESS', 'MACHINE', 'SERVICES', 'K8S', 'CORDONED', 'VERSION', 'REV', 'CHANNEL', 'HELD', 'DQLITE', 'PODS']);
    const row = (n: string) => lines.find((l) => l.startsWith(`${n} `))!.split(/\s{2,}/);
    expect(row('k8s-1')).toEqual([expect.stringMatching(/^k8s-1/), expect.stringMatching(/^c\d+$/), 'cp', ip('k8s-1'), 'running', 'running', 'Ready', '-', expect.stringMatching(/^v1\.28\.\d+$/), expect.stringMatching(/^\d+$/), '1.28/stable', '-', 'voter (leader)', expect.stringMatching(/^\d+$/)]);
    expect(row('k8s-4').slice(6)).toEqual(['absent', '-', expect.stringMatching(/^v1\.28/), expect.stringMatching(/^\d+$/), '1.28/stable', '-', 'none (down)', '0']);
    expect(text).toMatch(/\npods on k8s-1: .*kube-system\/calico-node-\w+/);
    expect(text).toContain('\nk8s-4: k8s-dqlite: join did not converge (no-converge fault)');
    const cli = await promisify(execFile)(process.execPath, [path.resolve(__dirname, '../../dist/lab/main.js'), 'lab', 'status', '--name', lab().name, '--state-dir', path.dirname(path.dirname(lab().dir)), '--json']);
    const json = JSON.parse(cli.stdout);
    expect(json.nodes.find((n: { name: string }) => n.name === 'k8s-4')).toMatchObject({ kubernetes: false, dqlite: { role: 'none' } });
    expect(json.cluster.leader).toBe('k8s-1');
  });

  it('the fix: leave, then join again with a new token, converges', async () => {
    expect((await sh('k8s-4', `${mk('k8s-4')} leave`)).code).toBe(0);
    const r = await join('k8s-4');
    expect(r.stdout).toMatch(/Waiting for this node to finish joining the cluster\. (\.\. ){4}\nSuccessfully/);
    expect(await cluster()).toMatch(new RegExp(`\\|${ip('k8s-4').replace(/\./g, '\\.')}:19001\\|(spare|stand-by)\n`));
    await waitFor('k8s-4 Ready', async () => (await lab().status()).nodes.find((n) => n.name === 'k8s-4')!.ready);
  });

  it('joining while a voter is down (quorum still held) does not converge either', async () => {
    expect((await sh('k8s-4', `${mk('k8s-4')} leave`)).code).toBe(0);
    expect((await sh('k8s-1', `${mk('k8s-1')} remove-node k8s-4`)).code).toBe(0);
    await lab().fault('k8s-3', 'crash');
    const r = await join('k8s-4');
    expect([r.code, TRAPPED.test(r.stdout)]).toEqual([0, true]);
    expect(await cluster()).not.toContain(`${ip('k8s-4')}:19001`);
    expect(lab().journal().filter((e) => e.event === 'join-not-converged').map((e) => e.reason)).toEqual(['no-converge fault', `voter ${ip('k8s-3')}:19001 is down`]);
    await lab().heal('k8s-3');
  });

  it('19001/tcp blocked on a voter (block-port) traps the join too; healed, leave + join converges', async () => {
    expect((await sh('k8s-4', `${mk('k8s-4')} leave`)).code).toBe(0);
    await lab().fault('k8s-2', 'block-port', { port: 19001 });
    expect((await sh('k8s-4', `nc -z -w 3 ${ip('k8s-2')} 19001`)).code).toBe(1);
    const r = await join('k8s-4');
    expect([r.code, TRAPPED.test(r.stdout)]).toEqual([0, true]);
    expect(lab().journal().filter((e) => e.event === 'join-not-converged').map((e) => e.reason).pop()).toBe(`voter ${ip('k8s-2')}:19001 is unreachable (19001/tcp blocked)`);
    await lab().heal('k8s-2');
    expect((await sh('k8s-4', `${mk('k8s-4')} leave`)).code).toBe(0);
    const again = await join('k8s-4');
    expect([again.code, TRAPPED.test(again.stdout)]).toEqual([0, false]);
    expect(await cluster()).toContain(`${ip('k8s-4')}:19001`);
  });
});
