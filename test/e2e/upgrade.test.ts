/**
 * The rolling upgrade end to end: real dev server, real worker and activities, real sshd (lab, fast profile).
 * Assertions read the lab's truth and journal.
 */
import * as fs from 'fs';
import * as path from 'path';
import { WorkflowFailedError } from '@temporalio/client';
import { approveUpdate, decideUpdate, pauseUpdate, rejectUpdate, resumeUpdate } from '../../common/messages';
import { waitFor } from '../support/lab';
import { useServerSuite } from '../support/e2e';
import { formedLab, historyText, journalInvariants, refreshes, settle, startUpgrade, waitProgress } from './upgrade-support';

const suite = useServerSuite({ name: 'upgrade-e2e' });

const CPS = ['k8s-1', 'k8s-2', 'k8s-3'];

test('happy path: 3 control planes + 2 workers from 1.28 to 1.29, invariants hold, no secret in history', async () => {
  const lab = await formedLab(suite);
  const worker = await suite.worker();
  const handle = await startUpgrade(suite.env, lab, worker.taskQueue, { to: '1.29/stable' });
  const { value, error } = await settle(handle);
  expect(error).toBeUndefined();
  expect(value.outcome).toBe('upgraded');
  expect(value.backup.sha256).toMatch(/^[0-9a-f]{64}$/);
  const st = await lab.status();
  for (const n of st.nodes) expect(n).toMatchObject({ ready: true, cordoned: false, held: false, channel: '1.29/stable' });
  for (const n of st.nodes) expect(n.version).toMatch(/^v1\.29\./);
  const journal = lab.journal();
  expect(journalInvariants(journal, CPS)).toEqual([]);
  // Patch pass first (latest 1.28), then 1.29; control planes before workers in each pass.
  const r = refreshes(journal);
  expect(r.map((x) => x.channel)).toEqual([...Array(5).fill('1.28/stable'), ...Array(5).fill('1.29/stable')]);
  expect(r.slice(5, 8).every((x) => CPS.includes(x.node))).toBe(true);
  expect(journal.filter((e) => e.event === 'held')).toHaveLength(5);
  expect(journal.filter((e) => e.event === 'unheld')).toHaveLength(5);
  // No secret in history (parent and children, payloads decoded): no private key, no join token the lab holds.
  const history = await historyText(suite.env, handle);
  expect(history).toContain('snap refresh microk8s --channel=1.29/stable'); // the scan reads decoded payloads
  expect(history).toContain('kubectl drain k8s-w1'); // and the children's histories
  expect(history).not.toMatch(/PRIVATE KEY/);
  const keyBody = fs.readFileSync(path.join(lab.dir, 'id_ed25519'), 'utf8').split('\n')[1];
  expect(keyBody.length).toBeGreaterThan(20);
  expect(history).not.toContain(keyBody);
  for (const token of labTokens(lab)) expect(history).not.toContain(token);
});

test('multi-hop 1.28 → 1.30: one minor at a time, each a full pass', async () => {
  const lab = await formedLab(suite, 3, 1);
  const worker = await suite.worker();
  // Two minors ahead with --yes: confirmed by --hops 2 (without it the plan refuses; see upgrade-request.test.ts).
  const { error } = await settle(await startUpgrade(suite.env, lab, worker.taskQueue, { to: '1.30', hops: 2 }));
  expect(error).toBeUndefined();
  const st = await lab.status();
  for (const n of st.nodes) expect(n.version).toMatch(/^v1\.30\./);
  const journal = lab.journal();
  expect([...new Set(refreshes(journal).map((x) => x.channel))]).toEqual(['1.28/stable', '1.29/stable', '1.30/stable']);
  expect(journalInvariants(journal, CPS)).toEqual([]);
});

test.each([
  ['node', (v: Record<string, string>, before: string[]) => {
    expect(v['k8s-2']).toMatch(/^v1\.28\./);
    for (const n of before) expect(v[n]).toMatch(/^v1\.29\./);
  }],
  ['all', (v: Record<string, string>) => {
    for (const version of Object.values(v)) expect(version).toMatch(/^v1\.28\./);
  }],
])('fail-upgrade on k8s-2 with --rollback %s', async (rollback, check) => {
  const lab = await formedLab(suite, 3, 1);
  const worker = await suite.worker();
  await lab.fault('k8s-2', 'fail-upgrade', { to: '1.29' });
  const { error } = await settle(await startUpgrade(suite.env, lab, worker.taskQueue, { to: '1.29', rollback, readyTimeoutSeconds: 5 }));
  expect(error).toBeInstanceOf(WorkflowFailedError);
  expect(String(error.cause.message)).toMatch(/upgrade stopped at k8s-2/);
  const st = await lab.status();
  const versions = Object.fromEntries(st.nodes.map((n) => [n.name, n.version]));
  const journal = lab.journal();
  // Nodes that reached 1.29 before k8s-2 failed.
  const order = refreshes(journal).filter((x) => x.channel === '1.29/stable').map((x) => x.node);
  check(versions, order.slice(0, order.indexOf('k8s-2')));
  const k2 = st.nodes.find((n) => n.name === 'k8s-2')!;
  expect(k2).toMatchObject({ ready: true, cordoned: false, held: false });
  expect(journal.some((e) => e.event === 'reverted' && e.node === 'k8s-2')).toBe(true);
  expect(refreshes(journal).some((x) => x.channel === '1.29/stable' && x.node.includes('w'))).toBe(false);
  expect(journalInvariants(journal, CPS)).toEqual([]);
});

test('a PDB-blocked drain ends in a pause naming the pod and the budget', async () => {
  const lab = await formedLab(suite, 3, 1);
  const worker = await suite.worker();
  await lab.fault('k8s-w1', 'pdb-block');
  const handle = await startUpgrade(suite.env, lab, worker.taskQueue, { to: '1.28', onFailure: 'pause', drainTimeoutSeconds: 2 });
  const p = await waitProgress(handle, (x) => /waiting for an operator decision/.test(x.step));
  expect(p.step).toMatch(/drain of k8s-w1 blocked by a PodDisruptionBudget: pod default\/\S+ \(PodDisruptionBudget \S+\)/);
  expect(p.step).not.toMatch(/not found: kubectl get pdb/);
  expect((await lab.status()).nodes.find((n) => n.name === 'k8s-w1')!.cordoned).toBe(false);
  await handle.executeUpdate(decideUpdate, { args: [{ decision: 'abort', by: 'ops@host', reason: 'fix the budget' }] });
  const { error } = await settle(handle);
  expect(String(error.cause.message)).toMatch(/aborted by ops@host/);
  expect(journalInvariants(lab.journal(), CPS)).toEqual([]);
});

function labTokens(lab: { dir: string }): string[] {
  const out: string[] = [];
  const nodes = path.join(lab.dir, 'nodes');
  for (const n of fs.existsSync(nodes) ? fs.readdirSync(nodes) : []) {
    const f = path.join(nodes, n, 'root/var/snap/microk8s/current/credentials/cluster-tokens.txt');
    if (fs.existsSync(f)) out.push(...fs.readFileSync(f, 'utf8').split('\n').map((l) => l.split('|')[0]).filter((t) => t.length >= 32));
  }
  return out;
}

test('operator actions: approve, approval timeout pauses, resume, pause between nodes, reject', async () => {
  const lab = await formedLab(suite, 3, 1);
  const worker = await suite.worker();
  const handle = await startUpgrade(suite.env, lab, worker.taskQueue, { to: '1.28', approve: 'each', approvalTimeoutSeconds: 2 });
  let p = await waitProgress(handle, (x) => !!x.pendingApproval);
  expect(p.pendingApproval!.summary).toMatch(/^upgrade k8s-\d to 1\.28\/stable$/);
  await handle.executeUpdate(approveUpdate, { args: [{ id: p.pendingApproval!.id, by: 'alice@host', reason: 'change 42' }] });
  // Nobody answers the next one: after 2 s the runbook pauses, and nothing else is refreshed meanwhile.
  p = await waitProgress(handle, (x) => x.paused && x.approvals.some((a) => a.decision === 'timed-out'));
  const refreshedSoFar = refreshes(lab.journal()).length;
  expect(refreshedSoFar).toBe(1);
  await handle.executeUpdate(pauseUpdate, { args: [{ by: 'bob@host' }] }); // already paused: stays paused
  await handle.executeUpdate(resumeUpdate, { args: [{ by: 'bob@host' }] });
  p = await waitProgress(handle, (x) => !!x.pendingApproval && !x.paused);
  await handle.executeUpdate(approveUpdate, { args: [{ by: 'bob@host' }] });
  // Pause while that node runs: it finishes, the next one waits.
  await handle.executeUpdate(pauseUpdate, { args: [{ by: 'bob@host' }] });
  p = await waitProgress(handle, (x) => x.paused && /^paused before/.test(x.step) && x.nodes.filter((n) => n.state === 'done').length === 2);
  await new Promise((r) => setTimeout(r, 500));
  expect(refreshes(lab.journal())).toHaveLength(2);
  expect(p.pendingApproval).toBeUndefined();
  await handle.executeUpdate(resumeUpdate, { args: [{ by: 'bob@host' }] });
  p = await waitProgress(handle, (x) => !!x.pendingApproval);
  await expect(handle.executeUpdate(rejectUpdate, { args: [{ by: 'carol@host' }] })).rejects.toThrow(); // a reason is required
  await handle.executeUpdate(rejectUpdate, { args: [{ by: 'carol@host', reason: 'freeze window' }] });
  const { error } = await settle(handle);
  expect(error.cause.type).toBe('UpgradeRejected');
  const st = await lab.status();
  expect(st.nodes.every((n) => !n.cordoned && !n.held && n.ready)).toBe(true);
  expect(refreshes(lab.journal())).toHaveLength(2);
  const history = await historyText(suite.env, handle);
  expect(history).toContain('alice@host');
  expect(history).toContain('freeze window');
});

test('cancel mid-drain: the node in flight is uncordoned and reported, holds released', async () => {
  const lab = await formedLab(suite, 3, 1);
  const worker = await suite.worker();
  await lab.fault('k8s-w1', 'pdb-block');
  const handle = await startUpgrade(suite.env, lab, worker.taskQueue, { to: '1.28', drainTimeoutSeconds: 60 });
  await waitProgress(handle, (x) => x.nodes.some((n) => n.name === 'k8s-w1' && n.state === 'draining'));
  await waitFor('k8s-w1 cordoned', async () => (await lab.status()).nodes.find((n) => n.name === 'k8s-w1')!.cordoned, 20_000);
  await handle.cancel();
  const { error } = await settle(handle);
  expect(error).toBeInstanceOf(WorkflowFailedError);
  expect(error.cause.name).toBe('CancelledFailure');
  const st = await lab.status();
  expect(st.nodes.find((n) => n.name === 'k8s-w1')).toMatchObject({ cordoned: false, held: false, ready: true });
  expect(st.nodes.every((n) => !n.held)).toBe(true);
  expect(refreshes(lab.journal()).some((r) => r.node === 'k8s-w1')).toBe(false);
  const memo = (await handle.describe()).memo as { compensations: string[] };
  expect(memo.compensations.join('\n')).toMatch(/cancel: k8s-w1 reverted: still on v1\.28\.\d+, Ready, uncordoned/);
  expect(journalInvariants(lab.journal(), CPS)).toEqual([]);
});
