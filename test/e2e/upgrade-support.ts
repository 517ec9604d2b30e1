/**
 * Shared by the upgrade e2e tests: a fresh formed lab per test, starting the runbook as the CLI does, and the
 * issue's journal invariants checked on the lab's journal (the lab's truth, not the runbook's own account).
 */
import { spawn, type ChildProcess } from 'child_process';
import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { progressQuery, type RunbookProgress } from '../../common/messages';
import type { Lab, JournalEntry } from '../../lab';
import type { ServerSuite } from '../support/e2e';
import { CLI_MAIN, REPO_ROOT, startRunbook } from '../support/temporal';

/** A formed lab (default 3 control planes, 2 workers, 1.28) for the current test, in the suite's state dir. */
export function formedLab(suite: ServerSuite, controlPlanes = 3, workers = 2, channel = '1.28/stable'): Promise<Lab> {
  return suite.lab({ name: 'up', controlPlanes, workers, channel, formed: true });
}

export function startUpgrade(env: TestWorkflowEnvironment, lab: Lab, taskQueue: string, input: Record<string, unknown>): Promise<WorkflowHandle> {
  return startRunbook(
    env,
    {
      kind: 'upgrade',
      workflowType: 'rollingUpgrade',
      inventory: lab.inventory,
      input: { readyTimeoutSeconds: 30, drainTimeoutSeconds: 5, heartbeatTimeoutSeconds: 10, ...input },
      summary: `upgrade ${lab.inventory.cluster}`,
      yes: true,
    },
    taskQueue,
  );
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read result and failure fields freely
export async function settle(handle: WorkflowHandle): Promise<{ value?: any; error?: any }> {
  return handle.result().then(
    (value) => ({ value }),
    (error) => ({ error }),
  );
}

export async function waitProgress(handle: WorkflowHandle, what: (p: RunbookProgress) => boolean, timeoutMs = 60_000): Promise<RunbookProgress> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const p = await handle.query(progressQuery).catch(() => undefined);
    if (p && what(p)) return p;
    if (Date.now() > end) throw new Error(`timed out; last step: ${p?.step}; notes: ${p?.notes.join(' | ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `refreshed` events: node@minor in journal order. */
export function refreshes(journal: JournalEntry[]): Array<{ node: string; to: string; channel: string }> {
  return journal.filter((e) => e.event === 'refreshed' && !e.auto).map((e) => ({ node: e.node, to: String(e.to), channel: String(e.channel) }));
}

/**
 * The invariants: at most one control plane out of service (cordoned, or its voter down after a
 * refresh) at a time; no worker refreshed to a minor before every control plane runs it; every node cordoned
 * is uncordoned at the end unless named in `allowCordoned`.
 */
export function journalInvariants(journal: JournalEntry[], controlPlanes: string[], allowCordoned: string[] = []): string[] {
  const problems: string[] = [];
  const cordoned = new Set<string>();
  const down = new Set<string>();
  const minorOf = (v: string) => /^v1\.(\d+)\./.exec(v)?.[1];
  const cpMinor: Record<string, string | undefined> = {};
  for (const e of journal) {
    if (e.event === 'cordoned') cordoned.add(e.node);
    if (e.event === 'uncordoned') cordoned.delete(e.node);
    if (e.event === 'out-of-service') down.add(e.node);
    if (e.event === 'in-service') down.delete(e.node);
    const out = controlPlanes.filter((n) => cordoned.has(n) || down.has(n));
    if (out.length > 1) problems.push(`${e.t}: control planes out of service together: ${out.join(', ')}`);
    if (e.event === 'refreshed' || e.event === 'reverted') {
      if (controlPlanes.includes(e.node)) cpMinor[e.node] = minorOf(String(e.to));
      else if (e.event === 'refreshed') {
        const behind = controlPlanes.filter((cp) => cpMinor[cp] !== undefined && Number(cpMinor[cp]) < Number(minorOf(String(e.to))));
        const unknown = controlPlanes.filter((cp) => cpMinor[cp] === undefined && minorOf(String(e.from)) !== minorOf(String(e.to)));
        if (behind.length || unknown.length) problems.push(`${e.t}: worker ${e.node} refreshed to ${e.to} before ${[...behind, ...unknown].join(', ')}`);
      }
    }
  }
  for (const n of cordoned) if (!allowCordoned.includes(n)) problems.push(`${n} left cordoned`);
  return problems;
}

/**
 * The run's history and its children's, as text with every payload decoded (payload bytes are base64 in
 * the JSON form): what secret scans and audit assertions must read.
 */
export async function historyText(env: TestWorkflowEnvironment, handle: WorkflowHandle): Promise<string> {
  const texts: string[] = [];
  const seen = new Set<string>();
  const visit = async (workflowId: string) => {
    if (seen.has(workflowId)) return;
    seen.add(workflowId);
    const raw = historyToJSON(await env.client.workflow.getHandle(workflowId).fetchHistory());
    const children: string[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) {
          if (k === 'data' && typeof x === 'string') texts.push(Buffer.from(x, 'base64').toString('utf8'));
          if (k === 'startChildWorkflowExecutionInitiatedEventAttributes') children.push((x as { workflowId: string }).workflowId);
          walk(x);
        }
      }
    };
    walk(JSON.parse(raw));
    texts.push(raw);
    for (const c of children) await visit(c);
  };
  await visit(handle.workflowId);
  return texts.join('\n');
}

/** `runbook worker` as its own process against the suite's server, so tests can SIGKILL it mid-run; killed after the test. */
export function spawnUpgradeWorker(suite: ServerSuite, taskQueue: string): ChildProcess {
  const { env } = suite;
  const child = spawn(process.execPath, [CLI_MAIN, 'worker', '--state-dir', suite.stateDir, '--log-level', 'ERROR', '--shutdown-grace', '1s'], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: env.address,
      TEMPORAL_NAMESPACE: env.namespace ?? 'default',
      TEMPORAL_CONFIG_FILE: '/nonexistent/temporal.toml',
      RUNBOOK_TASK_QUEUE: taskQueue,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.on('data', () => undefined);
  suite.defer(() => killWorker(child));
  return child;
}

/** SIGKILL a worker process and wait for it to be gone (no-op when it already exited or was killed). */
export async function killWorker(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}
