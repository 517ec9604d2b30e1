/**
 * Cluster-forming semantics that judge a form runbook (unformed lab, 3 control planes, fast profile):
 * single-use tokens burnt by failed joins, TTL tokens reusable, HA only at the third control plane,
 * port 25000 unreachable while the contacted node is down.
 */
import { nodePaths } from '../../common/inventory';
import { useLab, waitFor } from '../support/lab';

const lab = useLab({ controlPlanes: 3 });
const sh = (node: string, cmd: string) => lab().exec(node, cmd);
const ip = (node: string) => lab().nodes.find((n) => n.name === node)!.address;
const mk = (node: string) => nodePaths(lab().inventory.nodes.find((n) => n.name === node)!).microk8s;
const addNode = async (extra = '') => (await sh('k8s-1', `${mk('k8s-1')} add-node --format token-check ${extra}`)).stdout.trim();
const join = (node: string, tok: string) => sh(node, `${mk(node)} join ${ip('k8s-1')}:25000/${tok}`);

describe('forming a cluster in the lab', () => {
  it('starts unclustered: each node a lone dqlite at 127.0.0.1:19001, HA off', async () => {
    const st = await lab().status();
    expect(st.clusters).toHaveLength(3);
    const r = await sh('k8s-1', `${mk('k8s-1')} status --format yaml`);
    expect(r.stdout).toContain('high-availability:\n  enabled: False\n  nodes:\n    - address: 127.0.0.1:19001\n      role: voter\n');
  });

  it('a single-use token is burnt by a failed join, even though the join never happened', async () => {
    const tok = await addNode();
    const failed = await sh('k8s-1', `${mk('k8s-1')} join ${ip('k8s-1')}:25000/${tok}`); // joining itself: 503
    expect(failed.code).toBe(6);
    const retry = await join('k8s-2', tok);
    expect([retry.code, retry.stdout]).toEqual([6, `Contacting cluster at ${ip('k8s-1')}\nConnection failed. Invalid token (500).\n`]);
    expect((await lab().status()).nodes.find((n) => n.name === 'k8s-2')!.cluster).not.toBe((await lab().status()).nodes[0].cluster);
  });

  it('port 25000 is unreachable while the contacted node is down: traceback, exit 1', async () => {
    const tok = await addNode('--token-ttl 600');
    await lab().fault('k8s-1', 'crash');
    const r = await join('k8s-2', tok);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Traceback \(most recent call last\):\n[\s\S]*\nOSError: \[Errno 113\] No route to host\n$/);
    await lab().heal('k8s-1');
  });

  it('a second node makes 1 voter + 1 spare (no HA); the third turns HA on after rebalancing', async () => {
    const ttl = await addNode('--token-ttl 600');
    expect((await join('k8s-2', ttl)).code).toBe(0);
    let st = await lab().status();
    expect(st.cluster).toMatchObject({ voters: ['k8s-1'], spares: ['k8s-2'], ha: false });
    const status2 = (await sh('k8s-1', `${mk('k8s-1')} status`)).stdout;
    expect(status2).toContain(`high-availability: no\n  datastore master nodes: ${ip('k8s-1')}:19001\n  datastore standby nodes: none\n`);
    // The TTL token is still valid for another join.
    expect((await join('k8s-3', ttl)).code).toBe(0);
    // k8s-3 enters as a spare; the leader promotes it after the (profile-scaled) rebalance delay.
    st = await waitFor('HA on', async () => {
      const s = await lab().status();
      return s.cluster.ha ? s : undefined;
    });
    expect(st.cluster.voters).toEqual(['k8s-1', 'k8s-2', 'k8s-3']);
    expect((await sh('k8s-3', `${mk('k8s-3')} status`)).stdout).toContain('high-availability: yes\n');
    expect(lab().journal().filter((e) => e.event === 'joined').map((e) => e.node)).toEqual(['k8s-2', 'k8s-3']);
    const j = lab().journal();
    const joined3 = j.findIndex((e) => e.event === 'joined' && e.node === 'k8s-3');
    const promoted = j.findIndex((e, i) => i > joined3 && e.event === 'roles-changed' && String(e.changes).includes('k8s-3: spare→voter'));
    expect(promoted).toBeGreaterThan(joined3);
  });

  it('leave: the node restarts alone, its Node object stays NotReady until remove-node', async () => {
    const r = await sh('k8s-3', `${mk('k8s-3')} leave`);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Generating new cluster certificates\.\nWaiting for node to start\. /);
    const nodes = (await sh('k8s-1', `${mk('k8s-1')} kubectl get nodes`)).stdout;
    expect(nodes).toMatch(/\nk8s-3\s+NotReady\s/);
    expect((await sh('k8s-1', `${mk('k8s-1')} remove-node k8s-3`)).code).toBe(0);
    expect((await sh('k8s-1', `${mk('k8s-1')} kubectl get nodes`)).stdout).not.toContain('k8s-3');
  });
});
