/**
 * `runbook form` and `runbook remove-node` as a user runs them: bad flags exit 2 and start nothing; `--plan` prints
 * the plan from live state and changes nothing; `--yes` forms the cluster and prints the summary table.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { shellQuote } from '../../common/shell';
import { CLI_MAIN, REPO_ROOT } from '../support/temporal';
import { commandsOf, startFormWorker } from './form-support';
import { useLabSuite } from '../support/e2e';

const s = useLabSuite({ lab: { name: 'fcli', controlPlanes: 1, workers: 1, channel: '1.28/stable', profile: 'fast' }, worker: startFormWorker });

async function workflowsStarted(): Promise<number> {
  return (await s.env.client.workflow.count(`RunbookCluster="${s.lab.inventory.cluster}"`)).count;
}

test.each([
  [['form', '--worker-concurrency', '0'], /--worker-concurrency: must be at least 1/],
  [['form', '--max-clock-skew', 'soon'], /--max-clock-skew: "soon" is not a number of seconds/],
  [['remove-node', '--node', 'k8s-9'], /--node: "k8s-9" is not in .*; use one of k8s-1, k8s-w1/],
])('bad input %j exits 2 naming the flag, and starts nothing', async (args, message) => {
  const r = await s.cli([...args, '-i', s.lab.inventoryPath]);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(message);
  expect(await workflowsStarted()).toBe(0);
});

/** `runbook form` on a real terminal (a private tmux server): the plan asks y/N, and the answer is typed. */
test('on a terminal the plan asks y/N: "n" rejects it, exit 1, nothing joined; the runbook is not left running', async () => {
  const tmuxDir = fs.mkdtempSync(path.join(os.tmpdir(), 'form-tty-'));
  const tmux = (...args: string[]) => execFileSync('tmux', ['-S', path.join(tmuxDir, 'socket'), '-f', '/dev/null', ...args], { encoding: 'utf8' });
  const vars = {
    TEMPORAL_ADDRESS: s.env.address,
    TEMPORAL_NAMESPACE: s.env.namespace ?? 'default',
    TEMPORAL_CONFIG_FILE: '/nonexistent/temporal.toml',
    RUNBOOK_TASK_QUEUE: s.worker.taskQueue,
    TERM: 'xterm-256color',
  };
  const envArgs = Object.entries(vars).map(([k, v]) => shellQuote(`${k}=${v}`));
  const line = `cd ${shellQuote(REPO_ROOT)} && env ${envArgs.join(' ')} ${shellQuote(process.execPath)} ${shellQuote(CLI_MAIN)} form -i ${shellQuote(s.lab.inventoryPath)}; echo "EXIT=$?"; sleep 60`;
  const screenShows = async (re: RegExp): Promise<string> => {
    for (let i = 0; i < 200; i++) {
      const text = tmux('capture-pane', '-p', '-J', '-S', '-200', '-t', 'form');
      if (re.test(text)) return text;
      await new Promise((r) => setTimeout(r, 150));
    }
    throw new Error(`the terminal never showed ${re}:\n${tmux('capture-pane', '-p', '-J', '-S', '-200', '-t', 'form')}`);
  };
  try {
    tmux('new-session', '-d', '-s', 'form', '-x', '160', '-y', '50', line);
    const asked = await screenShows(/\[y\/N\] $/m);
    expect(asked).toMatch(/join 1 worker\(s\) with --worker/);
    expect(commandsOf(s.lab, 'join')).toEqual([]);
    tmux('send-keys', '-t', 'form', 'n', 'Enter');
    const end = await screenShows(/EXIT=\d+/);
    expect(end).toContain('rejected; nothing was changed');
    expect(end).toContain('EXIT=1');
    expect(commandsOf(s.lab, 'join')).toEqual([]);
    expect((await s.env.client.workflow.count(`RunbookCluster="${s.lab.inventory.cluster}" AND ExecutionStatus="Running"`)).count).toBe(0);
  } finally {
    try {
      tmux('kill-server');
    } catch {
      /* already gone */
    }
    fs.rmSync(tmuxDir, { recursive: true, force: true });
  }
});

test('--plan prints the joins from live state and changes nothing; --yes forms and prints the table', async () => {
  const plan = await s.cli(['form', '-i', s.lab.inventoryPath, '--plan']);
  expect(plan.code).toBe(0);
  expect(plan.stdout).toMatch(/plan \(nothing was changed\):[\s\S]*join 1 worker\(s\) with --worker, 5 at a time: k8s-w1/);
  expect(commandsOf(s.lab, 'join')).toEqual([]);

  const run = await s.cli(['form', '-i', s.lab.inventoryPath, '--yes']);
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(/joined: k8s-w1 \(primary k8s-1\)/);
  expect(run.stdout).toMatch(/\| k8s-w1 \| worker \| yes \|/);
  expect(commandsOf(s.lab, 'join').filter((e) => e.exit === 0).map((e) => e.node)).toEqual(['k8s-w1']);
});
