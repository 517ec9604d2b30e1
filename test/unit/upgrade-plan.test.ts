import { parseUpgradeFlags, upgradeInput } from '../../cli/commands/upgrade';
import { ClusterObservation, normaliseChannel, ObservedNode, UpgradeOptions } from '../../common/upgrade';
import { olderThan, planUpgrade } from '../../workflows/upgrade-plan';

function node(name: string, over: Partial<ObservedNode> = {}): ObservedNode {
  return {
    name,
    controlPlane: true,
    version: 'v1.28.15',
    revision: '100',
    tracking: '1.28/stable',
    kubeletVersion: 'v1.28.15',
    ready: true,
    unschedulable: false,
    dqliteRole: 'voter',
    leader: false,
    ...over,
  };
}

function cluster(over: Partial<ClusterObservation> = {}): ClusterObservation {
  return {
    nodes: [
      node('k8s-1', { leader: true }),
      node('k8s-2'),
      node('k8s-3'),
      node('k8s-4', { dqliteRole: 'spare' }),
      node('w-1', { controlPlane: false, dqliteRole: undefined }),
      node('w-2', { controlPlane: false, dqliteRole: undefined }),
      node('w-3', { controlPlane: false, dqliteRole: undefined }),
    ],
    ha: true,
    voters: 3,
    failingSystemPods: [],
    failingWorkloadPods: [],
    channels: { '1.28/stable': 'v1.28.15', '1.29/stable': 'v1.29.10', '1.30/stable': 'v1.30.6' },
    ...over,
  };
}

const names = (steps: { node: string }[]) => steps.map((s) => s.node);

describe('planUpgrade', () => {
  test('one hop: spare first, leader last, then workers in batches', () => {
    const plan = planUpgrade(cluster(), { to: '1.29', workerBatch: 2 });
    expect(plan.refusals).toEqual([]);
    expect(plan.hops).toHaveLength(1);
    expect(plan.hops[0].label).toBe('1.29/stable');
    expect(names(plan.hops[0].controlPlanes)).toEqual(['k8s-4', 'k8s-2', 'k8s-3', 'k8s-1']);
    expect(plan.hops[0].workerBatches.map(names)).toEqual([['w-1', 'w-2'], ['w-3']]);
    expect(plan.before['k8s-2']).toEqual({ version: 'v1.28.15', revision: '100', channel: '1.28/stable', unschedulable: false });
  });

  test('skipping minors is refused by turning 1.28→1.30 into two full passes', () => {
    const plan = planUpgrade(cluster(), { to: '1.30/stable', workerBatch: 1 });
    expect(plan.hops.map((h) => h.label)).toEqual(['1.29/stable', '1.30/stable']);
    for (const hop of plan.hops) expect(names(hop.controlPlanes).concat(hop.workerBatches.flat().map((s) => s.node))).toHaveLength(7);
    expect(plan.hops[1].controlPlanes[0].minor).toBe('1.30');
    expect(plan.lines.join('\n')).toMatch(/one minor at a time/);
  });

  test('a node behind on its track gets a patch pass first', () => {
    const obs = cluster();
    obs.nodes[1].version = 'v1.28.3';
    obs.nodes[5].version = 'v1.28.3';
    const plan = planUpgrade(obs, { to: '1.29', workerBatch: 1 });
    expect(plan.hops[0].kind).toBe('patch');
    expect(names(plan.hops[0].controlPlanes)).toEqual(['k8s-2']);
    expect(plan.hops[0].workerBatches.map(names)).toEqual([['w-2']]);
    expect(plan.hops[0].controlPlanes[0].channel).toBe('1.28/stable');
    expect(plan.hops[1].label).toBe('1.29/stable');
  });

  test('a rerun skips nodes already upgraded and keeps the rest', () => {
    const obs = cluster();
    obs.nodes[1] = node('k8s-2', { version: 'v1.29.10', tracking: '1.29/stable' });
    const plan = planUpgrade(obs, { to: '1.29', workerBatch: 1 });
    expect(names(plan.hops[0].controlPlanes)).toEqual(['k8s-4', 'k8s-3', 'k8s-1']);
    expect(plan.hops[0].skipped.join()).toMatch(/k8s-2/);
  });

  test('nothing to do when every node is on the target channel', () => {
    const obs = cluster();
    obs.nodes = obs.nodes.map((n) => ({ ...n, version: 'v1.29.10', tracking: '1.29/stable' }));
    const plan = planUpgrade(obs, { to: '1.29/stable', workerBatch: 1 });
    expect(plan.hops).toEqual([]);
    expect(plan.lines.join('\n')).toMatch(/Nothing to do/);
  });

  test('same minor, other risk: moved in one pass', () => {
    const obs = cluster();
    obs.nodes = obs.nodes.map((n) => ({ ...n, version: 'v1.29.10', tracking: '1.29/candidate' }));
    const plan = planUpgrade(obs, { to: '1.29/stable', workerBatch: 3 });
    expect(plan.hops).toHaveLength(1);
    expect(plan.hops[0].controlPlanes).toHaveLength(4);
  });

  test.each([
    ['a node not Ready', (o: ClusterObservation) => (o.nodes[2].ready = false), /k8s-3 is not Ready/],
    ['HA degraded', (o: ClusterObservation) => ((o.ha = false), (o.voters = 1)), /high availability is degraded/],
    ['failing kube-system pods', (o: ClusterObservation) => (o.failingSystemPods = ['kube-system/coredns-x']), /coredns-x/],
    ['a downgrade', (o: ClusterObservation) => (o.nodes[0].version = 'v1.30.1'), /newer than the target/],
    ['a latest/ track', (o: ClusterObservation) => (o.nodes[4].tracking = 'latest/stable'), /latest\/stable/],
  ])('refuses to start with %s', (_what, mutate, message) => {
    const obs = cluster();
    mutate(obs);
    const plan = planUpgrade(obs, { to: '1.29', workerBatch: 1 });
    expect(plan.refusals.join('\n')).toMatch(message);
    expect(plan.hops).toEqual([]);
    expect(plan.lines.join('\n')).toMatch(/Refused/);
  });

  test('failing workload pods become the baseline, not a refusal', () => {
    const plan = planUpgrade(cluster({ failingWorkloadPods: ['default/crashy-abc'] }), { to: '1.29', workerBatch: 1 });
    expect(plan.refusals).toEqual([]);
    expect(plan.baseline).toEqual(['default/crashy-abc']);
  });
});

describe('options and versions', () => {
  test('channels normalise the way snapd reads them', () => {
    expect(normaliseChannel('1.29')).toBe('1.29/stable');
    expect(normaliseChannel('1.30/candidate')).toBe('1.30/candidate');
    expect(() => normaliseChannel('latest/stable')).toThrow(/not a MicroK8s channel/);
  });
  test('bad flags name themselves', () => {
    const r = UpgradeOptions.safeParse({ to: '1.29', workerBatch: 0 });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error!.issues[0].path)).toBe('["workerBatch"]');
    expect(UpgradeOptions.safeParse({ to: 'v1.29' }).success).toBe(false);
    expect(UpgradeOptions.parse({ to: '1.29' })).toMatchObject({ approve: 'none', rollback: 'node', onFailure: 'rollback', workerBatch: 1 });
  });
  test('--step-timeout: each step\'s deadline, retries included; 30 minutes unless given, at least 10 s', () => {
    expect(UpgradeOptions.parse({ to: '1.29' }).stepTimeoutSeconds).toBe(1800);
    const base = { inventory: 'i.yaml', to: '1.29', drainTimeout: '5m', soak: '0s', approvalTimeout: '1h', readyTimeout: '10m' };
    const given = parseUpgradeFlags({ ...base, stepTimeout: '90s' });
    expect('flags' in given && UpgradeOptions.parse(upgradeInput(given.flags)).stepTimeoutSeconds).toBe(90);
    const omitted = parseUpgradeFlags(base); // callers that predate the flag (the chaos scenario) get the default
    expect('flags' in omitted && UpgradeOptions.parse(upgradeInput(omitted.flags)).stepTimeoutSeconds).toBe(1800);
    expect(parseUpgradeFlags({ ...base, stepTimeout: '5s' })).toEqual({ error: '--step-timeout: must be at least 10s' });
  });
  test('olderThan compares patch numbers numerically', () => {
    expect(olderThan('v1.28.3', 'v1.28.10')).toBe(true);
    expect(olderThan('v1.28.10', 'v1.28.3')).toBe(false);
    expect(olderThan('v1.28.3', 'v1.28.3')).toBe(false);
    expect(olderThan('v1.29.0-rc.0', 'v1.29.0')).toBe(true);
  });
});

describe('the plan proves the request (hostile input: --to 1.99)', () => {
  test('a hop whose channel the store lacks refuses the whole plan, naming the highest available', () => {
    const plan = planUpgrade(cluster(), { to: '1.32', workerBatch: 1, hops: 4 });
    expect(plan.hops).toEqual([]);
    expect(plan.badRequest.join('\n')).toMatch(/channel 1\.31\/stable, 1\.32\/stable are not in the snap store \(snap info microk8s\); the highest available is 1\.30\/stable: use --to 1\.30\/stable/);
    expect(plan.lines.join('\n')).toMatch(/Refused/);
  });
  test('more than one minor with --yes needs --hops; a wrong --hops is refused; the plan approval confirms without it', () => {
    expect(planUpgrade(cluster(), { to: '1.30', workerBatch: 1, yes: true }).badRequest.join()).toMatch(/confirm them with --hops 2/);
    expect(planUpgrade(cluster(), { to: '1.30', workerBatch: 1, hops: 1 }).badRequest.join()).toMatch(/--hops: 1 given, but the plan has 2/);
    expect(planUpgrade(cluster(), { to: '1.30', workerBatch: 1, yes: true, hops: 2 }).badRequest).toEqual([]);
    expect(planUpgrade(cluster(), { to: '1.30', workerBatch: 1 }).badRequest).toEqual([]);
    expect(planUpgrade(cluster(), { to: '1.29', workerBatch: 1, yes: true }).badRequest).toEqual([]);
  });
  test('runs planned before the checks existed replay unchanged (checkRequest: false)', () => {
    const plan = planUpgrade(cluster(), { to: '1.32', workerBatch: 1, yes: true }, { checkRequest: false });
    expect(plan.badRequest).toEqual([]);
    expect(plan.hops.map((h) => h.label)).toEqual(['1.29/stable', '1.30/stable', '1.31/stable', '1.32/stable']);
  });
});
