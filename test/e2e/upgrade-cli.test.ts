/**
 * `runbook upgrade` as a user runs it: bad flags exit 2 and start nothing; `--plan` prints the hops and the order
 * from live state and changes nothing.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { runCli, startTemporal, startWorker, type TestWorker } from '../support/temporal';
import { formedLab, refreshes } from './upgrade-support';
import type { Lab } from '../../lab';

let env: TestWorkflowEnvironment;
let lab: Lab;
let worker: TestWorker;
let done: () => Promise<void>;

beforeAll(async () => {
  env = await startTemporal();
  const l = await formedLab(3, 1);
  [lab, done] = [l.lab, l.done];
  worker = await startWorker(env, { stateDir: l.stateDir });
}, 120_000);

afterAll(async () => {
  await worker?.stop();
  await done?.();
  await env?.teardown();
});

test.each([
  [['--to', '1.29', '--worker-batch', '0'], /--worker-batch: must be at least 1/],
  [['--to', 'latest/stable'], /--to: "latest\/stable" is not a MicroK8s channel; use <1\.NN>/],
  [['--to', '1.29', '--approve', 'always'], /--approve: must be none, each or on-failure/],
  [['--to', '1.29', '--rollback', 'everything'], /--rollback: must be node or all/],
  [['--to', '1.29', '--on-failure', 'retry'], /--on-failure: must be rollback or pause/],
  [['--to', '1.29', '--drain-timeout', 'soon'], /--drain-timeout: "soon" is not a duration; use e\.g\. 5m/],
  [['--to', '1.29', '--soak', '2d'], /--soak: "2d" is not a duration/],
  [['--to', '1.29', '--step-timeout', '5s'], /--step-timeout: must be at least 10s/],
])('bad input %j exits 2 naming the flag, and starts nothing', async (args, message) => {
  const r = await runCli(env, ['upgrade', '-i', lab.inventoryPath, ...args], { taskQueue: worker.taskQueue });
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(message);
  expect((await env.client.workflow.count(`RunbookCluster="${lab.inventory.cluster}"`)).count).toBe(0);
});

test('--plan prints hops one minor at a time and the order, and changes nothing', async () => {
  const r = await runCli(env, ['upgrade', '-i', lab.inventoryPath, '--to', '1.30', '--plan'], { taskQueue: worker.taskQueue });
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/Patch pass/);
  expect(r.stdout).toMatch(/Hop 1\.29\/stable[\s\S]*Hop 1\.30\/stable/);
  expect(r.stdout).toMatch(/leader/);
  expect(r.stdout).toMatch(/k8s-w1 → 1\.30\/stable/);
  expect(refreshes(lab.journal())).toEqual([]);
  expect(lab.journal().filter((e) => e.event === 'cordoned' || e.event === 'held')).toEqual([]);
});
