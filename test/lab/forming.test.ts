/**
 * Cluster-forming semantics that judge a form runbook (unformed lab, 3 control planes, fast profile):
 * single-use tokens burnt by failed joins, TTL tokens reusable, HA only at the third control plane,
 * port 25000 unreachable while the contacted node is down, the `nc -z` pre-check and the faults a form
 * runbook meets (block-port, burn-next-token, stale-member).
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { promisify } from 'util';
import { nodePaths } from '../../common/inventory';
import { execEach, useLab, waitFor } from '../support/lab';

const lab = useLab({ controlPlanes: 3 });
const sh = (node: string, cmd: string) => lab().exec(node, cmd);
const ip = (node: string) => lab().nodes.find((n) => n.name === node)!.address;
const mk = (node: string) => `sudo -n ${nodePaths(lab().inventory.nodes.find((n) => n.name === node)!).microk8s}`;
const addNode = async (extra = '') => (await sh('k8s-1', `${mk('k8s-1')} add-node --format token-check ${extra}`)).stdout.trim();
const join = (node: string, tok: string) => sh(node, `${mk(node)} join ${ip('k8s-1')}:25000/${tok}`);

describe('forming a cluster in the lab', () => {
  it('starts unclustered: each node a lone dqlite at 127.0.0.1:19001, HA off', async () => {
    const st = await lab().status();
    expect(st.clusters).toHaveLength(3);
    const r = await sh('k8s-1', `${mk('k8s-1')} status --format yaml`);
    expect(r.stdout).toContain('high-availability:\n  enabled: False\n  nodes:\n    - address: 127.0.0.1:19001\n      role: voter\n');
  });

  it('nc -z -w answers from the simulated truth: services up and port not blocked; the join agrees', async () => {
    const probe = (port: number) => `nc -z -w 3 ${ip('k8s-1')} ${port}`;
    // 19001 is refused: a lone node's dqlite listens on 127.0.0.1 until the first join moves it (reference §2).
    const open = await execEach(lab(), 'k8s-2', [probe(25000), probe(19001), probe(16443), `nc -w 3 -z ${ip('k8s-1')} 25000`, probe(12345), 'nc -z -w 3 127.0.99.99 25000']);
    expect(open.map((r) => [r.code, r.stdout, r.stderr])).toEqual([[0, '', ''], [1, '', ''], [0, '', ''], [0, '', ''], [1, '', ''], [1, '', '']]);

    await lab().fault('k8s-1', 'block-port', { port: 25000 });
    const tok = await addNode('--token-ttl 600');
    const blocked = await execEach(lab(), 'k8s-2', [probe(25000), probe(16443), `${mk('k8s-2')} join ${ip('k8s-1')}:25000/${tok}`]);
    expect(blocked.map((r) => r.code)).toEqual([1, 0, 1]);
    expect(blocked[2].stderr).toMatch(/^Traceback \(most recent call last\):\n[\s\S]*\nTimeoutError: \[Errno 110\] Connection timed out\n$/);
    const ncRuns = lab().journal().filter((e) => e.argv?.[0] === 'nc' && e.node === 'k8s-2');
    expect(ncRuns.slice(-2).map((e) => [e.argv!.slice(-1)[0], e.exit])).toEqual([['25000', 1], ['16443', 0]]);

    expect((await sh('k8s-1', `${mk('k8s-1')} stop`)).code).toBe(0);
    const stopped = await execEach(lab(), 'k8s-2', [probe(25000), probe(16443)]);
    expect(stopped.map((r) => r.code)).toEqual([1, 1]);
    expect((await sh('k8s-1', `${mk('k8s-1')} start`)).code).toBe(0);
    await lab().heal('k8s-1');
    await waitFor('16443 open again', async () => (await sh('k8s-2', probe(16443))).code === 0);
    expect((await sh('k8s-2', probe(25000))).code).toBe(0);
    // Anything but `-z -w N HOST PORT` is the real nc (absent here: exit 127 like a missing command).
    const other = await sh('k8s-2', 'nc -h');
    const realNc = ['/usr/bin/nc', '/bin/nc', '/usr/bin/netcat', '/bin/netcat'].some((f) => fs.existsSync(f));
    if (realNc) expect(other.code).not.toBe(127);
    else expect([other.code, other.stderr]).toEqual([127, 'nc: command not found\n']);
    expect(lab().journal().some((e) => e.argv?.[0] === 'nc' && e.argv.includes('-h'))).toBe(false);
  });

  it('burn-next-token: the next join burns its token (even a TTL one) and fails with Invalid token', async () => {
    await lab().fault('k8s-2', 'burn-next-token');
    const tok = await addNode('--token-ttl 600');
    const r = await join('k8s-2', tok);
    expect([r.code, r.stdout]).toEqual([6, `Contacting cluster at ${ip('k8s-1')}\nConnection failed. Invalid token (500).\n`]);
    const tokens = await sh('k8s-1', `cat ${nodePaths(lab().inventory.nodes[0]).snapData}/credentials/cluster-tokens.txt`);
    expect(tokens.stdout).not.toContain(tok.split('/')[0]);
    expect(lab().rawState().nodes['k8s-2'].faults.burnNextToken).toBeUndefined();
    expect(lab().journal().some((e) => e.event === 'token-burnt' && e.fault === 'burn-next-token')).toBe(true);
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
    // The first join moved k8s-1's dqlite to its IP: 19001 answers there now.
    expect((await sh('k8s-2', `nc -z -w 3 ${ip('k8s-1')} 19001`)).code).toBe(0);
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

  it('stale-member: the entry lingers in .cluster and refuses the join until remove-node <ip> --force; heal clears it too', async () => {
    const dq = nodePaths(lab().inventory.nodes[0]);
    const cluster = async () => (await sh('k8s-1', `sudo -n ${dq.dqlite} -s file://${dq.clusterYaml} k8s .cluster`)).stdout;
    await lab().fault('k8s-3', 'stale-member');
    expect(await cluster()).toMatch(new RegExp(`\\|${ip('k8s-3').replace(/\./g, '\\.')}:19001\\|spare`));
    const refused = await join('k8s-3', await addNode());
    expect([refused.code, refused.stdout]).toEqual([6, `Contacting cluster at ${ip('k8s-1')}\nConnection failed. Failed to retrieve dqlite cluster nodes: the joining node (${ip('k8s-3')}) is already known to dqlite (500).\n`]);
    const removed = await sh('k8s-1', `${mk('k8s-1')} remove-node ${ip('k8s-3')} --force`);
    expect([removed.code, removed.stdout]).toEqual([1, `Node ${ip('k8s-3')} does not exist in Kubernetes.\nAttempting to remove ${ip('k8s-3')} from dqlite.\nRemoving node entry found in dqlite.\n`]);
    expect(await cluster()).not.toContain(`${ip('k8s-3')}:19001`);

    await lab().fault('k8s-3', 'stale-member');
    expect(await cluster()).toContain(`${ip('k8s-3')}:19001`);
    await lab().heal('k8s-3');
    expect(await cluster()).not.toContain(`${ip('k8s-3')}:19001`);
    expect((await join('k8s-3', await addNode())).code).toBe(0);
  });

  it('lab fault on the command line: block-port needs --port (exit 2, naming it); heal clears it', async () => {
    const cli = (...args: string[]) =>
      promisify(execFile)(process.execPath, [path.resolve(__dirname, '../../dist/lab/main.js'), 'lab', ...args, '--name', lab().name, '--state-dir', path.dirname(path.dirname(lab().dir))]).then(
        (r) => ({ code: 0, ...r }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
    const bad = await cli('fault', 'k8s-2', 'block-port');
    expect([bad.code, bad.stderr]).toEqual([2, expect.stringMatching(/^error: --port: block-port needs the TCP port to block/)]);
    expect((await cli('fault', 'k8s-2', 'block-port', '--port', '16443')).code).toBe(0);
    expect(lab().rawState().nodes['k8s-2'].faults.blockedPorts).toEqual([16443]);
    expect((await sh('k8s-1', `nc -z -w 3 ${ip('k8s-2')} 16443`)).code).toBe(1);
    expect((await cli('heal', 'k8s-2')).code).toBe(0);
    expect((await sh('k8s-1', `nc -z -w 3 ${ip('k8s-2')} 16443`)).code).toBe(0);
  });
});
