/**
 * Fidelity of the membership commands against the behaviour reference (§1 add-node, §2 join, §3 status,
 * §4 remove-node), over real SSH on an unformed lab (3 control planes + 1 worker, fast profile).
 * Needs dist/ (built automatically by test/support/lab.ts, or run `npm run build`).
 */
import { nodePaths } from '../../common/inventory';
import { execEach, useLab, waitFor } from '../support/lab';

const lab = useLab({ controlPlanes: 3, workers: 1 });
const sh = (node: string, cmd: string) => lab().exec(node, cmd);
const ip = (node: string) => lab().nodes.find((n) => n.name === node)!.address;
const mk = (node: string) => `sudo -n ${nodePaths(lab().inventory.nodes.find((n) => n.name === node)!).microk8s}`;
const HEX32 = '[0-9a-f]{32}';
const CHECK = '[0-9a-f]{12}';

async function token(node = 'k8s-1', extra = ''): Promise<string> {
  const r = await sh(node, `${mk(node)} add-node --format token-check ${extra}`);
  expect(r.code).toBe(0);
  return r.stdout.trim();
}

const ADDONS_PRETTY = [
  'addons:',
  '  enabled:',
  '    dns                  # (core) CoreDNS',
  '    ha-cluster           # (core) Configure high availability on the current node',
  '    helm                 # (core) Helm - the package manager for Kubernetes',
  '    helm3                # (core) Helm 3 - the package manager for Kubernetes',
  '  disabled:',
  '    cert-manager         # (core) Cloud native certificate management',
];
const INSPECT_TAIL = [
  '  Copy service arguments to the final report tarball',
  'Inspecting AppArmor configuration',
  'Gathering system information',
  '  Copy processes list to the final report tarball',
  '  Copy disk usage information to the final report tarball',
  '  Copy memory usage information to the final report tarball',
  '  Copy server uptime to the final report tarball',
  '  Copy openSSL information to the final report tarball',
  '  Copy snap list to the final report tarball',
  '  Copy VM name (or none) to the final report tarball',
  '  Copy current linux distribution to the final report tarball',
  '  Copy asnycio usage and limits to the final report tarball',
  '  Copy inotify max_user_instances and max_user_watches to the final report tarball',
  '  Copy network configuration to the final report tarball',
  'Inspecting kubernetes cluster',
  '  Inspect kubernetes cluster',
  'Inspecting dqlite',
  '  Inspect dqlite',
  '',
  'Building the report tarball',
];

describe('lab membership commands (fidelity)', () => {
  it('a lone node (as after snap install): status pretty/short/--addon, version, inspect, leave refused', async () => {
    const m = mk('k8s-3');
    const [pretty, short, addon, version, inspect, leave] = await execEach(lab(), 'k8s-3', [
      `${m} status --wait-ready`,
      `${m} status --format short`,
      `${m} status -a ha-cluster`,
      `${m} version`,
      `${m} inspect`,
      `${m} leave`,
    ]);
    expect(pretty.code).toBe(0);
    expect(pretty.stdout.split('\n').slice(0, 12)).toEqual([
      'microk8s is running',
      'high-availability: no',
      '  datastore master nodes: 127.0.0.1:19001',
      '  datastore standby nodes: none',
      ...ADDONS_PRETTY,
    ]);
    expect([short.code, short.stdout.split('\n').slice(0, 3)]).toEqual([0, ['microk8s is running', 'addons:', 'core/dns: enabled']]);
    expect([addon.code, addon.stdout]).toEqual([0, 'enabled\n']);
    expect(version.stdout).toMatch(/^MicroK8s v1\.28\.\d+ revision \d+\n$/);
    const rev = /revision (\d+)/.exec(version.stdout)![1];
    const lines = inspect.stdout.trimEnd().split('\n');
    expect(inspect.code).toBe(0);
    expect(lines.slice(0, -1)).toEqual([
      'Inspecting system',
      'Inspecting Certificates',
      'Inspecting services',
      ...['cluster-agent', 'containerd', 'kubelite', 'k8s-dqlite', 'apiserver-kicker'].map((x) => `  Service snap.microk8s.daemon-${x} is running`),
      ...INSPECT_TAIL,
    ]);
    expect(lines[lines.length - 1]).toMatch(new RegExp(`^  Report tarball is at /var/snap/microk8s/${rev}/inspection-report-\\d{8}_\\d{6}\\.tar\\.gz$`));
    expect([leave.code, leave.stdout]).toEqual([1, 'This MicroK8s deployment is not acting as a node in a cluster.\n']);
  });

  it('add-node pretty prints the join commands with the --worker paragraph (HA lock present)', async () => {
    const r = await sh('k8s-1', `${mk('k8s-1')} add-node`);
    expect(r.code).toBe(0);
    const url = `${ip('k8s-1').replace(/\./g, '\\.')}:25000/${HEX32}/${CHECK}`;
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('From the node you wish to join to this cluster, run the following:');
    expect(lines[1]).toMatch(new RegExp(`^microk8s join ${url}$`));
    expect(lines[2]).toBe('');
    expect(lines[3]).toBe("Use the '--worker' flag to join a node as a worker not running the control plane, eg:");
    expect(lines[4]).toMatch(new RegExp(`^microk8s join ${url} --worker$`));
    expect(lines[6]).toBe('If the node you are adding is not reachable through the default interface you can use one of the following:');
    expect(lines[7]).toBe(lines[1]);
    expect(lines[8]).toMatch(/^microk8s join 172\.17\.0\.1:25000\//);
  });

  it('add-node token, token-check, short, json and yaml formats', async () => {
    expect((await sh('k8s-1', `${mk('k8s-1')} add-node --format token`)).stdout).toMatch(new RegExp(`^${HEX32}\\n$`));
    expect(await token()).toMatch(new RegExp(`^${HEX32}/${CHECK}$`));
    const short = (await sh('k8s-1', `${mk('k8s-1')} add-node --format short`)).stdout.trim().split('\n');
    expect(short).toHaveLength(2);
    expect(short[0]).toMatch(new RegExp(`^microk8s join ${ip('k8s-1')}:25000/${HEX32}/${CHECK}$`));
    expect(short[1]).toMatch(new RegExp(`^microk8s join 172\\.17\\.0\\.1:25000/${HEX32}/${CHECK}$`));
    const jsonText = (await sh('k8s-1', `${mk('k8s-1')} add-node --format json`)).stdout;
    const json = JSON.parse(jsonText);
    expect(json.token).toMatch(new RegExp(`^${HEX32}/${CHECK}$`));
    expect(jsonText).toBe(`{\n  "token": "${json.token}",\n  "urls": [\n    "${ip('k8s-1')}:25000/${json.token}",\n    "172.17.0.1:25000/${json.token}"\n  ]\n}\n`);
    const yaml = (await sh('k8s-1', `${mk('k8s-1')} add-node --format yaml`)).stdout;
    expect(yaml).toMatch(new RegExp(`^token: ${HEX32}/${CHECK}\\nurls:\\n- ${ip('k8s-1')}:25000/${HEX32}/${CHECK}\\n- 172.17.0.1:25000/.*\\n\\n$`));
  });

  it('add-node rejects a short --token (exit 1) and an invalid --format (argparse, exit 2)', async () => {
    const short = await sh('k8s-1', `${mk('k8s-1')} add-node --token abc`);
    expect(short.code).toBe(1);
    expect(short.stdout).toBe('Invalid token size.  It must be 32 characters long.\n');
    const bad = await sh('k8s-1', `${mk('k8s-1')} add-node --format xml`);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("microk8s add-node: error: argument --format: invalid choice: 'xml'");
  });

  it('join validates the connection string', async () => {
    const cases: Array<[string, string]> = [
      ['10.0.0.1/abc', 'Invalid connection: Expected format: <master_IP>:<master_PORT>/<token>[/<fingerprint>]'],
      [`k8s-1:25000/${'a'.repeat(32)}`, 'Invalid connection: Invalid master IP'],
      [`10.0.0.1:port/${'a'.repeat(32)}`, 'Invalid connection: Master PORT not a number'],
      ['10.0.0.1:25000/short', 'Invalid connection: Cluster token size should be at least 32 bytes'],
      [`10.0.0.1:25000/${'a'.repeat(32)}/abc`, 'Invalid connection: Fingerprint should be at least 12 bytes'],
      [`10.0.0.1:70000/${'a'.repeat(32)}`, 'Invalid connection: Master PORT not in range 1:65535'],
    ];
    const results = await execEach(lab(), 'k8s-2', cases.map(([conn]) => `${mk('k8s-2')} join ${conn}`));
    expect(results.map((r) => [r.code, r.stdout.trim()])).toEqual(cases.map(([, msg]) => [1, msg]));
  });

  it('join to a closed port: uncaught traceback ending in ConnectionRefusedError, exit 1, token kept', async () => {
    const tok = await token();
    const r = await sh('k8s-2', `${mk('k8s-2')} join ${ip('k8s-1')}:25001/${tok}`);
    expect([r.code, r.stdout]).toEqual([1, `Contacting cluster at ${ip('k8s-1')}\n`]);
    expect(r.stderr).toMatch(/^Traceback \(most recent call last\):\n[\s\S]*\nConnectionRefusedError: \[Errno 111\] Connection refused\n$/);
    const tokens = await sh('k8s-1', `cat ${nodePaths(lab().inventory.nodes[0]).snapData}/credentials/cluster-tokens.txt`);
    expect(tokens.stdout.split('\n')).toContain(tok.split('/')[0]);
  });

  it('join with a wrong fingerprint fails with exit 4 and does not burn the token', async () => {
    const [tok] = (await token()).split('/');
    const r = await sh('k8s-2', `${mk('k8s-2')} join ${ip('k8s-1')}:25000/${tok}/000000000000`);
    expect(r.code).toBe(4);
    expect(r.stdout).toBe(`Contacting cluster at ${ip('k8s-1')}\nJoining cluster failed. Could not verify the identity of ${ip('k8s-1')}. Use '--skip-verify' to skip server certificate check.\n`);
    const retry = await sh('k8s-2', `${mk('k8s-2')} join ${ip('k8s-1')}:25000/${tok} --skip-verify`);
    expect(retry.code).toBe(0);
  });

  it('a node cannot join itself (503) and an already-known node is refused (500)', async () => {
    const self = await sh('k8s-1', `${mk('k8s-1')} join ${ip('k8s-1')}:25000/${await token()}`);
    expect(self.code).toBe(6);
    expect(self.stdout).toContain(`Connection failed. The joining node has the same IP (${ip('k8s-1')}) as the node we contact (503).`);
    const again = await sh('k8s-2', `${mk('k8s-2')} join ${ip('k8s-1')}:25000/${await token()}`);
    expect(again.code).toBe(6);
    expect(again.stdout).toContain(`Connection failed. Failed to retrieve dqlite cluster nodes: the joining node (${ip('k8s-2')}) is already known to dqlite (500).`);
  });

  it('join --controlplane: the click flag trap fails after the token was burnt (exit 1), the retry is refused', async () => {
    const tok = await token();
    const [trap, retry] = await execEach(lab(), 'k8s-3', [`${mk('k8s-3')} join ${ip('k8s-1')}:25000/${tok} --controlplane`, `${mk('k8s-3')} join ${ip('k8s-1')}:25000/${tok}`]);
    expect([trap.code, trap.stdout]).toEqual([1, `Contacting cluster at ${ip('k8s-1')}\nJoining process failed. Make sure the cluster you connect to supports joining worker nodes.\n`]);
    expect([retry.code, retry.stdout]).toEqual([6, `Contacting cluster at ${ip('k8s-1')}\nConnection failed. Invalid token (500).\n`]);
  });

  it('control-plane and worker joins print the reference texts and exit 0', async () => {
    const cp = await sh('k8s-3', `${mk('k8s-3')} join ${ip('k8s-1')}:25000/${await token()}`);
    expect(cp.code).toBe(0);
    expect(cp.stdout).toMatch(new RegExp(`^Contacting cluster at ${ip('k8s-1')}\\nWaiting for this node to finish joining the cluster\\. (\\.\\. )+\\nSuccessfully joined the cluster\\.\\n$`));
    const w = await sh('k8s-w1', `${mk('k8s-w1')} join ${ip('k8s-1')}:25000/${await token()} --worker`);
    expect(w.code).toBe(0);
    expect(w.stdout).toBe(
      `Contacting cluster at ${ip('k8s-1')}\n\nThe node has joined the cluster and will appear in the nodes list in a few seconds.\n\n` +
        'This worker node gets automatically configured with the API server endpoints.\n' +
        "If the API servers are behind a loadbalancer please set the '--refresh-interval' to '0s' in:\n" +
        '    /var/snap/microk8s/current/args/apiserver-proxy\nand replace the API server endpoints with the one provided by the loadbalancer in:\n' +
        '    /var/snap/microk8s/current/args/traefik/provider.yaml\n\nSuccessfully joined the cluster.\n',
    );
  });

  it('status: HA pretty and yaml on a control plane; a worker refers to the control plane (exit 0)', async () => {
    await waitFor('3 voters', async () => (await lab().status()).cluster.voters.length === 3);
    const pretty = await sh('k8s-2', `${mk('k8s-2')} status`);
    expect(pretty.code).toBe(0);
    const masters = ['k8s-1', 'k8s-2', 'k8s-3'].map((n) => `${ip(n)}:19001`).join(' ');
    expect(pretty.stdout.split('\n').slice(0, 6)).toEqual([
      'microk8s is running',
      'high-availability: yes',
      `  datastore master nodes: ${masters}`,
      '  datastore standby nodes: none',
      'addons:',
      '  enabled:',
    ]);
    expect(pretty.stdout).toContain('    dns                  # (core) CoreDNS\n');
    const yaml = await sh('k8s-1', `${mk('k8s-1')} status --format yaml`);
    expect(yaml.stdout).toContain(`microk8s:\n  running: True\nhigh-availability:\n  enabled: True\n  nodes:\n    - address: ${ip('k8s-1')}:19001\n      role: voter\n`);
    const worker = await sh('k8s-w1', `${mk('k8s-w1')} status`);
    expect([worker.code, worker.stdout]).toEqual([0, 'This MicroK8s deployment is acting as a node in a cluster.\nPlease use the control plane node.\n']);
    const stop = await sh('k8s-w1', `${mk('k8s-w1')} stop`);
    expect([stop.code, stop.stdout]).toEqual([0, "This MicroK8s deployment is acting as a node in a cluster.\nUse 'snap stop microk8s' to stop services on this node.\n"]);
    const add = await sh('k8s-w1', `${mk('k8s-w1')} add-node`);
    expect([add.code, add.stdout]).toEqual([1, 'This MicroK8s deployment is acting as a node in a cluster. Please use the microk8s add-node on the master.\n']);
  });

  it('kubectl get nodes shows every node Ready with the version', async () => {
    const r = await sh('k8s-1', `${mk('k8s-1')} kubectl get nodes`);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 3).join(' '))).toEqual(['k8s-1 Ready <none>', 'k8s-2 Ready <none>', 'k8s-3 Ready <none>', 'k8s-w1 Ready <none>']);
    const json = JSON.parse((await sh('k8s-1', `${mk('k8s-1')} kubectl get nodes -o json`)).stdout);
    const w1 = json.items.find((i: { metadata: { name: string } }) => i.metadata.name === 'k8s-w1');
    expect(w1.metadata.labels['node.kubernetes.io/microk8s-worker']).toBe('microk8s-worker');
    expect(w1.status.addresses).toContainEqual({ address: ip('k8s-w1'), type: 'InternalIP' });
    expect(w1.status.nodeInfo.kubeletVersion).toMatch(/^v1\.28\.\d+$/);
  });

  it('remove-node: every row of the behaviour table', async () => {
    const run = (args: string, node = 'k8s-1') => sh(node, `${mk(node)} remove-node ${args}`);
    expect((await run('')).stdout).toBe('Please provide the node you want to remove.\n');
    expect((await run('k8s-3 now')).stdout).toBe('Please provide the node and the optional --force flag.\n');
    expect((await run('k8s-1', 'k8s-w1')).stdout).toBe('This MicroK8s deployment is acting as a node in a cluster. Please use microk8s leave.\n');
    const member = await run('k8s-3');
    expect(member.code).toBe(1);
    expect(member.stdout).toBe(
      "Removal failed. Node k8s-3 is registered with dqlite. Please, run first 'microk8s leave' on the departing node. \n" +
        "If the node is not available anymore and will never attempt to join the cluster in the future use the '--force' flag \n" +
        'to unregister the node while removing it.\n',
    );
    const unknown = await run('ghost');
    expect([unknown.code, unknown.stdout, unknown.stderr]).toEqual([1, 'Node ghost does not exist in Kubernetes.\n', 'Error from server (NotFound): nodes "ghost" not found\n']);
    const unknownForce = await run('ghost --force');
    expect([unknownForce.code, unknownForce.stdout]).toEqual([1, 'Node ghost does not exist in Kubernetes.\nAttempting to remove ghost from dqlite.\n']);
    const worker = await run('k8s-w1');
    expect([worker.code, worker.stdout, worker.stderr]).toEqual([0, '', '']);
    const forced = await run(`${ip('k8s-3')} --force`);
    expect([forced.code, forced.stdout]).toEqual([0, '']);
    // Two members left: after the rebalance delay the leader keeps exactly one voter (reference §2).
    const st = await waitFor('one voter of two members', async () => {
      const s = await lab().status();
      return s.cluster.voters.length === 1 && s.cluster.spares.length === 1 ? s : undefined;
    });
    expect(st.cluster).toMatchObject({ voters: ['k8s-1'], spares: ['k8s-2'], ha: false });
    expect(lab().journal().filter((e) => e.event === 'removed').map((e) => e.node)).toEqual(['k8s-w1', 'k8s-3']);
  });

  it('leave: the only voter refuses (exit 3); a worker leaves with its own texts', async () => {
    const only = await sh('k8s-1', `${mk('k8s-1')} leave`);
    expect([only.code, only.stdout]).toEqual([
      3,
      'This node currently holds the only copy of the Kubernetes database so it cannot leave the cluster.\n' +
        "To remove this node you can either first remove all other nodes with 'microk8s remove-node' or\n" +
        'form a highly available cluster by adding at least three nodes.\n',
    ]);
    const worker = await sh('k8s-w1', `${mk('k8s-w1')} leave`);
    expect(worker.code).toBe(0);
    expect(worker.stdout).toMatch(/^Configuring services\.\nGenerating new cluster certificates\.\nWaiting for node to start\. (\. )*\n$/);
  });

  it('a stopped node: status exits 0 with the stopped text, kubectl and add-node refuse, inspect FAILs, start is silent', async () => {
    const m = mk('k8s-2');
    const [stop, status, kubectl, add, inspect, start] = await execEach(lab(), 'k8s-2', [
      `${m} stop`,
      `${m} status`,
      `${m} kubectl get nodes`,
      `${m} add-node`,
      `${m} inspect`,
      `${m} start`,
    ]);
    expect([stop.code, stop.stdout]).toEqual([0, 'Stopped.\nStopped.\n']);
    expect([status.code, status.stdout]).toEqual([0, 'microk8s is not running, try microk8s start\n']);
    expect([kubectl.code, kubectl.stderr]).toEqual([1, 'microk8s is not running, try microk8s start\n']);
    expect([add.code, add.stdout]).toEqual([1, 'microk8s is not running, try microk8s start\n']);
    expect(inspect.code).toBe(1);
    expect(inspect.stdout).toContain(
      '\x1b[31m FAIL: \x1b[0m Service snap.microk8s.daemon-kubelite is not running\nFor more details look at: sudo journalctl -u snap.microk8s.daemon-kubelite\n',
    );
    expect([start.code, start.stdout, start.stderr]).toEqual([0, '', '']);
  });
});
