import {
  cordonCommand,
  drainCommand,
  getNodesCommand,
  getPodsCommand,
  isNodeNotFound,
  parseApiUnavailable,
  parseCordonOutput,
  parseDrainOutput,
  parseNodes,
  parsePods,
  parseWaitOutput,
  uncordonCommand,
  waitNodeReadyCommand,
} from '../../../activities/microk8s/kubectl';
import { node } from './node-fixture';

function kubeNode(name: string, opts: { ready?: string; cordoned?: boolean; worker?: boolean; version?: string; ip?: string; labels?: boolean } = {}) {
  const labels: Record<string, string> = {
    'beta.kubernetes.io/arch': 'amd64',
    'beta.kubernetes.io/os': 'linux',
    'kubernetes.io/arch': 'amd64',
    'kubernetes.io/hostname': name,
    'kubernetes.io/os': 'linux',
    'microk8s.io/cluster': 'true',
  };
  if (opts.labels !== false) {
    if (opts.worker) labels['node.kubernetes.io/microk8s-worker'] = 'microk8s-worker';
    else labels['node.kubernetes.io/microk8s-controlplane'] = 'microk8s-controlplane';
  }
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels },
    spec: opts.cordoned
      ? { unschedulable: true, taints: [{ effect: 'NoSchedule', key: 'node.kubernetes.io/unschedulable' }] }
      : {},
    status: {
      addresses: [
        { type: 'InternalIP', address: opts.ip ?? '192.168.178.36' },
        { type: 'Hostname', address: name },
      ],
      conditions: [
        { type: 'NetworkUnavailable', status: 'False', reason: 'CalicoIsUp', message: 'Calico is running on this node' },
        ...(opts.ready === 'absent'
          ? []
          : [
              {
                type: 'Ready',
                status: opts.ready ?? 'True',
                reason: opts.ready === 'Unknown' ? 'NodeStatusUnknown' : opts.ready === 'False' ? 'KubeletNotReady' : 'KubeletReady',
                message: 'kubelet is posting ready status. AppArmor enabled',
              },
            ]),
      ],
      nodeInfo: { kubeletVersion: opts.version ?? 'v1.32.3', kubeProxyVersion: opts.version ?? 'v1.32.3', containerRuntimeVersion: 'containerd://1.6.36' },
    },
  };
}

describe('nodes', () => {
  test('getNodesCommand', () => {
    expect(getNodesCommand(node)).toBe('/snap/bin/microk8s kubectl get nodes -o json');
  });
  test('reads name, Ready, cordon, version, InternalIP and the MicroK8s role label', () => {
    const json = JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        kubeNode('k8s-1', { cordoned: true, version: 'v1.22.3-3+9ec7c40ec93c73', ip: '10.0.0.1' }),
        kubeNode('k8s-2', { ready: 'False', ip: '10.0.0.2' }),
        kubeNode('k8s-3', { ready: 'Unknown', worker: true, ip: '10.0.0.3' }),
        kubeNode('k8s-4', { ready: 'absent', labels: false, ip: '10.0.0.4' }),
      ],
    });
    const nodes = parseNodes(json);
    expect(nodes.map((n) => ({ ...n, labels: undefined }))).toEqual([
      { name: 'k8s-1', ready: 'True', readyReason: 'KubeletReady', unschedulable: true, kubeletVersion: 'v1.22.3-3+9ec7c40ec93c73', internalIP: '10.0.0.1', role: 'controlplane' },
      { name: 'k8s-2', ready: 'False', readyReason: 'KubeletNotReady', unschedulable: false, kubeletVersion: 'v1.32.3', internalIP: '10.0.0.2', role: 'controlplane' },
      { name: 'k8s-3', ready: 'Unknown', readyReason: 'NodeStatusUnknown', unschedulable: false, kubeletVersion: 'v1.32.3', internalIP: '10.0.0.3', role: 'worker' },
      { name: 'k8s-4', ready: 'Unknown', unschedulable: false, kubeletVersion: 'v1.32.3', internalIP: '10.0.0.4', role: 'unknown' },
    ]);
    expect(nodes[0].labels['microk8s.io/cluster']).toBe('true');
  });
  test('a single Node object and an empty list', () => {
    expect(parseNodes(JSON.stringify(kubeNode('k8s')))[0].name).toBe('k8s');
    expect(parseNodes('{"apiVersion":"v1","items":[],"kind":"List","metadata":{"resourceVersion":""}}')).toEqual([]);
  });
  test('non-JSON output is UnexpectedOutput', () => {
    expect(() => parseNodes('The connection to the server 127.0.0.1:16443 was refused - did you specify the right host or port?')).toThrow(
      /unexpected output from kubectl get nodes \(invalid JSON\)/,
    );
  });
});

describe('pods', () => {
  test('getPodsCommand, optionally on one node', () => {
    expect(getPodsCommand(node)).toBe('/snap/bin/microk8s kubectl get pods -A -o json');
    expect(getPodsCommand(node, { onNode: 'k8s-2' })).toBe(
      '/snap/bin/microk8s kubectl get pods -A -o json --field-selector spec.nodeName=k8s-2',
    );
    expect(() => getPodsCommand(node, { onNode: 'K8S 2' })).toThrow(/^onNode: "K8S 2" is not a Kubernetes node name/);
  });
  test('reads namespace, node, phase, readiness, restarts and the controller kind', () => {
    const pod = (ns: string, name: string, extra: { metadata?: object; spec?: object; status: object }) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { namespace: ns, name, ...extra.metadata }, spec: extra.spec ?? { nodeName: 'k8s-1' }, status: extra.status });
    const json = JSON.stringify({
      kind: 'List',
      items: [
        pod('kube-system', 'calico-node-mhbqw', {
          metadata: { ownerReferences: [{ kind: 'DaemonSet', name: 'calico-node', controller: true }] },
          status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: [{ ready: true, restartCount: 2 }] },
        }),
        pod('default', 'microbot-fdcc4594f-hkqrw', {
          metadata: { ownerReferences: [{ kind: 'ReplicaSet', name: 'microbot-fdcc4594f', controller: true }], deletionTimestamp: '2024-01-01T00:00:00Z' },
          status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }], containerStatuses: [{ ready: false, restartCount: 1 }, { ready: true, restartCount: 3 }] },
        }),
        pod('default', 'hr-app', { spec: {}, status: { phase: 'Pending' } }),
        pod('kube-system', 'coredns-7f9c69c78c-nfd4b', {
          metadata: { ownerReferences: [{ kind: 'Foo', name: 'x' }, { kind: 'ReplicaSet', name: 'coredns-7f9c69c78c', controller: true }] },
          status: { phase: 'Running', containerStatuses: [{ ready: true, restartCount: 0 }] },
        }),
      ],
    });
    expect(parsePods(json)).toEqual([
      { namespace: 'kube-system', name: 'calico-node-mhbqw', node: 'k8s-1', phase: 'Running', ready: true, restarts: 2, ownerKind: 'DaemonSet', ownerName: 'calico-node', terminating: false },
      { namespace: 'default', name: 'microbot-fdcc4594f-hkqrw', node: 'k8s-1', phase: 'Running', ready: false, restarts: 4, ownerKind: 'ReplicaSet', ownerName: 'microbot-fdcc4594f', terminating: true },
      { namespace: 'default', name: 'hr-app', phase: 'Pending', ready: false, restarts: 0, terminating: false },
      { namespace: 'kube-system', name: 'coredns-7f9c69c78c-nfd4b', node: 'k8s-1', phase: 'Running', ready: true, restarts: 0, ownerKind: 'ReplicaSet', ownerName: 'coredns-7f9c69c78c', terminating: false },
    ]);
  });
});

describe('wait for Ready', () => {
  test('builder: one node, whole seconds (at least 1), the object back as JSON', () => {
    expect(waitNodeReadyCommand(node, 'k8s-w1', 29.2)).toBe('/snap/bin/microk8s kubectl wait --for=condition=Ready node/k8s-w1 --timeout=30s -o json');
    expect(waitNodeReadyCommand(node, 'k8s-w1', 0)).toMatch(/--timeout=1s /);
    expect(() => waitNodeReadyCommand(node, 'k8s-1 --all', 5)).toThrow(/is not a Kubernetes node name/);
  });
  test('condition met: the Node object, read like get nodes', () => {
    const out = parseWaitOutput(JSON.stringify(kubeNode('k8s-w1', { worker: true, version: 'v1.29.4' }), null, 4), '', 0);
    expect(out).toMatchObject({ met: true, node: { name: 'k8s-w1', ready: 'True', kubeletVersion: 'v1.29.4', role: 'worker' } });
  });
  test('timed out, not found, anything else', () => {
    expect(parseWaitOutput('', 'error: timed out waiting for the condition on nodes/k8s-w1\n', 1)).toEqual({
      met: false,
      timedOut: true,
      message: 'error: timed out waiting for the condition on nodes/k8s-w1',
    });
    expect(parseWaitOutput('', 'Error from server (NotFound): nodes "k8s-9" not found\n', 1)).toMatchObject({ met: false, timedOut: false });
    expect(() => parseWaitOutput('node/k8s-w1 condition met\n', '', 0)).toThrow(/unexpected output/);
  });
});

describe('cordon / uncordon', () => {
  test('builders validate the node name', () => {
    expect(cordonCommand(node, 'k8s-1')).toBe('/snap/bin/microk8s kubectl cordon k8s-1');
    expect(uncordonCommand(node, 'k8s-1')).toBe('/snap/bin/microk8s kubectl uncordon k8s-1');
    expect(() => cordonCommand(node, 'k8s-1;reboot')).toThrow(/^node: "k8s-1;reboot" is not a Kubernetes node name/);
  });
  test.each([
    ['node/k8s-1 cordoned', { node: 'k8s-1', state: 'cordoned', changed: true }],
    ['node/k8s-1 already cordoned', { node: 'k8s-1', state: 'cordoned', changed: false }],
    ['node/k8s-1 uncordoned', { node: 'k8s-1', state: 'uncordoned', changed: true }],
    ['node/k8s-1 already uncordoned', { node: 'k8s-1', state: 'uncordoned', changed: false }],
  ])('%s', (stdout, expected) => {
    expect(parseCordonOutput(`${stdout}\n`)).toEqual(expected);
  });
  test('anything else throws; NotFound is recognised', () => {
    expect(() => parseCordonOutput('')).toThrow(/kubectl cordon\/uncordon/);
    expect(isNodeNotFound('Error from server (NotFound): nodes "k8s-9" not found')).toBe(true);
    expect(isNodeNotFound('error: unable to drain node')).toBe(false);
  });
});

describe('drain', () => {
  test('drainCommand always sets a timeout', () => {
    expect(drainCommand(node, 'k8s-1', { timeoutS: 120 })).toBe(
      '/snap/bin/microk8s kubectl drain k8s-1 --ignore-daemonsets --delete-emptydir-data --timeout=120s',
    );
    expect(drainCommand(node, 'k8s-1', { timeoutS: 300, gracePeriodS: 60, force: true, deleteEmptyDirData: false })).toBe(
      '/snap/bin/microk8s kubectl drain k8s-1 --ignore-daemonsets --force --grace-period=60 --timeout=300s',
    );
    expect(() => drainCommand(node, 'k8s-1', { timeoutS: 0 })).toThrow(/^timeoutS: 0 must be a positive/);
  });
  test('upgrade guide sample (older kubectl ends with "evicted")', () => {
    const stdout = `node/k8s-1 cordoned
WARNING: ignoring DaemonSet-managed Pods: kube-system/calico-node-mhbqw, ingress/nginx-ingress-microk8s-controller-gtb8p
evicting pod default/microbot-fdcc4594f-hkqrw
evicting pod kube-system/hostpath-provisioner-5c65fbdb4f-gfdpj
evicting pod kube-system/coredns-7f9c69c78c-nfd4b
evicting pod default/microbot-fdcc4594f-4vsrd
pod/hostpath-provisioner-5c65fbdb4f-gfdpj evicted
pod/coredns-7f9c69c78c-nfd4b evicted
pod/microbot-fdcc4594f-hkqrw evicted
pod/microbot-fdcc4594f-4vsrd evicted
node/k8s-1 evicted
`;
    const r = parseDrainOutput(stdout, '', 0);
    expect(r).toMatchObject({ drained: true, cordoned: true, blockedByPdb: [], pending: [], timedOut: false, blockers: [] });
    expect(r.evicted.sort()).toEqual(
      ['default/microbot-fdcc4594f-4vsrd', 'default/microbot-fdcc4594f-hkqrw', 'kube-system/coredns-7f9c69c78c-nfd4b', 'kube-system/hostpath-provisioner-5c65fbdb4f-gfdpj'].sort(),
    );
  });
  test('kubectl reference sample', () => {
    const stdout = `node/node01 cordoned
Warning: ignoring DaemonSet-managed Pods: kube-system/calico-node-z5w62, ...
evicting pod default/blue-667bf6b9f9-mfxtv
pod/blue-667bf6b9f9-mfxtv evicted
node/node01 drained
`;
    expect(parseDrainOutput(stdout, '', 0)).toMatchObject({ drained: true, cordoned: true, evicted: ['default/blue-667bf6b9f9-mfxtv'] });
  });
  test('blocked by a PodDisruptionBudget until the global timeout: not drained, still cordoned', () => {
    const stdout = 'node/k8s-2 cordoned\nevicting pod default/web-0\n';
    const stderr = `error when evicting pods/"web-0" -n "default" (will retry after 5s): Cannot evict pod as it would violate the pod's disruption budget.
error when evicting pods/"web-0" -n "default" (will retry after 5s): Cannot evict pod as it would violate the pod's disruption budget.
error when evicting pods/"web-0" -n "default": global timeout reached: 2m0s
There are pending pods in node "k8s-2" when an error occurred: error when evicting pods/"web-0" -n "default": global timeout reached: 2m0s
pod/web-0
error: unable to drain node "k8s-2" due to error: error when evicting pods/"web-0" -n "default": global timeout reached: 2m0s, continuing command...
There are pending nodes to be drained:
 k8s-2
`;
    const r = parseDrainOutput(stdout, stderr, 1);
    expect(r).toMatchObject({ drained: false, cordoned: true, blockedByPdb: ['default/web-0'], pending: ['web-0'], timedOut: true, evicted: [] });
    expect(r.message).toMatch(/^error: unable to drain node "k8s-2"/);
  });
  test('blocked by unmanaged pods', () => {
    const stderr = `error: unable to drain node "node01" due to error: cannot delete Pods declare no controller (use --force to override): default/hr-app, continuing command...
There are pending nodes to be drained:
 node01
cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): kube-system/calico-node-pdjlj
cannot delete Pods declare no controller (use --force to override): default/hr-app
`;
    const r = parseDrainOutput('node/node01 cordoned\n', stderr, 1);
    expect(r.drained).toBe(false);
    expect(r.blockers).toEqual([
      'cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): kube-system/calico-node-pdjlj',
      'cannot delete Pods declare no controller (use --force to override): default/hr-app',
    ]);
  });
});

describe('parseApiUnavailable', () => {
  test.each([
    ['The connection to the server 127.0.0.1:16443 was refused - did you specify the right host or port?', 'refused', '127.0.0.1:16443'],
    ['Unable to connect to the server: dial tcp 127.0.0.1:16443: connect: connection refused', 'refused', '127.0.0.1:16443'],
    ['Unable to connect to the server: net/http: TLS handshake timeout', 'timeout', undefined],
    ['Unable to connect to the server: dial tcp 10.0.0.1:16443: i/o timeout', 'timeout', '10.0.0.1:16443'],
    ['Error from server (Timeout): the server was unable to return a response in the time allotted, but may still be processing the request (get nodes)', 'timeout', undefined],
    ['Error from server: etcdserver: request timed out', 'timeout', undefined],
    ['Error: context deadline exceeded', 'timeout', undefined],
    ['Error from server (ServiceUnavailable): the server is currently unable to handle the request', 'unavailable', undefined],
    ['Error: no available dqlite leader server found', 'no-leader', undefined],
  ])('%s', (stderr, reason, server) => {
    const r = parseApiUnavailable(`${stderr}\n`);
    expect(r?.reason).toBe(reason);
    expect(r?.server).toBe(server);
    expect(r?.line).toBe(stderr);
  });
  test('other errors are not an unavailable API', () => {
    expect(parseApiUnavailable('Error from server (NotFound): nodes "k8s-9" not found')).toBeUndefined();
    expect(parseApiUnavailable('')).toBeUndefined();
  });
});
