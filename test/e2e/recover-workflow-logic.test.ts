/**
 * recover-quorum's workflow logic against a real dev server and worker, with mocked activities: the refusals of
 * the assessment, the order of the procedure, the audit of file changes, and the restore offer after a failure.
 */
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { chooseTemplate, isCopiedFromTemplate, isFollowerLeftover, raftPosition, rolesFor } from '../../activities/microk8s/raft';
import type { NodeAssessment, QuorumAssessment } from '../../activities/recovery-reports';
import { resolveInventory, type Inventory } from '../../common/inventory';
import { approveUpdate, progressQuery } from '../../common/messages';
import type { RecoverQuorumResult } from '../../common/recovery';
import { useServerSuite } from '../support/e2e';
import { startRunbook } from '../support/temporal';

const suite = useServerSuite({ name: 'recover-logic' });

let seq = 0;

function inventory(cps = 3): Inventory {
  return resolveInventory({
    cluster: `rq-logic-${process.pid}-${++seq}`,
    nodes: Array.from({ length: cps }, (_, i) => ({ name: `k8s-${i + 1}`, address: `10.0.0.${i + 1}` })),
  });
}

const raft = (term: number, index: number) => [
  { name: 'cluster.yaml', size: 10 },
  { name: 'info.yaml', size: 10 },
  { name: `snapshot-${term}-${index}-1`, size: 10 },
  { name: `snapshot-${term}-${index}-1.meta`, size: 10 },
  { name: 'open-1', size: 10 },
  { name: 'metadata1', size: 32 },
];

function node(name: string, over: Partial<NodeAssessment> = {}): NodeAssessment {
  const i = Number(name.split('-')[1]);
  const files = raft(2, 1000 + i);
  return {
    name,
    role: 'controlplane',
    reachable: true,
    stopped: false,
    info: { id: String(1000 + i), address: `10.0.0.${i}:19001`, role: 'voter' },
    files,
    position: raftPosition(files),
    ...over,
  };
}

function assessment(inv: Inventory, lost: string[], over: Partial<QuorumAssessment> = {}): QuorumAssessment {
  return {
    nodes: inv.nodes.map((n) => (lost.includes(n.name) ? node(n.name, { reachable: false, error: 'connection refused', info: undefined, files: undefined }) : node(n.name))),
    api: { answering: false, detail: 'k8s-1: The connection to the server 127.0.0.1:16443 was refused' },
    commands: [],
    ...over,
  };
}

/** What the real assessment proposes, from the mocked survivors' files. */
function proposal(a: QuorumAssessment, lost: string[], override?: string): QuorumAssessment['proposal'] {
  const survivors = a.nodes.filter((n) => n.reachable && n.files && !lost.includes(n.name));
  if (!survivors.length) return undefined;
  const c = chooseTemplate(survivors.map((s) => ({ node: s.name, position: s.position! })), override);
  const tpl = survivors.find((s) => s.name === c.template)!;
  const others = survivors.filter((s) => s !== tpl);
  const roles = rolesFor(survivors.length);
  return {
    template: c.template,
    evidence: c.evidence,
    roles: [tpl, ...others].map((s, i) => ({ node: s.name, role: roles[i] })),
    leftovers: Object.fromEntries(others.map((s) => [s.name, s.files!.map((f) => f.name).filter(isFollowerLeftover)])),
    toCopy: tpl.files!.map((f) => f.name).filter(isCopiedFromTemplate),
  };
}

function mocks(a: QuorumAssessment, opts: { failDistribute?: boolean } = {}) {
  const calls: string[] = [];
  const change = (n: string, p: string, action: 'copied' | 'rewritten' | 'deleted' | 'created') => ({ node: n, path: p, action, size: 1, sha256: 'f'.repeat(64) });
  const activities = {
    assessQuorumLoss: async ({ lost, template }: { lost: string[]; template?: string }) => ({ ...a, proposal: proposal(a, lost, template) }),
    chooseTemplateNode: async ({ survivors, template }: { survivors: string[]; template?: string }) => {
      const states = survivors.map((n) => {
        const s = a.nodes.find((x) => x.name === n)!;
        return { node: n, info: s.info!, position: s.position! };
      });
      return { ...chooseTemplate(states, template), states, commands: [] };
    },
    stopMicrok8sOnNode: async ({ node: n }: { node: string }) => (calls.push(`stop ${n}`), { node: n, changed: true, detail: 'microk8s stop', commands: [] }),
    startMicrok8sOnNode: async ({ node: n }: { node: string }) => (calls.push(`start ${n}`), { node: n, changed: true, detail: 'microk8s start', commands: [] }),
    backupNode: async ({ node: n, id }: { node: string; id: string }) => {
      calls.push(`backup ${n}`);
      return { id, node: n, cluster: 'c', path: `/b/${id}.tar`, sha256: 'a'.repeat(64), size: 10240, files: ['info.yaml'], entries: [], backend: '/x', stopped: true, createdAt: '', reused: false, pruned: [], commands: [] };
    },
    rewriteClusterYaml: async ({ template, members }: { template: string; members: Array<{ node: string }> }) => {
      calls.push(`rewrite ${template} ${members.map((m) => m.node).join(',')}`);
      return { node: template, changed: true, detail: '', changes: [change(template, '/x/cluster.yaml', 'rewritten')], files: [], clusterYaml: '', commands: [] };
    },
    reconfigureTemplate: async ({ template }: { template: string }) => (calls.push(`reconfigure ${template}`), { node: template, changed: true, detail: 'OK', changes: [], files: [], commands: [] }),
    distributeRaftFiles: async ({ target }: { target: string }) => {
      calls.push(`copy ${target}`);
      if (opts.failDistribute) throw ApplicationFailure.create({ type: 'ChecksumMismatch', message: 'segment arrived corrupted', nonRetryable: true });
      return { node: target, changed: true, detail: '', changes: [change(target, '/x/open-1', 'deleted'), change(target, '/x/snapshot-2-1003-1', 'copied')], files: [], commands: [] };
    },
    waitForQuorum: async () => (calls.push('waitForQuorum'), { via: 'k8s-1', members: [], nodes: [], attempts: 1 }),
    removeLostNodes: async ({ lost }: { lost: string[] }) => (calls.push(`remove ${lost.join(',')}`), { removed: lost, absent: [], commands: [] }),
    verifyRecovery: async ({ expectedVoters }: { expectedVoters: number }) => ({ ready: [], nodes: [], members: [], voters: expectedVoters, ha: expectedVoters > 2 }),
    restoreNodeBackup: async ({ node: n, backupId }: { node: string; backupId: string }) => (calls.push(`restore ${n} ${backupId}`), { node: n, backupId, alreadyRestored: false, changes: [], commands: [] }),
  };
  return { calls, activities };
}

interface Running {
  handle: Awaited<ReturnType<typeof startRunbook>>;
  settled: Promise<RecoverQuorumResult>;
}

/** Start the runbook on its own worker (the suite stops it after the test); `settled` resolves or rejects with the result. */
async function run(inv: Inventory, m: ReturnType<typeof mocks>, input: Record<string, unknown>): Promise<Running> {
  const worker = await suite.worker({ activities: m.activities });
  const handle = await startRunbook(suite.env, { kind: 'recover-quorum', workflowType: 'recoverQuorum', inventory: inv, input, summary: 'rq', yes: true }, worker.taskQueue);
  const settled = handle.result() as Promise<RecoverQuorumResult>;
  return { handle, settled };
}

async function failureType(r: Running): Promise<string> {
  const err = await r.settled.then(() => undefined, (e) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  return ((err as WorkflowFailedError).cause as ApplicationFailure).type ?? '';
}

test('refuses on a cluster whose quorum is intact, before anything is stopped', async () => {
  const inv = inventory();
  const m = mocks(assessment(inv, ['k8s-2', 'k8s-3'], { leader: { via: 'k8s-1', members: [] } }));
  const r = await run(inv, m, { lost: ['k8s-2', 'k8s-3'] });
  expect(await failureType(r)).toBe('QuorumIntact');
  expect(m.calls).toEqual([]);
});

test('refuses a "lost" node that still answers, unless --fence stops it first', async () => {
  const inv = inventory();
  const a = assessment(inv, ['k8s-3']);
  a.nodes[1] = node('k8s-2'); // listed as lost but answers
  const refused = mocks(a);
  const r1 = await run(inv, refused, { lost: ['k8s-2', 'k8s-3'] });
  expect(await failureType(r1)).toBe('LostNodeAnswers');
  expect(refused.calls).toEqual([]);

  const fenced = mocks(a);
  const r2 = await run(inventory(), fenced, { lost: ['k8s-2', 'k8s-3'], fence: true });
  await r2.settled;
  expect(fenced.calls[0]).toBe('stop k8s-2');
});

test('refuses when no survivor answers', async () => {
  const inv = inventory();
  const a = assessment(inv, ['k8s-1', 'k8s-2', 'k8s-3']);
  const m = mocks(a);
  const r = await run(inv, m, { lost: ['k8s-2', 'k8s-3'] });
  expect(await failureType(r)).toBe('NoSurvivorReachable');
});

test('5 nodes, 3 lost: stop, back up, template by newest data, reconfigure once, copy, start, remove, verify', async () => {
  const inv = inventory(5);
  const a = assessment(inv, ['k8s-2', 'k8s-3', 'k8s-5']);
  // k8s-4 has the newest data (higher term), so it is the template.
  a.nodes[3] = node('k8s-4', { files: raft(3, 10), position: raftPosition(raft(3, 10)) });
  const m = mocks(a);
  const r = await (await run(inv, m, { lost: ['k8s-2', 'k8s-3', 'k8s-5'] })).settled;
  expect(m.calls).toEqual([
    'stop k8s-1', 'stop k8s-4', 'backup k8s-1', 'backup k8s-4',
    'rewrite k8s-4 k8s-4,k8s-1', 'reconfigure k8s-4', 'copy k8s-1',
    'start k8s-4', 'start k8s-1', 'waitForQuorum', 'remove k8s-2,k8s-3,k8s-5',
  ]);
  expect(r.template).toBe('k8s-4');
  expect(r.ha).toBe(false);
  expect(r.fileChanges.map((c) => `${c.node} ${c.action} ${c.path}`)).toEqual([
    'k8s-4 rewritten /x/cluster.yaml', 'k8s-1 deleted /x/open-1', 'k8s-1 copied /x/snapshot-2-1003-1',
  ]);
  expect(r.backups.map((b) => b.node)).toEqual(['k8s-1', 'k8s-4']);
});

test('--template overrides the newest-data choice', async () => {
  const inv = inventory(5);
  const a = assessment(inv, ['k8s-2', 'k8s-3', 'k8s-5']);
  a.nodes[3] = node('k8s-4', { files: raft(3, 10), position: raftPosition(raft(3, 10)) });
  const m = mocks(a);
  const r = await run(inv, m, { lost: ['k8s-2', 'k8s-3', 'k8s-5'], template: 'k8s-1' });
  expect((await r.settled).template).toBe('k8s-1');
  expect(m.calls).toContain('reconfigure k8s-1');
});

test('a checksum failure during the copy stops, offers the restore, and restores every survivor when approved', async () => {
  const inv = inventory(5);
  const m = mocks(assessment(inv, ['k8s-2', 'k8s-3', 'k8s-5']), { failDistribute: true });
  const r = await run(inv, m, { lost: ['k8s-2', 'k8s-3', 'k8s-5'] });
  const { handle } = r;
  for (let i = 0; i < 100; i++) {
    const p = await handle.query(progressQuery);
    if (p.pendingApproval) {
      expect(p.pendingApproval.summary).toMatch(/restore every survivor/);
      expect(p.notes.join('\n')).toMatch(/runbook restore-backup -i <inventory> --node k8s-1 --backup rq-/);
      await handle.executeUpdate(approveUpdate, { args: [{ by: 'tester@jest' }] });
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(await failureType(r)).toBe('RecoveryFailed');
  const restores = m.calls.filter((c) => c.startsWith('restore '));
  expect(restores.map((c) => c.split(' ')[1])).toEqual(['k8s-1', 'k8s-4']);
  expect(m.calls).not.toContain('waitForQuorum');
});
