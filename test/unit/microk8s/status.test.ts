import { parseStatus, statusCommand } from '../../../activities/microk8s/status';
import { node } from './node-fixture';

describe('statusCommand', () => {
  test('full path, yaml by default', () => {
    expect(statusCommand(node)).toBe('/snap/bin/microk8s status --format yaml');
  });
  test('wait-ready always carries a timeout', () => {
    expect(statusCommand(node, { format: 'pretty', waitReady: true, timeoutS: 60 })).toBe(
      '/snap/bin/microk8s status --format pretty --wait-ready --timeout 60',
    );
    expect(() => statusCommand(node, { waitReady: true })).toThrow(/^timeoutS: required with waitReady/);
    expect(() => statusCommand(node, { waitReady: true, timeoutS: 0 })).toThrow(/^timeoutS: 0 must be a positive/);
  });
});

describe('parseStatus: pretty', () => {
  test('single node (real sample)', () => {
    const stdout = `microk8s is running
high-availability: no
  datastore master nodes: 127.0.0.1:19001
  datastore standby nodes: none
addons:
  enabled:
    dns                  # (core) CoreDNS
    ha-cluster           # (core) Configure high availability on the current node
    helm                 # (core) Helm - the package manager for Kubernetes
    helm3                # (core) Helm 3 - the package manager for Kubernetes
  disabled:
    cert-manager         # (core) Cloud native certificate management
`;
    const st = parseStatus(stdout, 0);
    expect(st).toMatchObject({ running: true, ha: false, voters: ['127.0.0.1:19001'], standbys: [] });
    expect(st.notRunningReason).toBeUndefined();
    expect(st.nodes).toEqual([{ address: '127.0.0.1:19001', role: 'voter' }]);
    expect(st.addons).toEqual([
      { name: 'dns', repository: 'core', status: 'enabled', description: 'CoreDNS' },
      { name: 'ha-cluster', repository: 'core', status: 'enabled', description: 'Configure high availability on the current node' },
      { name: 'helm', repository: 'core', status: 'enabled', description: 'Helm - the package manager for Kubernetes' },
      { name: 'helm3', repository: 'core', status: 'enabled', description: 'Helm 3 - the package manager for Kubernetes' },
      { name: 'cert-manager', repository: 'core', status: 'disabled', description: 'Cloud native certificate management' },
    ]);
  });
  test('HA cluster with stand-bys', () => {
    const stdout =
      'microk8s is running\nhigh-availability: yes\n  datastore master nodes: 10.0.0.1:19001 10.0.0.2:19001 10.0.0.3:19001\n  datastore standby nodes: 10.0.0.4:19001 10.0.0.5:19001\naddons:\n  enabled:\n  disabled:\n';
    const st = parseStatus(stdout, 0);
    expect(st).toMatchObject({
      running: true,
      ha: true,
      voters: ['10.0.0.1:19001', '10.0.0.2:19001', '10.0.0.3:19001'],
      standbys: ['10.0.0.4:19001', '10.0.0.5:19001'],
      addons: [],
    });
    expect(st.nodes).toHaveLength(5);
  });
  test('broken dqlite reports none (#2190)', () => {
    const st = parseStatus('microk8s is running\nhigh-availability: no\n  datastore master nodes: none\n  datastore standby nodes: none\n', 0);
    expect(st).toMatchObject({ running: true, ha: false, voters: [], standbys: [], nodes: [] });
  });
  test('not ready: exit 1', () => {
    const st = parseStatus('microk8s is not running. Use microk8s inspect for a deeper inspection.\n', 1);
    expect(st).toMatchObject({ running: false, notRunningReason: 'not-ready', ha: false, voters: [] });
    expect(st.message).toBe('microk8s is not running. Use microk8s inspect for a deeper inspection.');
  });
  test('dqlite CLI error mixed into the output (#2910) is skipped', () => {
    const stdout =
      'Error: open servers store: open /var/snap/microk8s/2948/var/kubernetes/backend/cluster.yaml: permission denied\nUsage:\n  dqlite -s <servers> <database> [command] [flags]\n\nmicrok8s is running\nhigh-availability: no\n  datastore master nodes: none\n  datastore standby nodes: none\n';
    expect(parseStatus(stdout, 0)).toMatchObject({ running: true, voters: [] });
  });
  test('--format short', () => {
    const st = parseStatus('microk8s is running\naddons:\ncore/dns: enabled\ncore/cert-manager: disabled\n', 0);
    expect(st.running).toBe(true);
    expect(st.addons).toEqual([
      { name: 'dns', repository: 'core', status: 'enabled' },
      { name: 'cert-manager', repository: 'core', status: 'disabled' },
    ]);
  });
});

describe('parseStatus: yaml', () => {
  test('running HA (reference sample, Python True)', () => {
    const stdout = `microk8s:
  running: True
high-availability:
  enabled: True
  nodes:
    - address: 10.0.0.1:19001
      role: voter
    - address: 10.0.0.2:19001
      role: voter
    - address: 10.0.0.4:19001
      role: standby
addons:
  - name: dns
    repository: core
    description: CoreDNS
    version: 1.x.y
    status: enabled
`;
    const st = parseStatus(stdout, 0);
    expect(st).toEqual({
      running: true,
      ha: true,
      voters: ['10.0.0.1:19001', '10.0.0.2:19001'],
      standbys: ['10.0.0.4:19001'],
      nodes: [
        { address: '10.0.0.1:19001', role: 'voter' },
        { address: '10.0.0.2:19001', role: 'voter' },
        { address: '10.0.0.4:19001', role: 'stand-by' },
      ],
      addons: [{ name: 'dns', repository: 'core', description: 'CoreDNS', status: 'enabled' }],
    });
  });
  test('not running: False, the HA block, then the message nested under it', () => {
    const stdout = `microk8s:
  running: False
high-availability:
  enabled: False
  nodes:
    - address: 127.0.0.1:19001
      role: voter
  message: microk8s is not running. Use microk8s inspect for a deeper inspection.
`;
    const st = parseStatus(stdout, 1);
    expect(st).toMatchObject({ running: false, notRunningReason: 'not-ready', ha: false, voters: ['127.0.0.1:19001'] });
    expect(st.message).toBe('microk8s is not running. Use microk8s inspect for a deeper inspection.');
  });
  test('no nodes, spare listed, keys in another order', () => {
    const stdout = 'microk8s:\n  running: True\nhigh-availability:\n  nodes:\n    - role: spare\n      address: 10.0.0.9:19001\n  enabled: False\n';
    expect(parseStatus(stdout, 0)).toMatchObject({ running: true, ha: false, voters: [], standbys: [], nodes: [{ address: '10.0.0.9:19001', role: 'spare' }] });
    expect(parseStatus('microk8s:\n  running: True\nhigh-availability:\n  enabled: False\n  nodes:\n', 0)).toMatchObject({ running: true, nodes: [] });
  });
});

describe('parseStatus: guards', () => {
  test('stopped node: exit 0 with a message on stdout', () => {
    const st = parseStatus('microk8s is not running, try microk8s start\n', 0);
    expect(st).toMatchObject({ running: false, notRunningReason: 'stopped', ha: false, voters: [], nodes: [] });
    expect(st.worker).toBeUndefined();
  });
  test('stopped, bash variant: stderr, exit 1', () => {
    expect(parseStatus('', 1, 'microk8s is not running, try microk8s start\n').notRunningReason).toBe('stopped');
  });
  test('worker node: exit 0 with a message', () => {
    const st = parseStatus('This MicroK8s deployment is acting as a node in a cluster.\nPlease use the control plane node.\n', 0);
    expect(st).toMatchObject({ running: false, worker: true, notRunningReason: 'worker' });
    expect(st.message).toBe('This MicroK8s deployment is acting as a node in a cluster.');
  });
  test('no permission to read the credentials', () => {
    const stderr = `Insufficient permissions to access MicroK8s.
You can either try again with sudo or add the user $USER to the 'microk8s' group:

    sudo usermod -a -G microk8s $USER
    sudo chown -R $USER ~/.kube

After this, reload the user groups either via a reboot or by running 'newgrp microk8s'.
`;
    expect(parseStatus('', 1, stderr)).toMatchObject({ running: false, notRunningReason: 'permissions' });
  });
  test('other failures keep the first line; exit 0 with garbage throws', () => {
    expect(parseStatus('', 127, 'bash: /snap/bin/microk8s: No such file or directory\n')).toMatchObject({
      running: false,
      notRunningReason: 'failed',
      message: 'bash: /snap/bin/microk8s: No such file or directory',
    });
    expect(() => parseStatus('hello\n', 0)).toThrow(/unexpected output from microk8s status: "hello"/);
  });
});
