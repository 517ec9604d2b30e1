/**
 * Replacing a failed node (behaviour reference §13), by hand over SSH: a rebuilt machine at the same address is
 * refused as "already known to dqlite" while its old member lingers (and `kubectl delete node` alone does not
 * help); `remove-node <ip> --force` prints its two lines and exits 1, after which a fresh token joins it.
 */
import { execEach, useLab, waitFor } from '../support/lab';

const lab = useLab({ controlPlanes: 4, formed: true });
const address = (node: string) => lab().inventory.nodes.find((n) => n.name === node)!.address;

async function token(): Promise<string> {
  const r = await lab().exec('k8s-1', 'sudo -n microk8s add-node --format short');
  expect(r.code).toBe(0);
  return r.stdout.trim().split('\n')[0].replace(/^microk8s join /, '');
}

describe('replacing a node (§13)', () => {
  it('a rebuilt node with the same IP is refused until remove-node --force; then it joins', async () => {
    const bootBefore = (await lab().status()).nodes.find((n) => n.name === 'k8s-4')!.bootId;
    await lab().fault('k8s-4', 'destroy');
    await lab().rebuild('k8s-4');
    const rebuilt = (await lab().status()).nodes.find((n) => n.name === 'k8s-4')!;
    expect([rebuilt.power, rebuilt.cluster === (await lab().status()).nodes[0].cluster]).toEqual(['running', false]);
    expect(rebuilt.bootId).not.toBe(bootBefore);

    // `kubectl delete node` alone leaves the dqlite member.
    const [del] = await execEach(lab(), 'k8s-1', ['sudo -n microk8s kubectl delete node k8s-4']);
    expect(del.code).toBe(0);
    const refused = await lab().exec('k8s-4', `sudo -n microk8s join ${await token()}`);
    expect(refused.code).toBe(6);
    expect(refused.stdout).toContain(`the joining node (${address('k8s-4')}) is already known to dqlite (500).`);

    const [remove] = await execEach(lab(), 'k8s-1', [`sudo -n microk8s remove-node ${address('k8s-4')} --force`]);
    expect(remove.code).toBe(1);
    expect(remove.stdout + remove.stderr).toContain(`Attempting to remove ${address('k8s-4')} from dqlite.`);
    expect(remove.stdout + remove.stderr).toContain('Removing node entry found in dqlite.');

    const joined = await lab().exec('k8s-4', `sudo -n microk8s join ${await token()}`);
    expect([joined.code, joined.stdout.trim().split('\n').at(-1)]).toEqual([0, 'Successfully joined the cluster.']);
    await waitFor('k8s-4 Ready in the cluster', async () => {
      const st = await lab().status();
      return st.cluster.nodes.includes('k8s-4') && st.nodes.find((n) => n.name === 'k8s-4')!.ready;
    });
  });
});
