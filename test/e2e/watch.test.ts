/**
 * `runbook watch` against a real running workflow (dev server, real worker, test/fixtures/watch-workflows.ts with
 * gated activities): the live screen in a pseudo-terminal (tmux), the plain lines and the JSON lines of the same
 * run, a failure, a runbook no worker answers for, and `runbook status` / `runbook list`.
 */
import { execFileSync, spawn } from 'child_process';
import * as path from 'path';
import { Context } from '@temporalio/activity';
import type { WorkflowHandle } from '@temporalio/client';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { resolveInventory } from '../../common/inventory';
import { approveUpdate, progressQuery, rejectUpdate, type RunbookProgress } from '../../common/messages';
import { shellQuote } from '../../common/shell';
import type { WatchTestActivities } from '../fixtures/watch-workflows';
import { useServerSuite } from '../support/e2e';
import { CLI_MAIN, REPO_ROOT, startRunbook } from '../support/temporal';

const suffix = Math.random().toString(36).slice(2, 8);
const taskQueue = `watch-${suffix}`;
const suite = useServerSuite({ name: 'watch-e2e' });
// A private tmux server whose socket lives in the suite's state dir, removed at the end.
let tmuxSocket: string;
const quiet = () => undefined;

interface Gate {
  resolve: (v: string) => void;
  reject: (e: Error) => void;
}
const gates = new Map<string, Gate>();

beforeAll(async () => {
  tmuxSocket = path.join(suite.stateDir, 'tmux.sock');
  const activities: WatchTestActivities = {
    // Keyed by workflow and node, so a test that failed half way cannot hand its gates to the next one.
    refreshNode: (node) =>
      new Promise((resolve, reject) => gates.set(`${Context.current().info.workflowExecution?.workflowId}/${node}`, { resolve, reject })),
  };
  // Its own Worker, not suite.worker: it runs the test workflows of test/fixtures/watch-workflows.ts.
  const worker = await Worker.create({
    connection: suite.env.nativeConnection,
    namespace: suite.env.namespace ?? 'default',
    taskQueue,
    activities,
    workflowBundle: await bundleWorkflowCode({
      workflowsPath: require.resolve('../fixtures/watch-workflows'),
      logger: { log: quiet, trace: quiet, debug: quiet, info: quiet, warn: quiet, error: console.error },
    }),
    shutdownGraceTime: '1s',
  });
  const running = worker.run();
  suite.defer(async () => {
    try {
      execFileSync('tmux', ['-S', tmuxSocket, 'kill-server'], { stdio: 'ignore' });
    } catch {
      /* no session left */
    }
    for (const g of gates.values()) g.reject(new Error('test over'));
    worker.shutdown();
    await running.catch(() => undefined);
  });
});

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${last ? ` (${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

const progressOf = (h: WorkflowHandle) => h.query(progressQuery);
const pendingOf = async (h: WorkflowHandle, summary: RegExp) => {
  const p: RunbookProgress = await progressOf(h);
  return p.pendingApproval && summary.test(p.pendingApproval.summary) ? p.pendingApproval : undefined;
};
const approve = (h: WorkflowHandle) => h.executeUpdate(approveUpdate, { args: [{ by: 'approver@test' }] });
const gateOpen = (h: WorkflowHandle, node: string) => waitFor(`${node}'s refresh to start`, () => gates.get(`${h.workflowId}/${node}`));

async function start(cluster: string, queue = taskQueue): Promise<WorkflowHandle> {
  const inventory = resolveInventory({ cluster, nodes: [{ name: 'k8s-1', address: '10.0.0.1' }, { name: 'k8s-2', address: '10.0.0.2' }] }, 'watch-test');
  return startRunbook(suite.env, { kind: 'upgrade', workflowType: 'watchTestRunbook', inventory, input: {}, summary: `upgrade ${cluster}` }, queue);
}

/** `runbook ...` as a child whose output the test can read while it runs (runCli only returns at the end). */
function spawnCli(args: string[]): { output: () => string; done: Promise<{ code: number; stdout: string }> } {
  let stdout = '';
  const child = spawn(process.execPath, [CLI_MAIN, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, TEMPORAL_ADDRESS: suite.env.address, TEMPORAL_NAMESPACE: suite.env.namespace ?? 'default', TEMPORAL_CONFIG_FILE: '/nonexistent/temporal.toml' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const done = new Promise<{ code: number; stdout: string }>((resolve) => child.on('close', (code) => resolve({ code: code ?? 1, stdout })));
  return { output: () => stdout, done };
}

/** A pseudo-terminal of 120x40 running `runbook watch`, then printing its exit code. */
function tmuxWatch(session: string, workflowId: string): void {
  const vars = { TEMPORAL_ADDRESS: suite.env.address, TEMPORAL_NAMESPACE: suite.env.namespace ?? 'default', TEMPORAL_CONFIG_FILE: '/nonexistent/temporal.toml', TERM: 'xterm-256color' };
  const envArgs = Object.entries(vars).map(([k, v]) => `${k}=${shellQuote(v)}`);
  const line = `cd ${shellQuote(REPO_ROOT)} && env ${envArgs.join(' ')} ${shellQuote(process.execPath)} ${shellQuote(CLI_MAIN)} watch ${shellQuote(workflowId)}; echo "EXIT=$?"; sleep 60`;
  execFileSync('tmux', ['-S', tmuxSocket, '-f', '/dev/null', 'new-session', '-d', '-s', session, '-x', '120', '-y', '40', line]);
}

const screen = (session: string) => execFileSync('tmux', ['-S', tmuxSocket, 'capture-pane', '-p', '-t', session], { encoding: 'utf8' });
async function screenShows(session: string, re: RegExp): Promise<string> {
  try {
    return await waitFor(`the screen to show ${re}`, () => {
      const text = screen(session);
      return re.test(text) ? text : undefined;
    });
  } catch (e) {
    throw new Error(`${(e as Error).message}\nthe screen:\n${screen(session)}`);
  }
}

test('on a terminal the view redraws in place: nodes with time in state, the approval and its commands, then a summary and exit 0', async () => {
  const h = await start(`watch-tty-${suffix}`);
  const id = h.workflowId;
  // The same run, followed as JSON lines and as plain lines (not a terminal), from the start.
  const jsonWatch = spawnCli(['watch', id, '--json']);
  const plainWatch = spawnCli(['watch', id]);
  tmuxWatch('tty', id);

  const planScreen = await screenShows('tty', /waiting for approval \(approval-1/);
  expect(planScreen).toContain(`upgrade on cluster watch-tty-${suffix} · ${id}`);
  expect(planScreen).toMatch(/plan:\n\s+refresh k8s-1 1\.28→1\.29\n\s+refresh k8s-2 1\.28→1\.29/);
  expect(planScreen).toContain(`approve: runbook approve ${id}`);
  expect(planScreen).toContain(`reject:  runbook reject ${id} --reason "..."`);
  expect(planScreen).toMatch(/^NODE\s+STATE\s+DETAIL\s+IN STATE$/m);
  expect(planScreen).toMatch(/^k8s-1\s+pending\s+\d\d:\d\d$/m);

  await waitFor('the plan approval', () => pendingOf(h, /^start:/));
  // All three watchers have seen the question before it is answered.
  await waitFor('the JSON watcher to see the plan approval', () => jsonWatch.output().includes('"type":"approval-pending"'));
  await waitFor('the plain watcher to see the plan approval', () => plainWatch.output().includes('waiting for approval'));
  await approve(h);
  const k8s1 = await gateOpen(h, 'k8s-1');
  const refreshing = await screenShows('tty', /^k8s-1\s+refreshing\s+1\.28→1\.29\s+00:0\d$/m);
  expect(refreshing).toContain('step: refreshSnap k8s-1');
  expect(refreshing).not.toContain('waiting for approval');
  // Redrawn in place: one header and one step line on the screen, however many polls went by.
  await new Promise((r) => setTimeout(r, 2200));
  const later = screen('tty');
  expect(later.match(/^step: /gm)).toHaveLength(1);
  expect(later.match(/^upgrade on cluster /gm)).toHaveLength(1);
  expect(later).toMatch(/^k8s-1\s+refreshing\s+1\.28→1\.29\s+00:0[2-9]$/m);

  k8s1.resolve('ok');
  await waitFor('the approval for k8s-2', () => pendingOf(h, /^upgrade k8s-2$/));
  const second = await screenShows('tty', /waiting for approval \(approval-2, \d\d:\d\d\): upgrade k8s-2/);
  expect(second).toMatch(/^k8s-1\s+done\s+1\.29\s+\d\d:\d\d$/m);
  expect(second).toMatch(/notes:\n\s+k8s-1 is on 1\.29/);
  // As for the plan: the watchers poll, so answer only once each has seen the question (else a fast answer falls
  // between two polls and the JSON stream shows it answered, never pending).
  await waitFor('the JSON watcher to see the approval for k8s-2', () => /"type":"approval-pending"[^\n]*"id":"approval-2"|"id":"approval-2"[^\n]*"type":"approval-pending"/.test(jsonWatch.output()));
  await waitFor('the plain watcher to see the approval for k8s-2', () => plainWatch.output().includes('waiting for approval: upgrade k8s-2'));
  await approve(h);
  (await gateOpen(h, 'k8s-2')).resolve('ok');

  const end = await screenShows('tty', /EXIT=\d+/);
  expect(end).toContain('EXIT=0');
  expect(end).toMatch(new RegExp(`${id}: completed after \\d\\d:\\d\\d \\(upgrade on cluster watch-tty-${suffix}\\); exit code 0`));
  expect(end).toMatch(/approval-2 approved by approver@test: upgrade k8s-2/);

  const j = await jsonWatch.done;
  expect(j.code).toBe(0);
  const events = j.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(events.every((e) => e.workflowId === id && typeof e.time === 'string')).toBe(true);
  const types = events.map((e) => e.type);
  expect(types[0]).toBe('runbook');
  expect(events).toContainEqual(expect.objectContaining({ type: 'approval-pending', id: 'approval-1', approve: `runbook approve ${id}` }));
  expect(events).toContainEqual(expect.objectContaining({ type: 'node', node: 'k8s-1', state: 'refreshing', detail: '1.28→1.29' }));
  expect(events).toContainEqual(expect.objectContaining({ type: 'approval-answered', id: 'approval-2', decision: 'approved', by: 'approver@test' }));
  expect(events).toContainEqual(expect.objectContaining({ type: 'note', text: 'k8s-2 is on 1.29' }));
  // Order follows the run: the first node is refreshing before the second approval is asked.
  const at = (pred: (e: Record<string, unknown>) => boolean) => events.findIndex(pred);
  expect(at((e) => e.type === 'node' && e.node === 'k8s-1' && e.state === 'refreshing')).toBeLessThan(at((e) => e.type === 'approval-pending' && e.id === 'approval-2'));
  expect(events[events.length - 1]).toMatchObject({ type: 'final', status: 'completed', exitCode: 0, result: { upgraded: ['k8s-1', 'k8s-2'] } });
  expect(types.filter((t) => t === 'final')).toHaveLength(1);

  const p = await plainWatch.done;
  expect(p.code).toBe(0);
  const lines = p.stdout.split('\n');
  expect(lines).toContain('step: refreshSnap k8s-1');
  expect(lines).toContain('  k8s-1: refreshing (1.28→1.29)');
  expect(lines).toContain(`  approve: runbook approve ${id}    reject: runbook reject ${id} --reason "..."`);
  // One line per change: the same change is never printed twice.
  expect(lines.filter((l) => l === '  k8s-1: refreshing (1.28→1.29)')).toHaveLength(1);
  expect(p.stdout).not.toContain('\x1b[');
});

test('a failed runbook ends watch with its reason and exit 1', async () => {
  const h = await start(`watch-fail-${suffix}`);
  const json = suite.cli(['watch', h.workflowId, '--json']);
  await waitFor('the plan approval', () => pendingOf(h, /^start:/));
  await approve(h);
  (await gateOpen(h, 'k8s-1')).reject(new Error('snap refresh exited 1'));
  const j = await json;
  expect(j.code).toBe(1);
  const final = JSON.parse(j.stdout.trim().split('\n').pop()!);
  expect(final).toMatchObject({ type: 'final', status: 'failed', exitCode: 1 });
  expect(final.message).toContain('refresh of k8s-1 failed: snap refresh exited 1');
  expect(j.stdout).toContain('"state":"failed"');
});

test('with no worker: watch says so and keeps polling; status says it too; a termination ends watch with exit 1', async () => {
  const h = await start(`watch-orphan-${suffix}`, `nobody-polls-${suffix}`);
  const json = suite.cli(['watch', h.workflowId, '--json']);
  const status = await suite.cli(['status', h.workflowId]);
  expect(status.code).toBe(0);
  expect(status.stdout).toContain(`${h.workflowId}: running`);
  expect(status.stdout).toMatch(/no worker answered the progress query .*is a worker polling nobody-polls-/);
  // watch has had time to find no worker (its query gives up after 5 s), then the run is terminated.
  await new Promise((r) => setTimeout(r, 6500));
  await h.terminate('test: nobody will ever run it');
  const j = await json;
  expect(j.code).toBe(1);
  const events = j.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(events[0]).toMatchObject({ type: 'worker-silent' });
  expect(events[events.length - 1]).toMatchObject({ type: 'final', status: 'terminated', exitCode: 1 });
});

test('status is one screen: kind, cluster, who started it, step, nodes, the pending approval with its commands, UI link; list finds it', async () => {
  const cluster = `watch-status-${suffix}`;
  const h = await start(cluster);
  await waitFor('the plan approval', () => pendingOf(h, /^start:/));
  const r = await suite.cli(['status', h.workflowId]);
  expect(r.code).toBe(0);
  const lines = r.stdout.split('\n');
  expect(lines[0]).toBe(`${h.workflowId}: running · upgrade on cluster ${cluster}`);
  expect(r.stdout).toMatch(/started: {2}\d{4}-\d\d-\d\dT[\d:.]+Z \(\d+ s ago\) by tester@jest/);
  expect(r.stdout).toContain('step:     starting');
  expect(r.stdout).toMatch(/k8s-2\s+pending\s+\d\d:\d\d/);
  expect(r.stdout).toContain(`approve: runbook approve ${h.workflowId}`);
  expect(r.stdout).toMatch(new RegExp(`UI: +http://localhost:8233/namespaces/default/workflows/${h.workflowId}/[0-9a-f-]+/history`));

  const list = await suite.cli(['list', '--cluster', cluster, '--status', 'running']);
  expect(list.code).toBe(0);
  expect(list.stdout).toMatch(new RegExp(`^${h.workflowId}\\tupgrade\\t${cluster}\\trunning\\t`, 'm'));
  await h.executeUpdate(rejectUpdate, { args: [{ by: 'tester@jest', reason: 'test over' }] });
  await waitFor('the run to fail', async () => ((await h.describe()).status.name === 'FAILED' ? true : undefined));
  const failed = await suite.cli(['list', '--cluster', cluster, '--status', 'FAILED', '--json']);
  expect(JSON.parse(failed.stdout)).toEqual([expect.objectContaining({ workflowId: h.workflowId, status: 'failed', kind: 'upgrade' })]);
  const none = await suite.cli(['list', '--cluster', cluster, '--status', 'timed-out']);
  expect(none.stdout).toBe('no runbooks match\n');
  const bad = await suite.cli(['list', '--status', 'dead']);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('--status: "dead" is not one of Running, Failed, Completed, Cancelled, Terminated, Timed-out');
  const unknown = await suite.cli(['watch', 'runbook-no-such-cluster']);
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toContain('runbook-no-such-cluster: no runbook with this workflow ID');
});
