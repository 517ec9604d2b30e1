import {
  BOOTSTRAP_ID,
  clusterMembersCommand,
  dqliteCommand,
  isNoLeaderError,
  parseClusterYaml,
  parseDqliteCluster,
  parseInfoYaml,
  parseLeader,
  parseReconfigureOutput,
  reconfigureCommand,
  removeShellCommand,
  renderClusterYaml,
  renderInfoYaml,
} from '../../../activities/microk8s/dqlite';
import { labNode, node } from './node-fixture';

const BACKEND = '/var/snap/microk8s/current/var/kubernetes/backend';

describe('dqliteCommand', () => {
  test('calls the snap dqlite by full path with the cluster.yaml store and one argv for the shell command', () => {
    expect(dqliteCommand(node, '.cluster')).toBe(
      `/snap/microk8s/current/bin/dqlite -s file://${BACKEND}/cluster.yaml -c ${BACKEND}/cluster.crt -k ${BACKEND}/cluster.key -f json k8s .cluster`,
    );
    expect(dqliteCommand(node, removeShellCommand('10.0.0.3:19001'), { format: 'tabular', timeoutMs: 4000 })).toBe(
      `/snap/microk8s/current/bin/dqlite -s file://${BACKEND}/cluster.yaml -c ${BACKEND}/cluster.crt -k ${BACKEND}/cluster.key -f tabular --timeout 4000 k8s '.remove 10.0.0.3:19001'`,
    );
  });
  test('honours lab path overrides', () => {
    expect(clusterMembersCommand(labNode)).toMatch(
      /^\/tmp\/lab\/root\/snap\/microk8s\/current\/bin\/dqlite -s file:\/\/\/tmp\/lab\/root\/var\/snap\/microk8s\/current\/var\/kubernetes\/backend\/cluster\.yaml /,
    );
  });
  test.each(['.remove 10.0.0.3:19001; reboot', '.remove', 'SELECT * FROM nodes', '.cluster\n.leader', '.remove  10.0.0.3:19001'])(
    'refuses shell command %j',
    (cmd) => {
      expect(() => dqliteCommand(node, cmd)).toThrow(/is not one this project sends/);
    },
  );
  test('removeShellCommand validates the address', () => {
    expect(() => removeShellCommand('k8s-3')).toThrow(/^address: "k8s-3" is not a dqlite address/);
    expect(removeShellCommand('[fd00::3]:19001')).toBe('.remove [fd00::3]:19001');
  });
  test('reconfigureCommand matches the documented quorum-recovery step', () => {
    // §7 step 5, without `sudo` (the SSH layer adds it) and with the line continuations joined.
    expect(reconfigureCommand(node)).toBe(
      `/snap/microk8s/current/bin/dqlite -s 127.0.0.1:19001 -c ${BACKEND}/cluster.crt -k ${BACKEND}/cluster.key k8s '.reconfigure ${BACKEND}/ ${BACKEND}/cluster.yaml'`,
    );
  });
  test('parseReconfigureOutput', () => {
    expect(parseReconfigureOutput('OK\n', 0)).toEqual({ ok: true });
    expect(parseReconfigureOutput('Error: failed to reconfigure membership :boom\nUsage:\n  dqlite ...\n', 1)).toEqual({
      ok: false,
      message: 'Error: failed to reconfigure membership :boom',
    });
  });
});

describe('parseDqliteCluster', () => {
  test('JSON (tab-indented, integer Role) keeps uint64 IDs exact', () => {
    const stdout = '[\n\t{\n\t\t"ID": 3297041220608546238,\n\t\t"Address": "10.0.0.1:19001",\n\t\t"Role": 0\n\t},\n\t{\n\t\t"ID": 9373968242441247628,\n\t\t"Address": "10.0.0.2:19001",\n\t\t"Role": 1\n\t},\n\t{\n\t\t"ID": 17,\n\t\t"Address": "10.0.0.3:19001",\n\t\t"Role": 2\n\t}\n]\n';
    expect(parseDqliteCluster(stdout)).toEqual([
      { id: '3297041220608546238', address: '10.0.0.1:19001', role: 'voter' },
      { id: '9373968242441247628', address: '10.0.0.2:19001', role: 'stand-by' },
      { id: '17', address: '10.0.0.3:19001', role: 'spare' },
    ]);
  });
  test('JSON sample from the reference, one line', () => {
    expect(parseDqliteCluster('[{"ID": 3297041220608546238, "Address": "10.0.0.1:19001", "Role": 0}]')).toEqual([
      { id: BOOTSTRAP_ID, address: '10.0.0.1:19001', role: 'voter' },
    ]);
  });
  test('tabular %x|%s|%s with role names, hex IDs converted to decimal', () => {
    expect(parseDqliteCluster('2dc171858c3155be|10.0.0.1:19001|voter\n821706737a80db8c|10.0.0.2:19001|stand-by\n11|10.0.0.3:19001|spare')).toEqual([
      { id: BOOTSTRAP_ID, address: '10.0.0.1:19001', role: 'voter' },
      { id: '9373968242441247628', address: '10.0.0.2:19001', role: 'stand-by' },
      { id: '17', address: '10.0.0.3:19001', role: 'spare' },
    ]);
  });
  test('empty output and null mean no members', () => {
    expect(parseDqliteCluster('')).toEqual([]);
    expect(parseDqliteCluster('null\n')).toEqual([]);
  });
  test('anything else is UnexpectedOutput', () => {
    expect(() => parseDqliteCluster('Error: no available dqlite leader server found')).toThrow(/unexpected output from dqlite \.cluster/);
    expect(() => parseDqliteCluster('[{"ID": 1, "Address": "10.0.0.1:19001", "Role": 7}]')).toThrow(/unknown Role 7/);
    expect(() => parseDqliteCluster('[{"Address": "10.0.0.1:19001"}]')).toThrow(/lacks ID/);
  });
});

describe('leader and errors', () => {
  test('parseLeader', () => {
    expect(parseLeader('10.0.0.2:19001\n')).toBe('10.0.0.2:19001');
    expect(parseLeader('')).toBeUndefined();
    expect(() => parseLeader('garbage here')).toThrow(/dqlite \.leader/);
  });
  test('isNoLeaderError', () => {
    expect(isNoLeaderError('Error: no available dqlite leader server found\nUsage:\n  dqlite -s <servers> <database> [command] [flags]\n')).toBe(true);
    expect(isNoLeaderError('Error: failed to reconfigure membership :x')).toBe(false);
  });
});

describe('info.yaml / cluster.yaml', () => {
  // Verbatim from the reference (#3694, older writers, keys sorted).
  const clusterYamlSorted = `- Address: 10.100.5.105:19001
  ID: 3297041220608546238
  Role: 0
- Address: 10.100.5.100:19001
  ID: 6578832437747111275
  Role: 0
`;
  const infoYaml = `Address: 127.0.0.1:19001
ID: 3297041220608546238
Role: 0
`;
  const expected = [
    { id: '3297041220608546238', address: '10.100.5.105:19001', role: 'voter' },
    { id: '6578832437747111275', address: '10.100.5.100:19001', role: 'voter' },
  ];

  test('cluster.yaml with sorted keys (ghodss/yaml)', () => {
    expect(parseClusterYaml(clusterYamlSorted)).toEqual(expected);
  });
  test('cluster.yaml in struct order (yaml.v2), with a spare (#3448)', () => {
    const v2 = '- ID: 3297041220608546238\n  Address: 10.100.5.105:19001\n  Role: 0\n- ID: 6578832437747111275\n  Address: 10.100.5.100:19001\n  Role: 2\n';
    expect(parseClusterYaml(v2)).toEqual([expected[0], { ...expected[1], role: 'spare' }]);
  });
  test('info.yaml (fixture from test_join.py)', () => {
    expect(parseInfoYaml(infoYaml)).toEqual({ id: BOOTSTRAP_ID, address: '127.0.0.1:19001', role: 'voter' });
  });
  test('IDs above 2^63 survive (docs restore-quorum example)', () => {
    expect(parseInfoYaml('ID: 9373968242441247628\nAddress: 10.211.205.253:19001\nRole: 0\n').id).toBe('9373968242441247628');
  });
  test('empty cluster.yaml is no members; a mapping is not a list', () => {
    expect(parseClusterYaml('')).toEqual([]);
    expect(() => parseClusterYaml(infoYaml)).toThrow(/cluster\.yaml.*not a list/);
    expect(() => parseInfoYaml('- a\n- b\n')).toThrow(/info\.yaml.*not a mapping/);
  });

  test('renderClusterYaml writes IDs as plain integers in yaml.v2 order and round-trips', () => {
    const members = [
      { id: '9373968242441247628', address: '10.211.205.253:19001', role: 'voter' as const },
      { id: '6578832437747111275', address: '10.211.205.221:19001', role: 'stand-by' as const },
    ];
    const text = renderClusterYaml(members);
    expect(text).toBe(
      '- ID: 9373968242441247628\n  Address: 10.211.205.253:19001\n  Role: 0\n- ID: 6578832437747111275\n  Address: 10.211.205.221:19001\n  Role: 1\n',
    );
    expect(parseClusterYaml(text)).toEqual(members);
    expect(renderClusterYaml(parseClusterYaml(clusterYamlSorted))).toBe(
      '- ID: 3297041220608546238\n  Address: 10.100.5.105:19001\n  Role: 0\n- ID: 6578832437747111275\n  Address: 10.100.5.100:19001\n  Role: 0\n',
    );
  });
  test('renderInfoYaml', () => {
    expect(renderInfoYaml({ id: BOOTSTRAP_ID, address: '10.0.0.1:19001', role: 'voter' })).toBe(
      'ID: 3297041220608546238\nAddress: 10.0.0.1:19001\nRole: 0\n',
    );
  });
  test('render refuses bad members, naming the entry', () => {
    expect(() => renderClusterYaml([{ id: '1e3', address: '10.0.0.1:19001', role: 'voter' }])).toThrow(/^members\[0\]\.id/);
    expect(() => renderClusterYaml([{ id: '18446744073709551616', address: '10.0.0.1:19001', role: 'voter' }])).toThrow(/^members\[0\]\.id/);
    expect(() => renderClusterYaml([{ id: '5', address: 'k8s-1:19001', role: 'voter' }])).toThrow(/^members\[0\]\.address/);
    expect(() =>
      renderClusterYaml([
        { id: '5', address: '10.0.0.1:19001', role: 'voter' },
        { id: '5', address: '10.0.0.2:19001', role: 'voter' },
      ]),
    ).toThrow(/^members\[1\]\.id: 5 appears twice/);
  });
});
