/**
 * Not on the shared fixture (test/support/e2e.ts): importing it installs the Temporal Runtime at WARN, so the
 * expected activity failures would log their stacks; this file installs its own at ERROR first.
 * `runbook history` against a real run on a dev server: a test runbook (test/fixtures/history-workflows.ts) whose
 * activities really run local commands and keep a journal of them, as the lab does. The audit must list every
 * journalled command with its node and exit code, the approvals with who and why, the failures with attempt and
 * summary, the compensation and the file change; and `--file` on `temporal workflow show --output json` must give
 * the same audit as reading the server.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { ApplicationFailure, Client, type WorkflowHandle } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { Command } from 'commander';
import { tail, type CommandRecord } from '../../common/audit';
import { nodeWorkflowId, SEARCH_ATTRIBUTES } from '../../common/constants';
import { resolveInventory } from '../../common/inventory';
import { approveUpdate, progressQuery, rejectUpdate } from '../../common/messages';
import { command } from '../../common/shell';
import { runbookStartOptions } from '../../cli/start-options';
import type { CliContext } from '../../cli/context';
import { auditFromFile, auditFromServer } from '../../cli/audit/read-history';
import type { RunbookAudit } from '../../cli/audit/model';
import { registerHistoryCommands } from '../../cli/commands/history';
import type { HistoryTestActivities, NodeRun } from '../fixtures/history-workflows';
import { scanOnTeardown } from '../support/history-scan';

const TEMPORAL_CLI = process.env.TEMPORAL_CLI_PATH ?? '/root/.cache/microk8s-runbooks/bin/temporal';
const run = promisify(execFile);

/** Runs a command line locally, recording it as the SSH layer records a remote one. */
async function record(node: string, line: string, journal: CommandRecord[]): Promise<CommandRecord> {
  const startedAt = new Date().toISOString();
  const t0 = Date.now();
  const r = await run('sh', ['-c', line]).then(
    (ok) => ({ code: 0, stdout: ok.stdout, stderr: ok.stderr }),
    (err: { code?: number; stdout?: string; stderr?: string }) => ({ code: err.code ?? 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' }),
  );
  const rec: CommandRecord = {
    node,
    command: line,
    exitCode: r.code,
    durationMs: Date.now() - t0,
    stdoutTail: tail(r.stdout),
    stderrTail: tail(r.stderr),
    startedAt,
  };
  journal.push(rec);
  return rec;
}

function testActivities(journal: CommandRecord[]): HistoryTestActivities {
  let flakyAttempts = 0;
  return {
    async planSteps(nodes) {
      const commands = [await record(nodes[0], command('uname', '-s'), journal)];
      return { lines: nodes.map((n) => `probeNode ${n}`).concat(['flakyProbe', 'breakNode then undoNode']), commands };
    },
    async runOnNode(node, argvs) {
      const commands: CommandRecord[] = [];
      for (const argv of argvs) commands.push(await record(node, command(...argv), journal));
      return { node, commands };
    },
    async flakyProbe(node): Promise<NodeRun> {
      const rec = await record(node, command('echo', `probe attempt ${++flakyAttempts}`), journal);
      // A failed attempt's commands reach history only in its failure details.
      if (flakyAttempts === 1) throw ApplicationFailure.retryable('node not ready yet', 'CommandFailed', { commands: [rec] });
      return { node, commands: [rec] };
    },
    async breakNode(node): Promise<never> {
      const rec = await record(node, command('sh', '-c', 'echo "drain refused: PDB" >&2; exit 1'), journal);
      throw ApplicationFailure.nonRetryable(`drain of ${node} refused by a PodDisruptionBudget`, 'PreconditionFailed', { commands: [rec] });
    },
    async undoNode(node) {
      const rec = await record(node, command('true'), journal);
      return {
        node,
        commands: [rec],
        fileChanges: [{ node, path: '/var/snap/microk8s/current/args/kubelet', action: 'rewritten', size: 120, sha256: 'ab'.repeat(32) }],
        compensations: [`uncordon ${node}`],
      };
    },
  };
}

async function waitForPending(handle: WorkflowHandle, summary: RegExp): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const p = await handle.query(progressQuery);
    if (p.pendingApproval && summary.test(p.pendingApproval.summary)) return p.pendingApproval.id;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no pending approval matching ${summary}`);
}

/** What must agree between two audits of the same run (times aside, which both read from the same events). */
function essentials(a: RunbookAudit): unknown {
  const { warnings: _w, ...rest } = a;
  return rest;
}

describe('runbook history on a real run', () => {
  let env: TestWorkflowEnvironment;
  let bundle: WorkflowBundleWithSourceMap;
  let tmp: string;
  const journal: CommandRecord[] = [];
  const cluster = `hist-${randomUUID().slice(0, 8)}`;
  let workflowId: string;
  let audit: RunbookAudit;

  beforeAll(async () => {
    const logger = new DefaultLogger('ERROR');
    Runtime.install({ logger });
    tmp = await mkdtemp(path.join(tmpdir(), 'history-e2e-'));
    env = scanOnTeardown(
      await TestWorkflowEnvironment.createLocal({
        server: { executable: { type: 'existing-path', path: TEMPORAL_CLI }, searchAttributes: SEARCH_ATTRIBUTES },
      }),
    );
    bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../fixtures/history-workflows'), logger });

    const taskQueue = `history-e2e-${randomUUID()}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      namespace: env.namespace,
      taskQueue,
      workflowBundle: bundle,
      activities: testActivities(journal),
    });
    const operator = new Client({ connection: env.connection, namespace: env.namespace, identity: 'alice@ops-laptop' });
    const inventory = resolveInventory({
      cluster,
      nodes: [
        { name: 'k8s-1', address: '10.0.0.1' },
        { name: 'k8s-2', address: '10.0.0.2', role: 'worker' },
      ],
    });
    await worker.runUntil(async () => {
      const options = runbookStartOptions(
        { kind: 'check', inventory, input: { askOptional: true }, summary: `history test on ${cluster}` },
        { taskQueue, identity: 'alice@ops-laptop' },
      );
      const handle = await operator.workflow.start('historyTestRunbook', options);
      workflowId = handle.workflowId;
      const planId = await waitForPending(handle, /^start:/);
      await handle.executeUpdate(approveUpdate, { args: [{ id: planId, by: 'alice@ops-laptop', reason: 'change CHG-42' }] });
      const optionalId = await waitForPending(handle, /optional restart/);
      await handle.executeUpdate(rejectUpdate, { args: [{ id: optionalId, by: 'bob@ops', reason: 'not in the window' }] });
      await handle.result();
    });
    audit = await auditFromServer(env.client, workflowId);
  });

  afterAll(async () => {
    await env?.teardown();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('lists every command the activities ran, in order, with node and exit code, marking child-workflow commands', () => {
    expect(journal.length).toBe(9);
    const key = (c: Pick<CommandRecord, 'node' | 'command' | 'exitCode' | 'startedAt'>) => `${c.startedAt} ${c.node} ${c.exitCode} ${c.command}`;
    expect(audit.commands.map(key)).toEqual(journal.map(key));
    expect(audit.commands.find((c) => c.command.includes('exit 3'))).toMatchObject({
      node: 'k8s-1',
      exitCode: 3,
      stderrTail: 'not ready: retry later\n',
      activity: 'runOnNode',
      activitySummary: 'probe k8s-1',
      childNode: 'k8s-1',
    });
    expect(audit.commands.find((c) => c.command.includes('drain refused'))).toMatchObject({ node: 'k8s-2', exitCode: 1, activityCompleted: false });
  });

  it('says who started it, with what, and the plan with its approval', () => {
    expect(audit).toMatchObject({ workflowId, workflowType: 'historyTestRunbook', status: 'completed', startedBy: 'alice@ops-laptop', requestedBy: 'alice@ops-laptop', summary: `history test on ${cluster}` });
    expect((audit.input[0] as { inventory: { cluster: string } }).inventory.cluster).toBe(cluster);
    expect(audit.plan?.lines).toEqual(['probeNode k8s-1', 'probeNode k8s-2', 'flakyProbe', 'breakNode then undoNode']);
    expect(audit.plan?.decision).toMatchObject({ decision: 'approved', by: 'alice@ops-laptop', reason: 'change CHG-42' });
    expect(audit.operatorActions.map((a) => [a.action, a.by, a.decision, a.reason, a.summary])).toEqual([
      ['approve', 'alice@ops-laptop', 'approved', 'change CHG-42', `start: history test on ${cluster}`],
      ['reject', 'bob@ops', 'rejected', 'not in the window', 'optional restart of k8s-1'],
    ]);
  });

  it('records failures with attempt, type and summary, the compensation, the file change and the children', () => {
    expect(audit.failures.map((f) => [f.source, f.name, f.summary, f.attempt, f.type, f.retryState])).toEqual([
      ['activity', 'flakyProbe', 'flaky probe k8s-1', 1, 'CommandFailed', 'retried'],
      ['activity', 'breakNode', 'break k8s-2', 1, 'PreconditionFailed', 'non_retryable_failure'],
    ]);
    expect(audit.failures[1].message).toContain('refused by a PodDisruptionBudget');
    expect(audit.compensations.map((c) => c.line)).toEqual(['uncordon k8s-2']);
    expect(audit.fileChanges).toMatchObject([{ node: 'k8s-2', action: 'rewritten', activity: 'undoNode' }]);
    expect(audit.children.map((c) => [c.node, c.status, c.included])).toEqual([
      ['k8s-1', 'completed', true],
      ['k8s-2', 'completed', true],
    ]);
  });

  it('gives the same audit from `temporal workflow show --output json` (--file) as from the server', async () => {
    const { stdout } = await run(TEMPORAL_CLI, ['workflow', 'show', '-w', workflowId, '--address', env.address, '--namespace', env.namespace ?? 'default', '--output', 'json'], { maxBuffer: 32 << 20 });
    const file = path.join(tmp, 'history.json');
    await writeFile(file, stdout);
    const fromFile = await auditFromFile(file);
    const parentOnly = await auditFromServer(env.client, workflowId, undefined, { children: false });
    expect(essentials(fromFile)).toEqual(essentials(parentOnly));
    expect(fromFile.commands.length).toBe(5); // plan, flaky twice, the failed drain, undo: the rest ran in the children
    expect(fromFile.warnings.join()).toContain(nodeWorkflowId(workflowId, 'probe', 'k8s-1'));
  });

  it('prints the audit through the history command (text, markdown, json)', async () => {
    const ctx: CliContext = {
      loadInventory: () => {
        throw new Error('not used');
      },
      badInput: (m) => {
        throw new Error(`bad input: ${m}`);
      },
      startRunbook: async () => 0,
      client: async () => env.client,
      identity: 'tester@jest',
    };
    const print = async (...args: string[]) => {
      const program = new Command().exitOverride();
      registerHistoryCommands(program, ctx);
      const chunks: string[] = [];
      const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => chunks.push(String(chunk)) > 0);
      try {
        await program.parseAsync(['node', 'runbook', 'history', ...args]);
      } finally {
        spy.mockRestore();
      }
      return chunks.join('');
    };
    const text = await print(workflowId);
    for (const c of journal) expect(text).toContain(c.command);
    expect(text).toMatch(/k8s-1\s+3\s+\S+\s+runOnNode \[child k8s-1\]\s+sh -c/);
    expect(text).toContain('approved by alice@ops-laptop');
    const md = await print(workflowId, '--markdown');
    expect(md).toContain('### Remote commands (9)');
    expect(md).toContain('| reject | bob@ops | rejected |');
    const json = JSON.parse(await print(workflowId, '--json')) as RunbookAudit;
    expect(json.commands.map((c) => c.exitCode)).toEqual(journal.map((c) => c.exitCode));
    await expect(print('--file', path.join(tmp, 'missing.json'))).rejects.toThrow(/bad input: --file: cannot read .*ENOENT/);
    await expect(print('no-such-runbook')).rejects.toThrow(/bad input: no runbook with workflow ID "no-such-runbook"/);
  });
});
