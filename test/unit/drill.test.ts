/**
 * Restore drills, the pure parts: the drill's IDs and lab name, the lab's shape, the verdict on what the restored
 * cluster serves; and the lab's model of the datastore in the raft files (what a backup carries, what a restore of
 * another cluster's backup brings back).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { drillLabName, drillTopology, drillWorkflowId, judgeServed } from '../../common/drill';
import { resolveInventory } from '../../common/inventory';
import { lockIdFor } from '../../common/schedules';
import { adoptObjects, readObjects, storedObjects, writeObjects } from '../../lab/sim/datastore';
import type { Cluster, LabState, NodeState } from '../../lab/sim/model';

test('a drill runs under its own ID, one per cluster, apart from the cluster lock; its lab name follows from it', () => {
  expect(drillWorkflowId('prod')).toBe('runbook-prod.drill');
  expect(lockIdFor('drill', 'prod')).toBe('runbook-prod.drill');
  expect(lockIdFor('backup', 'prod')).toBe('runbook-prod');
  expect(drillLabName('runbook-prod.drill')).toBe('drill-prod');
  const long = `runbook-${'a'.repeat(63)}.drill`;
  const name = drillLabName(long);
  expect(name).toMatch(/^drill-a+-[0-9a-f]{8}$/);
  expect(name.length).toBeLessThanOrEqual(63);
  expect(drillLabName(long)).toBe(name);
  expect(drillLabName(`runbook-${'a'.repeat(62)}b.drill`)).not.toBe(name);
});

test("the lab copies the inventory's control planes and workers, capped to what a lab holds", () => {
  const inv = (cps: number, workers: number) =>
    resolveInventory({
      cluster: 'prod',
      nodes: [
        ...Array.from({ length: cps }, (_, i) => ({ name: `cp-${i}`, address: `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}` })),
        ...Array.from({ length: workers }, (_, i) => ({ name: `w-${i}`, address: `10.1.${Math.floor(i / 250)}.${(i % 250) + 1}`, role: 'worker' as const })),
      ],
    });
  expect(drillTopology(inv(3, 2), '1.28/stable')).toEqual({ controlPlanes: 3, workers: 2, channel: '1.28/stable', workersLeftOut: 0 });
  expect(drillTopology(inv(5, 300), '1.30/stable')).toEqual({ controlPlanes: 5, workers: 245, channel: '1.30/stable', workersLeftOut: 55 });
});

describe('judgeServed', () => {
  const labCreatedAt = '2026-05-01T10:00:00.700Z';
  const base = { cluster: 'prod', leader: { address: '127.0.9.1:19001', node: 'k8s-1' }, expected: ['k8s-1', 'k8s-2', 'k8s-w1'], labCreatedAt };
  const old = '2026-04-30T08:00:00Z';
  const fresh = '2026-05-01T10:00:00Z'; // the lab's own second: registered after it was made

  test('every Node object of the backup back, older than the lab: ok', () => {
    const v = judgeServed({ ...base, listed: [{ name: 'k8s-1', created: old, ready: 'True' }, { name: 'k8s-2', created: old, ready: 'True' }, { name: 'k8s-w1', created: old, ready: 'Unknown' }] });
    expect(v).toEqual({ ok: true, leader: base.leader, restored: ['k8s-1', 'k8s-2', 'k8s-w1'], registeredByLab: [], missing: [] });
  });

  test("an empty datastore lists only what the lab's kubelets registered: broken, naming what is missing", () => {
    const v = judgeServed({ ...base, listed: ['k8s-1', 'k8s-2', 'k8s-w1'].map((name) => ({ name, created: fresh, ready: 'True' })) });
    expect(v.ok).toBe(false);
    expect(v.missing).toEqual(['k8s-1', 'k8s-2', 'k8s-w1']);
    expect(v.reason).toBe(
      "the restored cluster serves (dqlite leader k8s-1, the API answers), but none of the 3 Node objects cluster prod had came back: k8s-1, k8s-2, k8s-w1 missing; the API lists k8s-1, k8s-2, k8s-w1 only because the lab's own nodes registered them after the restore",
    );
  });

  test('some missing, some back', () => {
    const v = judgeServed({ ...base, listed: [{ name: 'k8s-1', created: old, ready: 'True' }] });
    expect(v).toMatchObject({ ok: false, restored: ['k8s-1'], missing: ['k8s-2', 'k8s-w1'] });
    expect(v.reason).toMatch(/but 2 of the 3 Node objects cluster prod had came back: k8s-2, k8s-w1 missing$/);
  });

  test('no leader, or an API that does not answer, is broken before any Node object is looked at', () => {
    expect(judgeServed({ ...base, leader: undefined, leaderProblem: 'k8s-1: Error: no available dqlite leader server found', listed: [] })).toMatchObject({
      ok: false,
      reason: 'no dqlite leader on the restored cluster (k8s-1: Error: no available dqlite leader server found)',
    });
    expect(judgeServed({ ...base, apiProblem: 'k8s-1: The connection to the server 127.0.0.1:16443 was refused', listed: [] }).reason).toMatch(/^the Kubernetes API does not answer/);
  });
});

describe('the lab keeps the Kubernetes objects in the raft files', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'datastore-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const cluster = (): Cluster => ({
    id: 'c1', epoch: '0'.repeat(16), term: 1, index: 1, members: [], leader: null, rebalanceAt: null, available: true, recovery: null,
    k8sNodes: [{ name: 'k8s-1', created: 1000, cordoned: false, worker: false }, { name: 'k8s-w1', created: 1000, cordoned: true, worker: true }],
    deployments: [{ ns: 'default', name: 'microbot', replicas: 2, hash: 'abc' }],
    pods: [],
    pdbs: [{ ns: 'default', name: 'microbot', app: 'microbot', minAvailable: 1 }],
  });

  test('written after the header of open-1, in place, and read back; a shorter write leaves nothing of the longer one', () => {
    const file = path.join(dir, 'open-1');
    fs.writeFileSync(file, 'LABRAFT epoch=0000000000000000 origin=k8s-1 file=open-1\n');
    fs.truncateSync(file, 65536);
    expect(readObjects(dir)).toBeUndefined();
    const c = cluster();
    expect(writeObjects(file, storedObjects(c))).toBe(true);
    expect(fs.statSync(file).size).toBe(65536);
    expect(readObjects(dir)?.nodes.map((n) => n.name)).toEqual(['k8s-1', 'k8s-w1']);
    c.k8sNodes = [c.k8sNodes[0]];
    c.deployments = [];
    writeObjects(file, storedObjects(c));
    expect(readObjects(dir)).toEqual({ nodes: [c.k8sNodes[0]], deployments: [], pdbs: c.pdbs });
    expect(fs.readFileSync(file, 'latin1').split('\n')[0]).toBe('LABRAFT epoch=0000000000000000 origin=k8s-1 file=open-1');
    expect(writeObjects(path.join(dir, 'missing'), storedObjects(c))).toBe(false);
    fs.writeFileSync(path.join(dir, 'cluster.yaml'), '- ID: 1\n');
    expect(writeObjects(path.join(dir, 'cluster.yaml'), storedObjects(c))).toBe(false);
  });

  test("adopting a backup's objects: its Node objects keep their creation time, the lab's own machines register again", () => {
    const from = cluster();
    const into: Cluster = { ...cluster(), id: 'c2', k8sNodes: [], deployments: [], pdbs: [] };
    const node = (name: string, worker: boolean) => ({ name, cluster: 'c2', worker }) as NodeState;
    const s = { nodes: { 'k8s-1': node('k8s-1', false), 'k8s-2': node('k8s-2', false) }, clusters: { c2: into } } as unknown as LabState;
    adoptObjects(s, into, storedObjects(from), 5000);
    expect(into.k8sNodes).toEqual([...from.k8sNodes, { name: 'k8s-2', created: 5000, cordoned: false, worker: false }]);
    expect(into.pods.filter((p) => p.owner === 'microbot')).toHaveLength(2);
    expect(into.pdbs).toEqual(from.pdbs);
    adoptObjects(s, into, undefined, 6000);
    expect(into.k8sNodes.map((k) => [k.name, k.created])).toEqual([['k8s-1', 6000], ['k8s-2', 6000]]);
    expect(into.deployments).toEqual([]);
  });
});
