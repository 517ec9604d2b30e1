/**
 * A node's reboot as the behaviour reference §12 gives it: the reboot sentinel and its package list, the boot id
 * (a file and the Node's `.status.nodeInfo.bootID`), `reboot` refused without root, the machine down (SSH fails)
 * then back with a new boot id and no sentinel, `microk8s status` not running while the services start, a clean
 * voter's dqlite role handed to an online stand-by, and the faults `slow-boot` and `no-boot`.
 */
import { nodePaths } from '../../common/inventory';
import { execEach, useLab, waitFor } from '../support/lab';

const lab = useLab({ controlPlanes: 4, workers: 1, formed: true });
const spec = (node: string) => lab().inventory.nodes.find((n) => n.name === node)!;
const status = async (node: string) => (await lab().status()).nodes.find((n) => n.name === node)!;
const up = (node: string) => waitFor(`${node} answers SSH`, async () => (await lab().exec(node, 'true')).code === 0, 15_000, 50);

describe('reboot (§12)', () => {
  it('reboot-required: the sentinel and its packages; the boot id is a file and the Node bootID', async () => {
    await lab().fault('k8s-w1', 'reboot-required', { pkgs: ['linux-image-6.8.0-49-generic', 'libc6'] });
    const p = nodePaths(spec('k8s-w1'));
    const [sentinel, pkgs, bootId, node, asUser] = await execEach(lab(), 'k8s-w1', [
      `cat ${p.rebootRequired}`,
      `cat ${p.rebootRequiredPkgs}`,
      `cat ${p.bootId}`,
      'sudo -n microk8s kubectl get node k8s-w1 -o json',
      'reboot',
    ]);
    expect(sentinel.stdout).toBe('*** System restart required ***\n');
    expect(pkgs.stdout).toBe('linux-image-6.8.0-49-generic\nlibc6\n');
    expect(bootId.stdout).toMatch(/^[0-9a-f-]{36}\n$/);
    expect(JSON.parse(node.stdout).status.nodeInfo.bootID).toBe(bootId.stdout.trim());
    expect([asUser.code, asUser.stderr]).toEqual([1, 'Failed to set wall message, ignoring: Interactive authentication required.\nCall to Reboot failed: Interactive authentication required.\n']);
    expect((await status('k8s-w1')).rebootRequired).toEqual(['linux-image-6.8.0-49-generic', 'libc6']);
  });

  it('sudo reboot: the machine goes down (sessions end), comes back with a new boot id and no sentinel, Ready again', async () => {
    const before = await status('k8s-w1');
    const p = nodePaths(spec('k8s-w1'));
    // A session open across the reboot ends with the machine.
    const session = lab().exec('k8s-w1', 'sleep 20; echo survived', { timeoutMs: 25_000 });
    await new Promise((r) => setTimeout(r, 200));
    const r = await lab().exec('k8s-w1', 'sudo -n reboot');
    expect(r.code).toBe(0);
    const cut = await session;
    expect([cut.code === 0, cut.stdout]).toEqual([false, '']);
    await up('k8s-w1');
    const [bootId, sentinel] = await execEach(lab(), 'k8s-w1', [`cat ${p.bootId}`, `test -e ${p.rebootRequired} || echo gone`]);
    expect(bootId.stdout.trim()).not.toBe(before.bootId);
    expect(sentinel.stdout).toBe('gone\n');
    const after = await status('k8s-w1');
    expect([after.power, after.bootId, after.rebootRequired]).toEqual(['running', bootId.stdout.trim(), null]);
    await waitFor('k8s-w1 Ready', async () => (await status('k8s-w1')).ready, 5_000, 20);
    const j = lab().journal();
    expect(j.some((e) => e.event === 'reboot' && e.node === 'k8s-w1')).toBe(true);
    expect(j.some((e) => e.event === 'rebooted' && e.node === 'k8s-w1' && e.bootId === after.bootId)).toBe(true);
  });

  it('a clean voter reboot hands its role to the online stand-by; quorum holds throughout', async () => {
    const st = await lab().status();
    expect(st.cluster.voters).toContain('k8s-1');
    expect(st.cluster.standbys).toEqual(['k8s-4']);
    expect((await lab().exec('k8s-1', 'sudo -n systemctl reboot')).code).toBe(0);
    await waitFor('k8s-4 voter', async () => (await lab().status()).cluster.voters.includes('k8s-4'), 5_000, 20);
    const during = await lab().status();
    expect(during.cluster.quorum).toBe(true);
    expect(during.cluster.voters.sort()).toEqual(['k8s-2', 'k8s-3', 'k8s-4']);
    await up('k8s-1');
    await waitFor('k8s-1 Ready', async () => (await status('k8s-1')).ready, 5_000, 20);
  });

  it('no-boot keeps the node down until heal; slow-boot takes five times the boot time', async () => {
    await lab().fault('k8s-3', 'no-boot');
    expect((await lab().exec('k8s-3', 'sudo -n shutdown -r now')).code).toBe(0);
    const graceAndBoot = lab().timing().bootMs * 3;
    await new Promise((r) => setTimeout(r, graceAndBoot));
    expect((await status('k8s-3')).power).toBe('rebooting');
    expect((await status('k8s-3')).ready).toBe(false); // past the grace period: NotReady
    expect((await lab().exec('k8s-3', 'true', { timeoutMs: 3000 })).code).not.toBe(0);
    await lab().heal('k8s-3');
    await up('k8s-3');

    await lab().fault('k8s-2', 'slow-boot');
    const t0 = Date.now();
    expect((await lab().exec('k8s-2', 'sudo -n reboot')).code).toBe(0);
    await waitFor('k8s-2 down', async () => (await lab().exec('k8s-2', 'true', { timeoutMs: 3000 })).code !== 0, 5_000, 20);
    await up('k8s-2');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(lab().timing().bootMs * 5);
    const j = lab().journal().filter((e) => e.event === 'reboot' && e.node === 'k8s-2');
    expect(j.at(-1)?.bootMs).toBe(lab().timing().bootMs * 5);
  });
});
