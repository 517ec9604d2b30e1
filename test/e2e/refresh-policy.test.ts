/**
 * `runbook refresh-policy` end to end: the CLI as a child process, the real dev server, a real worker and a formed
 * lab behind real sshd, whose snapd answers `snap refresh --hold` as snapd 2.63 does (behaviour reference §14).
 * What the runbook did is checked by hand on the nodes, the way an SRE would: `snap info` and `snap list`.
 */
import type { RefreshPolicyResult } from '../../common/refresh-policy';
import { useLabSuite } from '../support/e2e';
import { execEach, waitFor } from '../support/lab';
import { startRunbook } from '../support/temporal';

const s = useLabSuite({ lab: { name: 'rp', controlPlanes: 3, workers: 1, channel: '1.28/stable', formed: true, profile: 'fast' } });

const cli = (...args: string[]) => s.cli(['refresh-policy', '-i', s.lab.inventoryPath, ...args]);

/** What the node itself says: microk8s's hold line in `snap info`, and the Notes column of `snap list`. */
async function holdOnNode(node: string): Promise<{ hold?: string; notes: string }> {
  const [info, list] = await execEach(s.lab, node, ['snap info --abs-time microk8s', 'snap list microk8s']);
  const hold = /^hold:\s+(.*)$/m.exec(info.stdout)?.[1];
  const notes = list.stdout.trim().split('\n')[1]?.trim().split(/\s+/)[5] ?? '';
  return { ...(hold ? { hold } : {}), notes };
}

test('--status: every node with its channel, version and holds; a node held by hand is drift, named', async () => {
  const byHand = await s.lab.exec('k8s-2', 'sudo snap refresh --hold microk8s');
  expect(byHand.stdout.trim()).toBe('General refreshes of "microk8s" held indefinitely');

  const r = await cli('--status', '--json');
  expect(r.code).toBe(0);
  const result = JSON.parse(r.stdout) as RefreshPolicyResult;
  expect(result.nodes.map((n) => [n.node, n.tracking, n.hold ?? null])).toEqual([
    ['k8s-1', '1.28/stable', null],
    ['k8s-2', '1.28/stable', 'forever'],
    ['k8s-3', '1.28/stable', null],
    ['k8s-w1', '1.28/stable', null],
  ]);
  for (const n of result.nodes) {
    expect(n.version).toMatch(/^v1\.28\./);
    expect(n.timer).toBe('00:00~24:00/4');
    expect(n.next).toMatch(/^\d{4}-\d\d-\d\dT/);
  }
  expect(result.changed).toEqual([]);
  expect(result.drift).toEqual([expect.stringMatching(/^auto-refresh is held on some nodes only: not held \(k8s-1, k8s-3, k8s-w1\) vs held forever \(k8s-2\); a node not held may refresh on its own/)]);

  const table = await cli('--status');
  expect(table.code).toBe(0);
  expect(table.stdout).toMatch(/^NODE\s+CHANNEL\s+VERSION\s+REV\s+MICROK8S HOLD/m);
  expect(table.stdout).toMatch(/^k8s-2\s+1\.28\/stable\s+v1\.28\.\S+\s+\d+\s+forever/m);
  expect(table.stdout).toMatch(/^drift:\n {2}- auto-refresh is held on some nodes only/m);
}, 120_000);

test('--hold: the plan names the nodes not held; afterwards every node says held, and a second --hold changes nothing', async () => {
  const plan = await cli('--hold', '--plan', '--json');
  expect(plan.code).toBe(0);
  expect((JSON.parse(plan.stdout) as RefreshPolicyResult).plan).toEqual([
    'hold auto-refresh of microk8s on k8s-1 indefinitely (snap refresh --hold microk8s)',
    'hold auto-refresh of microk8s on k8s-3 indefinitely (snap refresh --hold microk8s)',
    'hold auto-refresh of microk8s on k8s-w1 indefinitely (snap refresh --hold microk8s)',
  ]);
  expect((await holdOnNode('k8s-1')).hold).toBeUndefined(); // --plan changed nothing

  const r = await cli('--hold', '--yes', '--json');
  expect(r.code).toBe(0);
  const result = JSON.parse(r.stdout) as RefreshPolicyResult;
  expect(result.changed).toEqual(['k8s-1', 'k8s-3', 'k8s-w1']);
  expect(result.drift).toEqual([]);
  for (const node of ['k8s-1', 'k8s-2', 'k8s-3', 'k8s-w1']) {
    const on = await holdOnNode(node);
    expect(on.hold).toBe('forever');
    expect(on.notes.split(',')).toContain('held');
  }

  const again = await cli('--hold', '--yes', '--json');
  expect(again.code).toBe(0);
  expect((JSON.parse(again.stdout) as RefreshPolicyResult).changed).toEqual([]);
  expect((JSON.parse(again.stdout) as RefreshPolicyResult).plan).toEqual(["nothing to do: microk8s's auto-refresh is already held on every node"]);
}, 180_000);

test('--unhold: released on every node; a system-wide hold left in place is named, with the command that releases it', async () => {
  const sys = await s.lab.exec('k8s-3', 'sudo snap refresh --hold');
  expect(sys.stdout.trim()).toBe('Auto-refresh of all snaps held indefinitely');

  const r = await cli('--unhold', '--yes');
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^released on: k8s-1, k8s-2, k8s-3, k8s-w1$/m);
  expect(r.stdout).toMatch(/k8s-3: a system-wide hold \(forever\) still holds every snap; `sudo snap refresh --unhold` \(no name\) releases it/);
  for (const node of ['k8s-1', 'k8s-2', 'k8s-3', 'k8s-w1']) {
    const on = await holdOnNode(node);
    expect(on.hold).toBeUndefined();
    expect(on.notes.split(',')).not.toContain('held');
  }
  await s.lab.exec('k8s-3', 'sudo snap refresh --unhold');
}, 180_000);

test('a node that does not answer: --hold refuses before holding anything, naming it; --status reports the others and names it', async () => {
  await s.lab.fault('k8s-3', 'crash');
  try {
    const since = s.lab.journal().length;
    const r = await cli('--hold', '--yes');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not starting: k8s-3 does not answer \(.+\); nothing was changed \(--hold changes every node or none\)/);
    // Nothing half-held: no hold was taken anywhere.
    expect(s.lab.journal().slice(since).filter((e) => e.event === 'held')).toEqual([]);
    for (const node of ['k8s-1', 'k8s-2', 'k8s-w1']) expect((await holdOnNode(node)).hold).toBeUndefined();

    const st = await cli('--status', '--json');
    expect(st.code).toBe(0);
    const result = JSON.parse(st.stdout) as RefreshPolicyResult;
    expect(result.nodes.map((n) => [n.node, n.tracking ?? null, n.unreachable === undefined ? null : 'unreachable'])).toEqual([
      ['k8s-1', '1.28/stable', null],
      ['k8s-2', '1.28/stable', null],
      ['k8s-3', null, 'unreachable'],
      ['k8s-w1', '1.28/stable', null],
    ]);
    // Named on a line of its own; the nodes that answer agree (no hold drift made up from the silent one).
    expect(result.drift).toEqual([expect.stringMatching(/^k8s-3 does not answer over SSH \(.+\): its channel, version and holds are unknown$/)]);
  } finally {
    await s.lab.heal('k8s-3');
  }
}, 180_000);

test('a node lost in the middle of --hold: the run stops at it within its step timeout, naming what is held and what is not; a rerun holds the rest', async () => {
  // k8s-1's hold is followed by a pause, in which k8s-2 goes down: the plan saw it answer, its own step cannot reach it.
  await s.lab.fault('k8s-1', 'slow', { ms: 1500, when: 'after' });
  const since = s.lab.journal().length;
  const handle = await startRunbook(
    s.env,
    { kind: 'refresh-policy', workflowType: 'refreshPolicy', inventory: s.lab.inventory, input: { action: 'hold', heartbeatTimeoutSeconds: 5, stepTimeoutSeconds: 15 }, summary: 'hold', yes: true },
    s.worker.taskQueue,
  );
  await waitFor('k8s-1 held', () => s.lab.journal().slice(since).some((e) => e.event === 'held' && e.node === 'k8s-1'), 30_000, 20);
  await s.lab.fault('k8s-2', 'crash');
  const started = Date.now();
  const error = await handle.result().then(() => undefined, (e: { cause?: { message?: string; type?: string } }) => e);
  expect(error?.cause?.type).toBe('RefreshPolicyNotApplied');
  expect(error?.cause?.message).toMatch(/^k8s-2 stopped answering over SSH \(.+\); held so far: k8s-1; not yet: k8s-2, k8s-3, k8s-w1\. Run it again when k8s-2 answers: the nodes already held are skipped$/);
  expect(Date.now() - started).toBeLessThan(60_000); // the step's 15 s and a retry's backoff, not the 10 minutes it took before
  expect(s.lab.journal().slice(since).filter((e) => e.event === 'held').map((e) => e.node)).toEqual(['k8s-1']);

  await s.lab.heal('k8s-1');
  await s.lab.heal('k8s-2');
  const rerun = await cli('--hold', '--yes', '--json');
  expect(rerun.code).toBe(0);
  expect((JSON.parse(rerun.stdout) as RefreshPolicyResult).changed).toEqual(['k8s-2', 'k8s-3', 'k8s-w1']);
  for (const node of ['k8s-1', 'k8s-2', 'k8s-3', 'k8s-w1']) expect((await holdOnNode(node)).hold).toBe('forever');
  expect((await cli('--unhold', '--yes')).code).toBe(0); // as the next test expects the cluster: nothing held
}, 180_000);

test('a rolling upgrade leaves the holds an operator set before it in place, and releases only its own', async () => {
  await s.lab.exec('k8s-1', 'sudo snap refresh --hold microk8s');
  const up = await s.cli(['upgrade', '-i', s.lab.inventoryPath, '--to', '1.29/stable', '--yes', '--ready-timeout', '30s'], { timeoutMs: 240_000 });
  expect(up.code).toBe(0);
  expect(up.stdout).toMatch(/snap refresh holds released on k8s-2, k8s-3, k8s-w1; left in place the holds set before this run on k8s-1/);
  expect((await holdOnNode('k8s-1')).hold).toBe('forever');
  for (const node of ['k8s-2', 'k8s-3', 'k8s-w1']) expect((await holdOnNode(node)).hold).toBeUndefined();
  const r = await cli('--status', '--json');
  const result = JSON.parse(r.stdout) as RefreshPolicyResult;
  expect(result.nodes.every((n) => n.tracking === '1.29/stable')).toBe(true);
  expect(result.drift).toEqual([expect.stringMatching(/^auto-refresh is held on some nodes only: held forever \(k8s-1\) vs not held \(k8s-2, k8s-3, k8s-w1\)/)]);
}, 300_000);

test('bad input: no action, or two, is exit 2 naming the flags, and nothing starts', async () => {
  for (const args of [[], ['--hold', '--unhold'], ['--status', '--hold']]) {
    const r = await cli(...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--status: give exactly one of --status, --hold or --unhold/);
    expect(r.stderr).not.toMatch(/started refresh-policy/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }
});
