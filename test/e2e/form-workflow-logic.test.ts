/**
 * The form and remove-node workflows against a real dev server and worker, with mocked activities: ordering
 * (control planes one at a time, workers bounded), plan-only, the stale-member approval and the quorum guard.
 */
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import type { FormSurvey, Verification } from '../../common/form';
import type { RemovalSurvey } from '../../activities/remove-node';
import { resolveInventory, type Inventory } from '../../common/inventory';
import { type RunbookProgress, approveUpdate, progressQuery, rejectUpdate } from '../../common/messages';
import { useServerSuite } from '../support/e2e';
import { startRunbook } from '../support/temporal';

const suite = useServerSuite({ name: 'form-logic' });

let seq = 0;

function inventory(): Inventory {
  return resolveInventory({
    cluster: `logic-${process.pid}-${++seq}`,
    nodes: [
      { name: 'k8s-1', address: '10.0.0.1' },
      { name: 'k8s-2', address: '10.0.0.2' },
      { name: 'k8s-3', address: '10.0.0.3' },
      ...[4, 5, 6, 7, 8].map((i) => ({ name: `k8s-${i}`, address: `10.0.0.${i}`, role: 'worker' as const })),
    ],
  });
}

function survey(inv: Inventory, over: Partial<FormSurvey> = {}): FormSurvey {
  return {
    primary: 'k8s-1',
    extending: false,
    problems: [],
    members: ['k8s-1'],
    joins: inv.nodes.slice(1).map((n) => ({ node: n.name, as: n.role })),
    stale: [],
    failureDomains: [],
    notes: [],
    lines: ['plan line'],
    nodes: [],
    ...over,
  };
}

const verified = (inv: Inventory): Verification => ({
  nodes: inv.nodes.map((n) => ({ name: n.name, role: n.role, ready: true, labelOk: true })),
  voters: 3,
  controlPlanes: 3,
  highAvailability: true,
  problems: [],
});

/** Mock activities that log every join's start and end. */
function mocks(inv: Inventory, s: FormSurvey, joinBehaviour?: (node: string, cleanStale: boolean) => void) {
  const log: Array<{ node: string; as: string; event: 'start' | 'end'; cleanStale: boolean }> = [];
  return {
    log,
    activities: {
      surveyFormation: async () => s,
      joinNode: async ({ node, as, options }: { node: string; as: string; options: { cleanStale: boolean } }) => {
        log.push({ node, as, event: 'start', cleanStale: options.cleanStale });
        joinBehaviour?.(node, options.cleanStale);
        await new Promise((r) => setTimeout(r, 40));
        log.push({ node, as, event: 'end', cleanStale: options.cleanStale });
        return { node, outcome: 'joined', attempts: 1, staleRemoved: false, commands: [] };
      },
      waitNodeJoined: async () => ({ commands: [], outcome: 'settled' }),
      removeStaleMember: async () => ({ commands: [], outcome: 'removed' }),
      setFailureDomain: async () => ({ commands: [], outcome: 'restarted' }),
      verifyFormation: async () => verified(inv),
    },
  };
}

/** The UI summaries of every scheduled activity, decoded from the history. */
function activitySummaries(history: { events?: Array<{ userMetadata?: { summary?: { data?: Uint8Array | null } | null } | null; activityTaskScheduledEventAttributes?: unknown }> | null }): string[] {
  return (history.events ?? [])
    .filter((e) => e.activityTaskScheduledEventAttributes && e.userMetadata?.summary?.data)
    .map((e) => JSON.parse(Buffer.from(e.userMetadata!.summary!.data!).toString('utf8')) as string);
}

async function waitFor<T>(fn: () => Promise<T | undefined>, what: string, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('control-plane nodes join one at a time before workers; workers respect --worker-concurrency', async () => {
  const inv = inventory();
  const m = mocks(inv, survey(inv));
  const w = await suite.worker({ activities: m.activities });
  const h = await startRunbook(
    suite.env,
    { kind: 'form', workflowType: 'form', inventory: inv, input: { workerConcurrency: 2 }, summary: 'form', yes: true },
    w.taskQueue,
  );
  const r = (await h.result()) as { changed: boolean; joined: string[]; table: string[] };
  expect(r.changed).toBe(true);
  expect(new Set(r.joined)).toEqual(new Set(inv.nodes.slice(1).map((n) => n.name)));
  expect(r.table[0]).toMatch(/high-availability: yes, 3 voter/);

  // Control-plane joins never overlap and all finish before the first worker starts.
  const cp = m.log.filter((e) => e.as === 'controlplane').map((e) => `${e.event}:${e.node}`);
  expect(cp).toEqual(['start:k8s-2', 'end:k8s-2', 'start:k8s-3', 'end:k8s-3']);
  const firstWorker = m.log.findIndex((e) => e.as === 'worker');
  expect(m.log.slice(firstWorker).every((e) => e.as === 'worker')).toBe(true);
  let inFlight = 0;
  let peak = 0;
  for (const e of m.log.filter((x) => x.as === 'worker')) {
    inFlight += e.event === 'start' ? 1 : -1;
    peak = Math.max(peak, inFlight);
  }
  expect(peak).toBe(2);

  // Each activity carries a readable summary in the UI.
  const summaries = activitySummaries(await h.fetchHistory());
  expect(summaries).toContain('join k8s-2 as control plane');
  expect(summaries).toContain('join k8s-4 as worker');
  expect(summaries).toContain('wait until k8s-3 is Ready and dqlite settled');
  const desc = await h.describe();
  expect(desc.typedSearchAttributes.get({ name: 'RunbookKind', type: 'KEYWORD' } as never)).toBe('form');
});

test('--plan returns the plan from the survey and joins nothing', async () => {
  const inv = inventory();
  const m = mocks(inv, survey(inv, { lines: ['primary: k8s-1', '1. join k8s-2 as control plane'] }));
  const w = await suite.worker({ activities: m.activities });
  const h = await startRunbook(
    suite.env,
    { kind: 'form', workflowType: 'form', inventory: inv, input: {}, summary: 'form', planOnly: true },
    w.taskQueue,
  );
  const r = (await h.result()) as { plan: string[]; changed: boolean };
  expect(r.plan).toEqual(['primary: k8s-1', '1. join k8s-2 as control plane']);
  expect(r.changed).toBe(false);
  expect(m.log).toHaveLength(0);
});

test('pre-flight problems fail the run with every problem listed, before any change', async () => {
  const inv = inventory();
  const problems = ['k8s-2: SSH to root@10.0.0.2:22 failed: refused', 'minor versions differ (1.28 on k8s-1; 1.29 on k8s-3)'];
  const m = mocks(inv, survey(inv, { problems }));
  const w = await suite.worker({ activities: m.activities });
  const h = await startRunbook(suite.env, { kind: 'form', workflowType: 'form', inventory: inv, input: {}, summary: 'form', yes: true }, w.taskQueue);
  const err = await h.result().catch((e) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect((err as WorkflowFailedError).cause?.message).toContain(problems[0]);
  expect((err as WorkflowFailedError).cause?.message).toContain(problems[1]);
  expect(m.log).toHaveLength(0);
});

test('a stale dqlite member found at join time is removed only after approval', async () => {
  const inv = inventory();
  const s = survey(inv, { joins: [{ node: 'k8s-2', as: 'controlplane' }], members: ['k8s-1', 'k8s-3', 'k8s-4', 'k8s-5', 'k8s-6', 'k8s-7', 'k8s-8'] });
  const m = mocks(inv, s, (node, cleanStale) => {
    if (node === 'k8s-2' && !cleanStale) throw ApplicationFailure.create({ type: 'StaleDqliteMember', message: 'stale', nonRetryable: true });
  });
  const w = await suite.worker({ activities: m.activities });
  const h = await startRunbook(suite.env, { kind: 'form', workflowType: 'form', inventory: inv, input: {}, summary: 'form', yes: true }, w.taskQueue);
  const pending = await waitFor(async () => {
    const p: RunbookProgress = await h.query(progressQuery);
    return p.pendingApproval;
  }, 'the stale-member approval');
  expect(pending.summary).toMatch(/remove stale dqlite member 10\.0\.0\.2:19001 so k8s-2 can join/);
  await h.executeUpdate(approveUpdate, { args: [{ id: pending.id, by: 'tester@jest' }] });
  await h.result();
  expect(m.log.filter((e) => e.event === 'start').map((e) => e.cleanStale)).toEqual([false, true]);
});

test('remove-node: the quorum guard waits for approval and a rejection changes nothing', async () => {
  const inv = inventory();
  const calls: string[] = [];
  const s: RemovalSurvey = {
    node: 'k8s-3',
    remover: 'k8s-1',
    reachable: true,
    inKubernetes: true,
    role: 'controlplane',
    dqliteRole: 'voter',
    members: [],
    guard: 'removing k8s-3 leaves 2 control-plane node(s): no high availability',
    problems: [],
    gone: false,
    lines: ['remove k8s-3'],
  };
  const activities = {
    surveyRemoval: async () => s,
    drainDepartingNode: async () => (calls.push('drain'), { commands: [], outcome: 'drained' }),
    leaveCluster: async () => (calls.push('leave'), { commands: [], outcome: 'left' }),
    removeNodeFromCluster: async () => (calls.push('remove'), { commands: [], outcome: 'removed' }),
    waitNodeRemoved: async () => ({ commands: [], outcome: 'removed', detail: { members: 2, voters: 1 } }),
  };
  const w = await suite.worker({ activities });
  const h = await startRunbook(
    suite.env,
    { kind: 'remove-node', workflowType: 'removeNode', inventory: inv, input: { node: 'k8s-3' }, summary: 'remove', yes: true },
    w.taskQueue,
  );
  const pending = await waitFor(async () => ((await h.query(progressQuery)) as RunbookProgress).pendingApproval, 'the guard');
  expect(pending.summary).toContain('no high availability');
  await h.executeUpdate(rejectUpdate, { args: [{ id: pending.id, by: 'tester@jest', reason: 'keep HA' }] });
  const err = await h.result().catch((e) => e);
  expect((err as WorkflowFailedError).cause?.message).toMatch(/refused to remove k8s-3/);
  expect(calls).toEqual([]);
});
