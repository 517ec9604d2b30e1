/**
 * The chaos invariants can fail: each is shown a small journal that breaks it, and a clean one that does not.
 */
import type { JournalEntry } from '../../lab';
import { checkInvariants, type InvariantContext } from './invariants';

const base = Date.parse('2026-01-01T00:00:00Z');
const T = (s: number) => new Date(base + s * 1000).toISOString();
const ev = (s: number, node: string, event: string, extra: Record<string, unknown> = {}): JournalEntry => ({ t: T(s), node, event, ...extra });
const cmd = (s: number, node: string, argv: string[], exit = 0): JournalEntry => ({ t: T(s), node, argv, exit, ms: 1 });

const ctx: InvariantContext = {
  windows: [
    { kind: 'upgrade', startMs: base + 10_000, endMs: base + 20_000 },
    { kind: 'recover-quorum', startMs: base + 30_000, endMs: base + 40_000 },
  ],
  voters: ['k8s-1', 'k8s-2', 'k8s-3'],
  controlPlanes: ['k8s-1', 'k8s-2', 'k8s-3'],
  initialMinor: 28,
  survivors: ['k8s-1', 'k8s-4'],
};
const B = '/x/var/snap/microk8s/current/var/kubernetes/backend';

const clean: JournalEntry[] = [
  ev(1, 'k8s-2', 'joined'),
  ev(5, 'k8s-w1', 'cordoned'), // an operator's cordon, before the upgrade
  ev(11, 'k8s-1', 'cordoned'),
  ev(11.5, 'k8s-1', 'out-of-service', { reason: 'refresh' }),
  ev(11.6, 'k8s-1', 'refreshed', { from: 'v1.28.8', to: 'v1.29.3' }),
  ev(12, 'k8s-1', 'in-service'),
  ev(12.1, 'k8s-1', 'uncordoned'),
  ev(13, 'k8s-2', 'cordoned'),
  ev(13.1, 'k8s-2', 'refreshed', { from: 'v1.28.8', to: 'v1.29.3' }),
  ev(13.5, 'k8s-2', 'uncordoned'),
  ev(14, 'k8s-3', 'refreshed', { from: 'v1.28.8', to: 'v1.29.3' }),
  ev(15, 'k8s-w2', 'refreshed', { from: 'v1.28.8', to: 'v1.29.3' }),
  ev(25, 'k8s-2', 'out-of-service', { reason: 'destroy' }),
  ev(25, 'k8s-3', 'out-of-service', { reason: 'destroy' }),
  cmd(31, 'k8s-1', ['tar', '-C', B, '--exclude=./kine.sock', '-cf', '-', '.']),
  cmd(31.5, 'k8s-4', ['tar', '-C', B, '--exclude=./kine.sock', '-cf', '-', '.']),
  ev(32, 'k8s-1', 'reconfigured', { epoch: 'e2' }),
  cmd(33, 'k8s-4', ['mv', '-f', `${B}/x.tmp`, `${B}/0000001-0000002`]),
];

const judge = (j: JournalEntry[]) => Object.fromEntries(Object.entries(checkInvariants(j, ctx)).filter(([, v]) => v.length));

test('a clean journal passes every invariant (destroys outside an upgrade and an operator cordon are not held against it)', () => {
  expect(judge(clean)).toEqual({});
});

test('two voters out of service at once during an upgrade', () => {
  const j = [...clean.slice(0, 3), ev(11.2, 'k8s-2', 'out-of-service', { reason: 'refresh' }), ...clean.slice(3)];
  expect(Object.keys(judge(j))).toEqual(['two voters out of service during an upgrade']);
});

test('a worker refreshed to 1.29 while a control plane still runs 1.28', () => {
  const j = [...clean.slice(0, 8), ev(13.05, 'k8s-w1', 'refreshed', { from: 'v1.28.8', to: 'v1.29.3' }), ...clean.slice(8)];
  expect(judge(j)['worker refreshed before every control plane']?.[0]).toMatch(/k8s-w1 refreshed to v1.29.3 while k8s-2 ran 1.28, k8s-3 ran 1.28/);
});

test('a patch refresh of a worker (same minor) is no violation; a revert moves the control plane back', () => {
  const patch = [ev(10.5, 'k8s-w1', 'refreshed', { from: 'v1.28.6', to: 'v1.28.8' }), ...clean];
  expect(judge(patch)).toEqual({});
  const reverted = [...clean.slice(0, 11), ev(14.5, 'k8s-3', 'reverted', { from: 'v1.29.3', to: 'v1.28.8' }), ...clean.slice(11)];
  expect(Object.keys(judge(reverted))).toContain('worker refreshed before every control plane');
});

test('a reconfigure before a survivor was backed up', () => {
  const j = clean.filter((e) => !(e.node === 'k8s-4' && e.argv?.[0] === 'tar'));
  expect(judge(j)['reconfigure without a backup first']).toEqual([`${T(32)}: .reconfigure on k8s-1 before any backup of k8s-4`]);
  const failedTar = clean.map((e) => (e.node === 'k8s-4' && e.argv?.[0] === 'tar' ? { ...e, exit: 2 } : e));
  expect(Object.keys(judge(failedTar))).toEqual(['reconfigure without a backup first']);
});

test("the engine uncordoning a node an operator cordoned", () => {
  const j = [...clean.slice(0, 12), ev(16, 'k8s-w1', 'uncordoned'), ...clean.slice(12)];
  expect(judge(j)['uncordoned a node the engine did not cordon']?.[0]).toMatch(/upgrade uncordoned k8s-w1, which an operator had cordoned/);
  // The operator uncordoning it after the run is fine.
  expect(judge([...clean.slice(0, 12), ev(22, 'k8s-w1', 'uncordoned'), ...clean.slice(12)])).toEqual({});
});

test('a node joined twice', () => {
  expect(judge([...clean, ev(41, 'k8s-2', 'joined')])['node joined twice']).toEqual([`k8s-2 joined 2 times (${T(1)}, ${T(41)})`]);
});

test('a reconfigure after the raft files went to another survivor, or a second reconfigure', () => {
  const j = [...clean, ev(34, 'k8s-1', 'reconfigured', { epoch: 'e3' })];
  const v = judge(j)['reconfigure after files were distributed'];
  expect(v).toHaveLength(2);
  expect(v[0]).toMatch(/2 .reconfigure runs in one recovery/);
  expect(v[1]).toMatch(/\.reconfigure on k8s-1 after raft files were copied to k8s-4/);
});
