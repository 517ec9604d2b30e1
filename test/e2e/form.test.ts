/**
 * form and remove-node end to end: real dev server, real s.worker, real sshd lab (fast profile).
 * One lab of 4 control-plane nodes and 4 workers, used in order: form 3+2, rerun, grow, remove, quorum guard.
 */
import * as fs from 'fs';
import * as path from 'path';
import { WorkflowFailedError } from '@temporalio/client';
import { snapPaths } from '../../lab/sim/backend';
import type { Inventory } from '../../common/inventory';
import { progressQuery, rejectUpdate, type RunbookProgress } from '../../common/messages';
import type { FormResult } from '../../common/form';
import type { RemoveNodeResult } from '../../common/remove-node';
import { commandsOf, FAST_TIMING, historyText, issuedTokens, start, startFormWorker, subset } from './form-support';
import { useLabSuite } from '../support/e2e';

const s = useLabSuite({ lab: { name: 'form', controlPlanes: 4, workers: 4, channel: '1.28/stable', profile: 'fast' }, worker: startFormWorker });

const FIRST = ['k8s-1', 'k8s-2', 'k8s-3', 'k8s-w1', 'k8s-w2'];

test('lab nodes are named as the tests expect', () => {
  expect(s.lab.inventory.nodes.map((n) => `${n.name}:${n.role}`)).toEqual([
    'k8s-1:controlplane',
    'k8s-2:controlplane',
    'k8s-3:controlplane',
    'k8s-4:controlplane',
    'k8s-w1:worker',
    'k8s-w2:worker',
    'k8s-w3:worker',
    'k8s-w4:worker',
  ]);
});

test('form 3 control planes and 2 workers: HA, roles, control-plane joins one at a time, no token in history', async () => {
  const h = await start(s.env, s.worker, {
    kind: 'form',
    workflowType: 'form',
    inventory: subset(s.lab.inventory, FIRST),
    input: { timing: FAST_TIMING },
    yes: true,
  });
  const r = (await h.result()) as FormResult;
  expect(r.changed).toBe(true);
  expect(r.primary).toBe('k8s-1');
  expect(r.verification.highAvailability).toBe(true);
  expect(r.verification.voters).toBe(3);
  expect(r.table.join('\n')).toMatch(/\| k8s-w1 \| worker \| yes \|/);

  const status = await s.lab.status();
  expect(status.cluster.ha).toBe(true);
  expect(status.cluster.voters.sort()).toEqual(['k8s-1', 'k8s-2', 'k8s-3']);
  const byName = new Map(status.nodes.map((n) => [n.name, n]));
  for (const n of FIRST) expect(byName.get(n)).toMatchObject({ ready: true, cluster: status.cluster.id });
  expect(byName.get('k8s-w1')?.joinedAs).toBe('worker');
  expect(byName.get('k8s-2')?.joinedAs).toBe('controlplane');
  expect(byName.get('k8s-4')?.cluster).not.toBe(status.cluster.id);

  // Control-plane joins never overlap: each ends before the next starts; each node joined exactly once.
  const joins = commandsOf(s.lab, 'join').filter((e) => e.exit === 0);
  expect(joins.map((e) => e.node).sort()).toEqual(['k8s-2', 'k8s-3', 'k8s-w1', 'k8s-w2']);
  const cp = joins.filter((e) => e.node === 'k8s-2' || e.node === 'k8s-3').sort((a, b) => a.t.localeCompare(b.t));
  expect(Date.parse(cp[0].t) + (cp[0].ms ?? 0)).toBeLessThanOrEqual(Date.parse(cp[1].t));

  const tokens = issuedTokens(s.lab);
  expect(tokens.length).toBeGreaterThanOrEqual(4);
  const text = historyText(s.env, h.workflowId);
  expect(text).toContain('join k8s-2 as control plane');
  for (const t of tokens) expect(text).not.toContain(t);
});

test('rerun on the formed cluster changes nothing and says so', async () => {
  const before = commandsOf(s.lab, 'join').length + commandsOf(s.lab, 'add-node').length;
  const h = await start(s.env, s.worker, { kind: 'form', workflowType: 'form', inventory: subset(s.lab.inventory, FIRST), input: { timing: FAST_TIMING }, yes: true });
  const r = (await h.result()) as FormResult;
  expect(r.changed).toBe(false);
  expect(r.joined).toEqual([]);
  expect(r.plan.join('\n')).toContain('nothing to change');
  expect(r.notes.join('\n')).toContain('already formed');
  expect(commandsOf(s.lab, 'join').length + commandsOf(s.lab, 'add-node').length).toBe(before);
});

test('--plan on a bigger inventory lists the joins from live state and changes nothing', async () => {
  const h = await start(s.env, s.worker, { kind: 'form', workflowType: 'form', inventory: s.lab.inventory, input: { timing: FAST_TIMING }, planOnly: true });
  const r = (await h.result()) as FormResult;
  const plan = r.plan.join('\n');
  expect(plan).toMatch(/extending the cluster/);
  expect(plan).toMatch(/1\. join k8s-4 as control plane/);
  expect(plan).toMatch(/2\. join 2 worker\(s\) with --worker, 5 at a time: k8s-w3, k8s-w4/);
  expect((await s.lab.status()).nodes.find((n) => n.name === 'k8s-w3')?.cluster).not.toBe((await s.lab.status()).cluster.id);
});

test('grow by one control plane and 2 workers: only the new nodes join', async () => {
  const h = await start(s.env, s.worker, { kind: 'form', workflowType: 'form', inventory: s.lab.inventory, input: { timing: FAST_TIMING }, yes: true });
  const r = (await h.result()) as FormResult;
  expect(new Set(r.joined)).toEqual(new Set(['k8s-4', 'k8s-w3', 'k8s-w4']));
  const status = await s.lab.status();
  expect(status.cluster.nodes.sort()).toEqual(s.lab.inventory.nodes.map((n) => n.name).sort());
  expect(status.cluster.voters).toHaveLength(3);
  const joinedOnce = commandsOf(s.lab, 'join').filter((e) => e.exit === 0).map((e) => e.node);
  expect(joinedOnce.length).toBe(new Set(joinedOnce).size);
});

test('failure domains: ha-conf written and nodes restarted one at a time; a rerun changes nothing', async () => {
  const domains: Record<string, number> = { 'k8s-1': 1, 'k8s-2': 2, 'k8s-3': 3 };
  const withDomains: Inventory = { ...s.lab.inventory, nodes: s.lab.inventory.nodes.map((n) => ({ ...n, failureDomain: domains[n.name] })) };
  const h = await start(s.env, s.worker, { kind: 'form', workflowType: 'form', inventory: withDomains, input: { timing: FAST_TIMING }, yes: true });
  const r = (await h.result()) as FormResult;
  expect(r.changed).toBe(true);
  expect(r.plan.filter((l) => l.includes('failure-domain'))).toEqual([
    expect.stringContaining('set failure-domain=2 in k8s-2'),
    expect.stringContaining('set failure-domain=3 in k8s-3'),
  ]);
  for (const [name, d] of Object.entries(domains)) {
    expect(fs.readFileSync(path.join(snapPaths(s.lab.dir, name).haConf), 'utf8')).toMatch(new RegExp(`^failure-domain=${d}$`, 'm'));
  }
  const restarts = s.lab.journal().filter((e) => e.argv && (e.argv.includes('stop') || e.argv.includes('start')) && e.argv[0] === 'microk8s');
  expect(restarts.map((e) => `${e.node}:${e.argv![1]}`)).toEqual(['k8s-2:stop', 'k8s-2:start', 'k8s-3:stop', 'k8s-3:start']);
  expect((await s.lab.status()).cluster.ha).toBe(true);

  const again = await start(s.env, s.worker, { kind: 'form', workflowType: 'form', inventory: withDomains, input: { timing: FAST_TIMING }, yes: true });
  expect(((await again.result()) as FormResult).changed).toBe(false);
});

test('remove a s.worker, then a control plane', async () => {
  for (const node of ['k8s-w4', 'k8s-4']) {
    const h = await start(s.env, s.worker, { kind: 'remove-node', workflowType: 'removeNode', inventory: s.lab.inventory, input: { node, timing: FAST_TIMING }, yes: true });
    const r = (await h.result()) as RemoveNodeResult;
    expect(r.changed).toBe(true);
    const status = await s.lab.status();
    expect(status.cluster.nodes).not.toContain(node);
  }
  const status = await s.lab.status();
  expect(status.cluster.ha).toBe(true);
  expect(status.cluster.voters.sort()).toEqual(['k8s-1', 'k8s-2', 'k8s-3']);
  expect(commandsOf(s.lab, 'leave').map((e) => e.node)).toEqual(['k8s-w4', 'k8s-4']);
});

test('a removal that ends HA waits for approval; rejected, it changes nothing', async () => {
  const h = await start(s.env, s.worker, {
    kind: 'remove-node',
    workflowType: 'removeNode',
    inventory: s.lab.inventory,
    input: { node: 'k8s-3', timing: FAST_TIMING },
    yes: true,
  });
  let pending: RunbookProgress['pendingApproval'];
  for (let i = 0; i < 100 && !pending; i++) {
    pending = ((await h.query(progressQuery)) as RunbookProgress).pendingApproval;
    if (!pending) await new Promise((r) => setTimeout(r, 100));
  }
  expect(pending?.summary).toMatch(/leaves 2 control-plane node\(s\): no high availability.*Add a control-plane node first/);
  await h.executeUpdate(rejectUpdate, { args: [{ id: pending!.id, by: 'tester@jest', reason: 'keep HA' }] });
  const err = await h.result().catch((e) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const status = await s.lab.status();
  expect(status.cluster.voters).toContain('k8s-3');
  expect(commandsOf(s.lab, 'leave').map((e) => e.node)).not.toContain('k8s-3');
});

test('a lost worker: refused without --force-lost (with the hint), removed with it', async () => {
  await s.lab.fault('k8s-w3', 'destroy');
  const refused = await start(s.env, s.worker, { kind: 'remove-node', workflowType: 'removeNode', inventory: s.lab.inventory, input: { node: 'k8s-w3', timing: FAST_TIMING }, yes: true });
  const err = await refused.result().catch((e) => e);
  expect(String((err as WorkflowFailedError).cause?.message)).toMatch(/k8s-w3 is unreachable over SSH; if it is gone for good, rerun with --force-lost/);

  const h = await start(s.env, s.worker, {
    kind: 'remove-node',
    workflowType: 'removeNode',
    inventory: s.lab.inventory,
    input: { node: 'k8s-w3', forceLost: true, timing: FAST_TIMING },
    yes: true,
  });
  expect(((await h.result()) as RemoveNodeResult).changed).toBe(true);
  // The destroyed machine still believes it is in the cluster; the cluster's Kubernetes node list is the truth.
  const truth = s.lab.rawState();
  const cluster = truth.clusters[truth.nodes['k8s-1'].cluster];
  expect(cluster.k8sNodes.map((k) => k.name)).not.toContain('k8s-w3');
  expect(commandsOf(s.lab, 'remove-node').filter((e) => e.argv!.includes('k8s-w3')).map((e) => e.argv!.slice(-2))).toEqual([['k8s-w3', '--force']]);
});
