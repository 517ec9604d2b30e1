import {
  backendListingCommand,
  chooseTemplate,
  classifyBackendFile,
  infoAgreesWithCluster,
  isCopiedFromTemplate,
  isFollowerLeftover,
  parseBackendListing,
  raftPosition,
  rolesFor,
  survivorsClusterYaml,
} from '../../activities/microk8s/raft';
import { parseClusterYaml } from '../../activities/microk8s/dqlite';

const files = (...names: string[]) => names.map((name) => ({ name }));

describe('backend files', () => {
  test('are classified as raft data or not', () => {
    expect(classifyBackendFile('0000000034628364-0000000034628397')).toBe('closed-segment');
    expect(classifyBackendFile('open-3')).toBe('open-segment');
    expect(classifyBackendFile('snapshot-2-15844431-871964758')).toBe('snapshot');
    expect(classifyBackendFile('snapshot-2-15844431-871964758.meta')).toBe('snapshot-meta');
    expect(classifyBackendFile('metadata2')).toBe('metadata');
    expect(classifyBackendFile('cluster.crt')).toBe('other');
    expect(classifyBackendFile('cluster.yaml.before-rq-1')).toBe('other');
  });

  test('followers lose raft data but keep identity files; the template gives cluster.yaml, snapshots and closed segments', () => {
    const all = ['cluster.crt', 'cluster.key', 'info.yaml', 'cluster.yaml', 'failure-domain', 'metadata1', 'open-1',
      '0000000000000001-0000000000001000', 'snapshot-3-900-1', 'snapshot-3-900-1.meta'];
    expect(all.filter(isFollowerLeftover)).toEqual(['metadata1', 'open-1', '0000000000000001-0000000000001000', 'snapshot-3-900-1', 'snapshot-3-900-1.meta']);
    expect(all.filter(isCopiedFromTemplate)).toEqual(['cluster.yaml', '0000000000000001-0000000000001000', 'snapshot-3-900-1', 'snapshot-3-900-1.meta']);
  });

  test('the listing command is quoted and its output parsed with sizes and checksums', () => {
    const line = backendListingCommand('/var/snap/microk8s/current/var/kubernetes/backend', true);
    expect(line).toContain("-printf '%s %f\\n'");
    expect(line).toContain("sha256sum '{}' +");
    const sha = 'a'.repeat(64);
    const out = `201 cluster.yaml\n8388608 open-1\n--- sha256 ---\n${sha}  /x/backend/cluster.yaml\n${'b'.repeat(64)}  /x/backend/open-1\n`;
    expect(parseBackendListing(out)).toEqual([
      { name: 'cluster.yaml', size: 201, sha256: sha },
      { name: 'open-1', size: 8388608, sha256: 'b'.repeat(64) },
    ]);
  });
});

describe('template choice', () => {
  test('the raft position is the highest snapshot term and the highest index of snapshots and closed segments', () => {
    const p = raftPosition(files('snapshot-2-1500-9', 'snapshot-3-1200-9', '0000000000001001-0000000000002000', 'open-1'));
    expect(p).toMatchObject({ term: 3, index: 2000 });
    expect(p.evidence).toContain('snapshot-3-1200-9');
    expect(raftPosition(files('open-1'))).toMatchObject({ term: 0, index: 0 });
  });

  test('higher term wins over a higher index; then the higher index; ties keep inventory order', () => {
    const a = { node: 'k8s-1', position: raftPosition(files('snapshot-2-9000-1', '0000000000008001-0000000000009500')) };
    const b = { node: 'k8s-4', position: raftPosition(files('snapshot-3-100-1')) };
    const c = { node: 'k8s-5', position: raftPosition(files('snapshot-3-100-1', '0000000000000001-0000000000000200')) };
    expect(chooseTemplate([a, b]).template).toBe('k8s-4');
    expect(chooseTemplate([a, b, c]).template).toBe('k8s-5');
    expect(chooseTemplate([b, { ...b, node: 'k8s-9' }]).template).toBe('k8s-4');
  });

  test('--template overrides, and the evidence warns when it is behind', () => {
    const a = { node: 'k8s-1', position: raftPosition(files('snapshot-2-100-1')) };
    const b = { node: 'k8s-4', position: raftPosition(files('snapshot-3-100-1')) };
    const chosen = chooseTemplate([a, b], 'k8s-1');
    expect(chosen.template).toBe('k8s-1');
    expect(chosen.evidence.join('\n')).toMatch(/WARNING: k8s-4 has newer data/);
    expect(() => chooseTemplate([a, b], 'k8s-7')).toThrow(/not a survivor/);
  });
});

describe('survivors cluster.yaml', () => {
  const ids = ['3297041220608546238', '9373968242441247628', '11111111111111111111', '2', '3'];
  const members = ids.map((id, i) => ({ id, address: `10.0.0.${i + 1}:19001` }));

  test('keeps 64-bit IDs exactly and makes at most 3 voters', () => {
    expect(rolesFor(5)).toEqual(['voter', 'voter', 'voter', 'stand-by', 'stand-by']);
    const parsed = parseClusterYaml(survivorsClusterYaml(members));
    expect(parsed.map((m) => m.id)).toEqual(ids);
    expect(parsed.filter((m) => m.role === 'voter')).toHaveLength(3);
    expect(parseClusterYaml(survivorsClusterYaml(members.slice(0, 2))).map((m) => m.role)).toEqual(['voter', 'voter']);
  });

  test('an info.yaml agrees only with an entry of the same ID and Address', () => {
    const cluster = parseClusterYaml(survivorsClusterYaml(members.slice(0, 2)));
    expect(infoAgreesWithCluster(members[1], cluster)).toBe(true);
    expect(infoAgreesWithCluster({ ...members[1], address: '10.0.0.9:19001' }, cluster)).toBe(false);
    expect(infoAgreesWithCluster({ ...members[1], id: '9373968242441247629' }, cluster)).toBe(false);
  });
});
