/** The watch model without a server: events from progress snapshots, the terminal frame, views and the summary. */
import type { RunbookProgress } from '../../common/messages';
import { clock, diffProgress, finalStatusOf } from '../../cli/watch/events';
import { fitFrame, renderFrame } from '../../cli/watch/frame';
import { summaryLines } from '../../cli/watch/summary';
import { JsonLinesView, LineView, TerminalView } from '../../cli/watch/views';

const T0 = Date.parse('2026-01-01T10:00:00Z');
const base: RunbookProgress = {
  kind: 'upgrade',
  cluster: 'prod',
  step: 'drainNode k8s-2',
  startedAt: T0,
  paused: false,
  approvals: [],
  nodes: [
    { name: 'k8s-1', state: 'done', detail: '1.29', since: T0 + 10_000 },
    { name: 'k8s-2', state: 'refreshing', detail: '1.28→1.29', since: T0 + 60_000 },
  ],
  notes: [],
};

test('events: the first snapshot says everything, later ones only what changed', () => {
  expect(diffProgress(undefined, base, 'runbook-prod').map((e) => e.type)).toEqual(['runbook', 'step', 'node', 'node']);
  expect(diffProgress(base, base, 'runbook-prod')).toEqual([]);
  const next: RunbookProgress = {
    ...base,
    paused: true,
    pendingApproval: { id: 'approval-2', summary: 'upgrade k8s-3', requestedAt: T0 + 90_000 },
    approvals: [{ id: 'approval-1', summary: 'start: upgrade prod', decision: 'approved', by: 'alice@ops', at: T0 }],
    nodes: [base.nodes[0], { ...base.nodes[1], state: 'done', detail: '1.29' }],
    notes: ['k8s-2 is on 1.29'],
  };
  expect(diffProgress(base, next, 'runbook-prod')).toEqual([
    { type: 'node', node: 'k8s-2', state: 'done', detail: '1.29', since: new Date(T0 + 60_000).toISOString() },
    { type: 'approval-answered', id: 'approval-1', summary: 'start: upgrade prod', decision: 'approved', by: 'alice@ops' },
    {
      type: 'approval-pending',
      id: 'approval-2',
      summary: 'upgrade k8s-3',
      approve: 'runbook approve runbook-prod',
      reject: 'runbook reject runbook-prod --reason "..."',
    },
    { type: 'note', text: 'k8s-2 is on 1.29' },
    { type: 'paused', resume: 'runbook resume runbook-prod' },
  ]);
});

test('final statuses use the CLI words; clocks are mm:ss, hh:mm:ss past an hour', () => {
  expect(['COMPLETED', 'FAILED', 'CANCELLED', 'TERMINATED', 'TIMED_OUT'].map(finalStatusOf)).toEqual([
    'completed',
    'failed',
    'cancelled',
    'terminated',
    'timed-out',
  ]);
  expect([clock(0), clock(41_900), clock(3_600_000 + 61_000), clock(-5)]).toEqual(['00:00', '00:41', '01:01:01', '00:00']);
});

test('the frame: header with elapsed time, step, node table with time in state, the approval and the commands that answer it', () => {
  const p: RunbookProgress = { ...base, pendingApproval: { id: 'approval-3', summary: 'upgrade k8s-3', requestedAt: T0 + 100_000, deadline: T0 + 700_000 } };
  const lines = renderFrame({ workflowId: 'runbook-prod', progress: p, now: T0 + 101_000 });
  expect(lines).toEqual([
    'upgrade on cluster prod · runbook-prod · 01:41',
    'step: drainNode k8s-2',
    '',
    'NODE   STATE       DETAIL     IN STATE',
    'k8s-1  done        1.29       01:31',
    'k8s-2  refreshing  1.28→1.29  00:41',
    '',
    'waiting for approval (approval-3, 00:01, pauses in 09:59): upgrade k8s-3',
    '  approve: runbook approve runbook-prod',
    '  reject:  runbook reject runbook-prod --reason "..."',
  ]);
  const silent = renderFrame({ workflowId: 'runbook-prod', workerSilent: 'no poller', taskQueue: 'q1', now: T0 });
  expect(silent[silent.length - 1]).toBe('no worker answers the progress query (no poller); still polling. Is `runbook worker` running on task queue q1?');
});

test('a frame never wraps or scrolls: long lines are cut, tall frames end with a count', () => {
  const fitted = fitFrame(['x'.repeat(50), ...Array.from({ length: 20 }, (_, i) => `line ${i}`)], 20, 10);
  expect(fitted[0]).toBe(`${'x'.repeat(18)}…`);
  expect(fitted).toHaveLength(9);
  expect(fitted[8]).toBe('… 13 more lines (a…');
});

test('the terminal view moves up over its last frame and redraws; a message stays above the next frame', () => {
  let out = '';
  const view = new TerminalView((t) => (out += t), () => ({ columns: 80, rows: 30 }));
  const frame = { workflowId: 'runbook-prod', progress: base, now: T0 + 61_000 };
  view.update(frame);
  expect(out.startsWith('upgrade on cluster prod')).toBe(true);
  const height = out.split('\n').length - 1;
  out = '';
  view.update(frame);
  expect(out.startsWith(`\x1b[${height}F\x1b[J`)).toBe(true);
  out = '';
  view.message('approved by alice@ops');
  expect(out).toBe(`\x1b[${height}F\x1b[Japproved by alice@ops\n`);
  out = '';
  view.update(frame);
  expect(out.startsWith('upgrade on cluster prod')).toBe(true);
});

test('line and JSON views print each change once; the JSON view ends with a final event', () => {
  const lines: string[] = [];
  const lineView = new LineView((t) => lines.push(t));
  const json: string[] = [];
  const jsonView = new JsonLinesView('runbook-prod', (t) => json.push(t), () => undefined, () => T0);
  const events = diffProgress(undefined, base, 'runbook-prod');
  for (const v of [lineView, jsonView]) {
    v.update({ workflowId: 'runbook-prod', progress: base, now: T0 }, events);
    v.update({ workflowId: 'runbook-prod', progress: base, now: T0 + 1000 }, []);
  }
  expect(lines.join('')).toBe('step: drainNode k8s-2\n  k8s-1: done (1.29)\n  k8s-2: refreshing (1.28→1.29)\n');
  const ending = { workflowId: 'runbook-prod', status: 'failed' as const, exitCode: 1, message: 'drain timed out', progress: base, startTime: new Date(T0), closeTime: new Date(T0 + 125_000) };
  jsonView.end(ending, undefined);
  const parsed = json.join('').trim().split('\n').map((l) => JSON.parse(l));
  expect(parsed.map((e) => e.type)).toEqual(['runbook', 'step', 'node', 'node', 'final']);
  expect(parsed[4]).toEqual({ time: new Date(T0).toISOString(), workflowId: 'runbook-prod', type: 'final', status: 'failed', exitCode: 1, durationMs: 125_000, message: 'drain timed out' });
  expect(summaryLines(ending)).toEqual([
    'runbook-prod: failed after 02:05 (upgrade on cluster prod); exit code 1',
    '  last step: drainNode k8s-2',
    '  k8s-1  done        1.29',
    '  k8s-2  refreshing  1.28→1.29',
    '  failure: drain timed out',
  ]);
});
