import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { resolveInventory } from '../../common/inventory';
import { addNodeCommand, classifyJoin, classifyLeave, classifyRemoveNode, joinCommand, joinUrlFromAddNode, joinStateCommand, parseUnconvergedJoin, removeNodeCommand } from '../../activities/microk8s/join';
import { parseHaConf } from '../../activities/microk8s/ha-conf';
import { classifyPortProbe, portProbeCommand, devTcpProbeCommand } from '../../activities/microk8s/ports';
import { expectedVoters } from '../../activities/cluster-reads';
import { quorumGuard } from '../../activities/remove-node';
import type { DqliteMember } from '../../common/dqlite';

const inv = resolveInventory({
  cluster: 'c1',
  nodes: [
    { name: 'k8s-1', address: '10.0.0.1' },
    { name: 'k8s-2', address: '10.0.0.2', role: 'worker' },
  ],
});
const [primary, worker] = inv.nodes;
const TOKEN = '92b2db237428470dc4fcfc4ebbd9dc81';

describe('add-node and join builders', () => {
  test('add-node passes our own token with a TTL and asks for JSON', () => {
    expect(addNodeCommand(primary, TOKEN, 300)).toBe(
      `/snap/bin/microk8s add-node --token ${TOKEN} --token-ttl 300 --format json`,
    );
  });

  test('add-node refuses a token that is not 32 hex characters (it would reach a shell)', () => {
    expect(() => addNodeCommand(primary, "abc'; rm -rf /", 60)).toThrow(/32 lowercase hex/);
    expect(() => addNodeCommand(primary, 'a'.repeat(31), 60)).toThrow();
  });

  test('the join URL on the primary inventory address wins over hostname -I order', () => {
    const out = JSON.stringify({
      token: `${TOKEN}/2c0cb3284b05`,
      urls: [`172.17.0.1:25000/${TOKEN}/2c0cb3284b05`, `10.0.0.1:25000/${TOKEN}/2c0cb3284b05`],
    });
    expect(joinUrlFromAddNode(out, primary, TOKEN)).toBe(`10.0.0.1:25000/${TOKEN}/2c0cb3284b05`);
  });

  test('without a URL on the inventory address the join string is built from the check', () => {
    const out = JSON.stringify({ token: `${TOKEN}/2c0cb3284b05`, urls: [`172.17.0.1:25000/${TOKEN}/2c0cb3284b05`] });
    expect(joinUrlFromAddNode(out, primary, TOKEN)).toBe(`10.0.0.1:25000/${TOKEN}/2c0cb3284b05`);
    expect(() => joinUrlFromAddNode('not json', primary, TOKEN)).toThrow(/not JSON/);
  });

  test('a worker joins with --worker, a control plane without --controlplane (broken flag)', () => {
    expect(joinCommand(worker, `10.0.0.1:25000/${TOKEN}/abc`, true)).toMatch(/ join \S+ --worker$/);
    expect(joinCommand(primary, `10.0.0.1:25000/${TOKEN}/abc`, false)).not.toMatch(/--controlplane|--worker/);
  });

  test('remove-node quotes the target and adds --force only when asked', () => {
    expect(removeNodeCommand(primary, 'k8s-2', false)).toBe('/snap/bin/microk8s remove-node k8s-2');
    expect(removeNodeCommand(primary, '10.0.0.2', true)).toBe('/snap/bin/microk8s remove-node 10.0.0.2 --force');
  });

  test('the port probe is nc -z -w, or bash /dev/tcp under timeout, and only takes an IPv4 literal and a port', () => {
    expect(portProbeCommand('10.0.0.1', 25000)).toBe('nc -z -w 3 10.0.0.1 25000');
    expect(devTcpProbeCommand('10.0.0.1', 19001, 5)).toBe("timeout 5 bash -c ': </dev/tcp/10.0.0.1/19001' 2>/dev/null");
    for (const probe of [portProbeCommand, devTcpProbeCommand]) {
      expect(() => probe('10.0.0.1; reboot', 25000)).toThrow();
      expect(() => probe('10.0.0.1', 70000)).toThrow();
      expect(() => probe('10.0.0.1', 25000, 0)).toThrow();
    }
  });

  test('the /dev/tcp probe judges a real port; without bash or timeout it exits 127', async () => {
    const server = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const open = (server.address() as net.AddressInfo).port;
    const closed = await new Promise<number>((r) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => r(p));
      });
    });
    // A PATH with bash and timeout but no nc: a directory of links to just what the probe needs.
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'probe-'));
    for (const tool of ['bash', 'timeout']) fs.symlinkSync(execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim(), path.join(bin, tool));
    const run = (line: string, PATH: string) => spawnSync('/bin/sh', ['-c', line], { env: { PATH }, encoding: 'utf8' });
    try {
      const a = run(devTcpProbeCommand('127.0.0.1', open, 2), bin);
      const b = run(devTcpProbeCommand('127.0.0.1', closed, 2), bin);
      const none = run(devTcpProbeCommand('127.0.0.1', open, 2), path.join(bin, 'nothing'));
      const noNc = run(portProbeCommand('127.0.0.1', open, 2), bin);
      expect([a.status, b.status, none.status, noNc.status]).toEqual([0, 1, 127, 127]);
      expect([a, b, none, noNc].map((r) => classifyPortProbe(r.status, r.stderr))).toEqual(['open', 'closed', 'no-probe', 'no-probe']);
    } finally {
      server.close();
      fs.rmSync(bin, { recursive: true, force: true });
    }
  });

  test('the probe verdict: 0 open, 127 or "not found" means no probe (not a closed port), else closed', () => {
    expect(classifyPortProbe(0, '')).toBe('open');
    expect(classifyPortProbe(1, '')).toBe('closed');
    expect(classifyPortProbe(127, '')).toBe('no-probe');
    expect(classifyPortProbe(1, 'sh: 1: nc: not found\n')).toBe('no-probe');
    expect(classifyPortProbe(null, '')).toBe('closed');
  });

  test('a join that did not converge: init.yaml without info.yaml', () => {
    expect(joinStateCommand(primary)).toMatch(/^ls -1 -- \S+\/backend\/init\.yaml \S+\/backend\/info\.yaml 2>\/dev\/null$/);
    expect(parseUnconvergedJoin('/var/snap/microk8s/current/var/kubernetes/backend/init.yaml\n')).toBe(true);
    expect(parseUnconvergedJoin('/x/backend/init.yaml\n/x/backend/info.yaml\n')).toBe(false);
    expect(parseUnconvergedJoin('/x/backend/info.yaml\n')).toBe(false);
    expect(parseUnconvergedJoin('')).toBe(false);
  });
});

describe('join outcomes (behaviour reference §2, §9)', () => {
  test.each([
    [0, 'Contacting cluster at 10.0.0.1\nWaiting for this node to finish joining the cluster. .. .. ..\nSuccessfully joined the cluster.\n', '', 'joined'],
    [6, 'Connection failed. Invalid token (500).\n', '', 'invalid-token'],
    [4, "Joining cluster failed. Could not verify the identity of 10.0.0.1. Use '--skip-verify' to skip server certificate check.\n", '', 'fingerprint-mismatch'],
    [6, 'Connection failed. The joining node (10.100.5.102) is already known to dqlite (504).\n', '', 'already-known'],
    [6, 'Connection failed. Failed to retrieve dqlite cluster nodes: the joining node (10.0.0.2) is already known to dqlite (500).\n', '', 'already-known'],
    [6, 'Connection failed. The hostname (node2) of the joining node does not resolve to the IP "10.0.0.2". Refusing join (400).\n', '', 'hostname-refused'],
    [6, 'Connection failed. The joining node has the same IP (10.0.0.1) as the node we contact (503).\n', '', 'self-join'],
    [1, '', 'Traceback (most recent call last):\n  File "/snap/microk8s/x/scripts/wrappers/join.py"\nTimeoutError: [Errno 110] Connection timed out\n', 'unreachable'],
    [1, '', 'Traceback (most recent call last):\nConnectionRefusedError: [Errno 111] Connection refused\n', 'unreachable'],
    [6, 'Connection failed. Not possible to join. This is not an HA MicroK8s cluster (501).\n', '', 'not-ha'],
    [1, 'Something else went wrong\n', '', 'failed'],
  ])('exit %i %j %j → %s', (exit, stdout, stderr, outcome) => {
    expect(classifyJoin(exit, stdout, stderr)).toBe(outcome);
  });
});

describe('leave and remove-node outcomes (§4)', () => {
  test('leave on the only voter is refused', () => {
    const out =
      'This node currently holds the only copy of the Kubernetes database so it cannot leave the cluster.\n' +
      "To remove this node you can either first remove all other nodes with 'microk8s remove-node' or\n";
    expect(classifyLeave(3, out, '')).toBe('only-voter');
    expect(classifyLeave(1, 'This MicroK8s deployment is not acting as a node in a cluster.\n', '')).toBe('not-clustered');
    expect(classifyLeave(0, 'Generating new cluster certificates.\nWaiting for node to start. \n', '')).toBe('left');
  });

  test('remove-node --force of a node Kubernetes does not know exits 1 but is not a failure to retry', () => {
    expect(
      classifyRemoveNode(
        1,
        'Node k8s-3 does not exist in Kubernetes.\nAttempting to remove k8s-3 from dqlite.\nRemoving node entry found in dqlite.\n',
        'Error from server (NotFound): nodes "k8s-3" not found\n',
      ),
    ).toBe('unknown-to-kubernetes');
    expect(
      classifyRemoveNode(1, "Removal failed. Node k8s-3 is registered with dqlite. Please, run first 'microk8s leave' on the departing node. \n", ''),
    ).toBe('registered-with-dqlite');
    expect(classifyRemoveNode(0, '', '')).toBe('removed');
  });
});

describe('small readers', () => {
  test('ha-conf failure domain', () => {
    expect(parseHaConf('failure-domain=42\n')).toBe(42);
    expect(parseHaConf('# comment\nfailure-domain = 7\n')).toBe(7);
    expect(parseHaConf('')).toBeUndefined();
  });

  test('expected voters: one below three members, three from three on (§2)', () => {
    expect([1, 2, 3, 4, 7].map(expectedVoters)).toEqual([1, 1, 3, 3, 3]);
  });
});

describe('remove-node quorum guard', () => {
  const cps = resolveInventory({
    cluster: 'q',
    nodes: [1, 2, 3, 4].map((i) => ({ name: `k8s-${i}`, address: `10.0.0.${i}` })),
  });
  const member = (i: number, role: DqliteMember['role']): DqliteMember => ({ id: String(i), address: `10.0.0.${i}:19001`, role });
  const up = (...names: string[]) => new Map(cps.nodes.map((n) => [n.name, names.includes(n.name)]));

  test('removing one of 4 control planes keeps HA: allowed', () => {
    const members = [member(1, 'voter'), member(2, 'voter'), member(3, 'voter'), member(4, 'stand-by')];
    expect(quorumGuard(cps.nodes[3], members, cps, up('k8s-1', 'k8s-2', 'k8s-3', 'k8s-4'))).toBeUndefined();
  });

  test('removing one of 3 control planes ends HA: asks, and says to add one first', () => {
    const members = [member(1, 'voter'), member(2, 'voter'), member(3, 'voter')];
    expect(quorumGuard(cps.nodes[2], members, cps, up('k8s-1', 'k8s-2', 'k8s-3'))).toMatch(/leaves 2 control-plane node\(s\).*Add a control-plane node first/);
  });

  test('a voter removal with another voter down would lose quorum: points to recover-quorum', () => {
    const members = [member(1, 'voter'), member(2, 'voter'), member(3, 'voter'), member(4, 'stand-by')];
    expect(quorumGuard(cps.nodes[2], members, cps, up('k8s-1', 'k8s-4'))).toMatch(/leaves 1 reachable voter\(s\) of 3, below the quorum of 2.*recover-quorum/);
  });

  test('the only voter of a 2-node cluster cannot go', () => {
    const members = [member(1, 'voter'), member(2, 'spare')];
    expect(quorumGuard(cps.nodes[0], members, cps, up('k8s-1', 'k8s-2'))).toMatch(/leaves 0 reachable voter\(s\) of 1/);
  });
});
