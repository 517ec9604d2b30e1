/**
 * `runbook form` and `runbook remove-node` as a user runs them: bad flags exit 2 and start nothing; `--plan` prints
 * the plan from live state and changes nothing; `--yes` forms the cluster and prints the summary table.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Lab } from '../../lab';
import { runCli, startTemporal } from '../support/temporal';
import { commandsOf, startFormWorker, type FormWorker } from './form-support';

let env: TestWorkflowEnvironment;
let lab: Lab;
let worker: FormWorker;
let stateDir: string;

beforeAll(async () => {
  stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'form-cli-'));
  [env, lab] = await Promise.all([
    startTemporal(),
    Lab.up({ name: `fcli${process.pid % 10000}`, controlPlanes: 1, workers: 1, channel: '1.28/stable', profile: 'fast', stateDir }),
  ]);
  worker = await startFormWorker(env, stateDir);
}, 120_000);

afterAll(async () => {
  await worker?.stop();
  await lab?.down();
  await env?.teardown();
  if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
});

async function workflowsStarted(): Promise<number> {
  return (await env.client.workflow.count(`RunbookCluster="${lab.inventory.cluster}"`)).count;
}

test.each([
  [['form', '--worker-concurrency', '0'], /--worker-concurrency: must be at least 1/],
  [['form', '--max-clock-skew', 'soon'], /--max-clock-skew: must be a number of seconds/],
  [['remove-node', '--node', 'k8s-9'], /--node: "k8s-9" is not in .*; use one of k8s-1, k8s-w1/],
])('bad input %j exits 2 naming the flag, and starts nothing', async (args, message) => {
  const r = await runCli(env, [...args, '-i', lab.inventoryPath], { taskQueue: worker.taskQueue });
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(message);
  expect(await workflowsStarted()).toBe(0);
});

test('--plan prints the joins from live state and changes nothing; --yes forms and prints the table', async () => {
  const plan = await runCli(env, ['form', '-i', lab.inventoryPath, '--plan'], { taskQueue: worker.taskQueue });
  expect(plan.code).toBe(0);
  expect(plan.stdout).toMatch(/plan \(nothing was changed\):[\s\S]*join 1 worker\(s\) with --worker, 5 at a time: k8s-w1/);
  expect(commandsOf(lab, 'join')).toEqual([]);

  const run = await runCli(env, ['form', '-i', lab.inventoryPath, '--yes'], { taskQueue: worker.taskQueue });
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(/joined: k8s-w1 \(primary k8s-1\)/);
  expect(run.stdout).toMatch(/\| k8s-w1 \| worker \| yes \|/);
  expect(commandsOf(lab, 'join').filter((e) => e.exit === 0).map((e) => e.node)).toEqual(['k8s-w1']);
});
