/**
 * refresh-certs, refresh-policy --hold and replace-node survive their worker: the worker runs as its own process
 * (`runbook worker`) and is SIGKILLed inside a step that changes a node; a new worker takes over and the run finishes.
 * The node's commands are slowed after they act (`lab fault slow --when after`), so each kill lands after a command
 * changed the node and before the step that ran it could report back: the retried step must find the change made and
 * not make it again. What each run did is judged from the lab's journal and state (its truth, not the runbook's
 * account): nothing done twice, nothing left half done; and from the run's history, that the step was retried.
 *
 * One dev server; the three runs go side by side, each on its own formed lab and worker. A killed step is taken over
 * once its heartbeat times out: 5 s here (each run's test input shortens it; the default is 60 s).
 */
import type { ChildProcess } from 'child_process';
import type { WorkflowHandle } from '@temporalio/client';
import type { RefreshCertsResult } from '../../common/certs';
import type { CheckResult } from '../../common/check';
import type { RefreshPolicyResult } from '../../common/refresh-policy';
import type { ReplaceNodeResult } from '../../common/replace-node';
import type { Lab } from '../../lab';
import { waitFor } from '../support/lab';
import { startRunbook } from '../support/temporal';
import { useServerSuite } from '../support/e2e';
import { formedLab, killWorker, settle, spawnUpgradeWorker } from './upgrade-support';

const suite = useServerSuite({ name: 'maintenance-crash-e2e', concurrent: true });

const CONTROL_PLANES = ['k8s-1', 'k8s-2', 'k8s-3'];

/** A worker process on its own task queue that the test SIGKILLs and replaces; stop() kills the last one. */
function crashableWorker(name: string) {
  const taskQueue = `${name}-${process.pid}-${Date.now()}`;
  let worker: ChildProcess = spawnUpgradeWorker(suite, taskQueue);
  return {
    taskQueue,
    /** When `check` holds (polled every 20 ms), SIGKILL the worker and start a new one; fail at once if the run ends first. */
    async killWhen(handle: WorkflowHandle, what: string, check: () => boolean): Promise<void> {
      const ended = settle(handle).then(({ error }) => {
        throw new Error(`the run ended before ${what}: ${error ? String(error.cause?.message ?? error.message) : 'completed'}`);
      });
      ended.catch(() => undefined); // after the kill, how the run ends is the test's to judge
      await Promise.race([waitFor(what, check, 180_000, 20), ended]);
      await killWorker(worker);
      worker = spawnUpgradeWorker(suite, taskQueue);
    },
    stop: () => killWorker(worker),
  };
}

const events = (lab: Lab, event: string, since = 0) => lab.journal().slice(since).filter((e) => e.event === event);

/** The steps (activity summaries) of a workflow that completed on a later attempt than the first: those a kill cut. */
async function retriedSteps(workflowId: string): Promise<string[]> {
  const history = (await suite.env.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const summaries = new Map<string, string>();
  for (const e of history) {
    const data = e.userMetadata?.summary?.data;
    if (e.activityTaskScheduledEventAttributes && data) summaries.set(String(e.eventId), JSON.parse(Buffer.from(data).toString('utf8')) as string);
  }
  return history
    .map((e) => e.activityTaskStartedEventAttributes)
    .filter((a) => (a?.attempt ?? 1) > 1)
    .map((a) => summaries.get(String(a!.scheduledEventId)) ?? `event ${String(a!.scheduledEventId)}`);
}

/** `check` as the CLI starts it, on the same worker: the engine's own verdict on the cluster afterwards. */
async function check(lab: Lab, taskQueue: string): Promise<CheckResult> {
  const handle = await startRunbook(suite.env, { kind: 'check', workflowType: 'check', inventory: lab.inventory, input: {}, summary: 'check after the crash' }, taskQueue);
  return (await handle.result()) as CheckResult;
}

test.concurrent('refresh-certs: SIGKILL while a certificate is being refreshed; the run finishes, each certificate refreshed exactly once, check healthy', async () => {
  const lab = await formedLab(suite, 3, 1);
  // front-proxy-client.crt expired on every control plane (#4852), server.crt on k8s-1 too (only one: an expired
  // server.crt breaks its node's API, and the health gate reads the cluster through the others).
  await lab.fault('k8s-1', 'cert-expired', { cert: 'server.crt' });
  for (const n of CONTROL_PLANES) await lab.fault(n, 'cert-expired', { cert: 'front-proxy-client.crt' });
  await lab.fault('k8s-1', 'slow', { ms: 500, when: 'after' });
  const w = crashableWorker('certs-crash');
  const handle = await startRunbook(
    suite.env,
    { kind: 'refresh-certs', workflowType: 'refreshCerts', inventory: lab.inventory, input: { withinDays: 30, readyTimeoutSeconds: 60, heartbeatTimeoutSeconds: 5 }, summary: 'refresh-certs', yes: true },
    w.taskQueue,
  );
  await w.killWhen(handle, "k8s-1's server.crt refreshed", () => events(lab, 'certs-refreshed').length >= 1);
  const { value, error } = await settle(handle);
  expect(error).toBeUndefined();
  const result = value as RefreshCertsResult;
  expect(await retriedSteps(handle.workflowId)).toEqual(['refresh server.crt on k8s-1']);
  // The retried step found k8s-1's server.crt renewed by the killed attempt and left it alone (its undo level holds).
  expect(result.rotated.map((r) => [r.node, r.cert, r.skipped ?? false])).toEqual([
    ['k8s-1', 'server.crt', true],
    ['k8s-1', 'front-proxy-client.crt', false],
    ['k8s-2', 'front-proxy-client.crt', false],
    ['k8s-3', 'front-proxy-client.crt', false],
  ]);
  // The lab's truth: each certificate refreshed exactly once, node after node; nothing undone.
  expect(events(lab, 'certs-refreshed').map((e) => `${e.node} ${String(e.cert)}`)).toEqual([
    'k8s-1 server.crt',
    'k8s-1 front-proxy-client.crt',
    'k8s-2 front-proxy-client.crt',
    'k8s-3 front-proxy-client.crt',
  ]);
  expect(events(lab, 'certs-restored')).toEqual([]);
  await lab.heal('k8s-1');
  for (const n of CONTROL_PLANES) {
    const checked = await lab.exec(n, 'sudo microk8s refresh-certs --check');
    expect({ n, out: checked.stdout }).toEqual({ n, out: expect.stringContaining('The server certificate will expire in 364 days.\nThe front proxy client certificate will expire in 364 days.') });
  }
  const after = await check(lab, w.taskQueue);
  expect(after.problems).toEqual([]);
  expect(after.healthy).toBe(true);
}, 240_000);

test.concurrent('refresh-policy --hold: SIGKILL while a node is being held; the run finishes, every node held exactly once and reported as held by this run', async () => {
  const lab = await formedLab(suite, 3, 1);
  const nodes = lab.inventory.nodes.map((n) => n.name);
  await lab.fault('k8s-1', 'slow', { ms: 500, when: 'after' });
  const w = crashableWorker('policy-crash');
  const handle = await startRunbook(
    suite.env,
    { kind: 'refresh-policy', workflowType: 'refreshPolicy', inventory: lab.inventory, input: { action: 'hold', heartbeatTimeoutSeconds: 5 }, summary: 'refresh-policy hold', yes: true },
    w.taskQueue,
  );
  await w.killWhen(handle, 'k8s-1 held', () => events(lab, 'held').length >= 1);
  const { value, error } = await settle(handle);
  expect(error).toBeUndefined();
  expect(await retriedSteps(handle.workflowId)).toEqual(['hold auto-refresh on k8s-1']);
  const result = value as RefreshPolicyResult;
  // The retried step found k8s-1 held: still this run's doing.
  expect(result.changed).toEqual(nodes);
  expect(result.nodes.map((n) => [n.node, n.hold])).toEqual(nodes.map((n) => [n, 'forever']));
  // The lab's truth: one `snap refresh --hold microk8s` took effect per node, none twice, none system-wide.
  expect(events(lab, 'held').map((e) => `${e.node} ${String(e.scope)} ${String(e.until)}`)).toEqual(nodes.map((n) => `${n} microk8s forever`));
  expect((await lab.status()).nodes.map((n) => [n.name, n.held])).toEqual(nodes.map((n) => [n, true]));
}, 240_000);

test.concurrent('replace-node: SIGKILL during the removal and during the join; the replacement is a voter, HA is back, one dqlite member for it', async () => {
  const lab = await formedLab(suite, 3, 1);
  await lab.fault('k8s-3', 'destroy');
  await lab.rebuild('k8s-3');
  // remove-node runs on k8s-1 (the first control plane that answers), the join on k8s-3.
  for (const n of ['k8s-1', 'k8s-3']) await lab.fault(n, 'slow', { ms: 500, when: 'after' });
  const since = lab.journal().length;
  const w = crashableWorker('replace-crash');
  const handle = await startRunbook(
    suite.env,
    {
      kind: 'replace-node',
      workflowType: 'replaceNode',
      inventory: lab.inventory,
      input: { node: 'k8s-3', replacement: 'k8s-3', timing: { pollMs: 200, settleTimeoutMs: 60_000, heartbeatTimeoutMs: 5_000, tokenTtlSeconds: 120 } },
      summary: 'replace k8s-3',
      yes: true,
    },
    w.taskQueue,
  );
  await w.killWhen(handle, 'k8s-3 removed (remove-node --force)', () => events(lab, 'removed', since).length >= 1);
  await w.killWhen(handle, 'k8s-3 joined', () => events(lab, 'joined', since).length >= 1);
  const { value, error } = await settle(handle);
  expect(error).toBeUndefined();
  expect(await retriedSteps(handle.workflowId)).toEqual(['remove-node k8s-3 --force on k8s-1']);
  expect(await retriedSteps(`${handle.workflowId}.join-k8s-3`)).toEqual([expect.stringMatching(/^join k8s-3 as /)]);
  expect(value as ReplaceNodeResult).toMatchObject({ removal: 'force', joined: ['k8s-3'], voters: 3, ha: true });
  // The lab's truth: removed once, joined once, as a control plane.
  expect(events(lab, 'removed', since).map((e) => [e.node, e.force])).toEqual([['k8s-3', true]]);
  expect(events(lab, 'joined', since).map((e) => [e.node, e.as])).toEqual([['k8s-3', 'controlplane']]);
  const st = await lab.status();
  expect(st.nodes.find((n) => n.name === 'k8s-3')).toMatchObject({ ready: true, joinedAs: 'controlplane', dqlite: expect.objectContaining({ role: 'voter', up: true }) });
  expect(st.cluster).toMatchObject({ ha: true, quorum: true });
  expect([...st.cluster.voters].sort()).toEqual(CONTROL_PLANES);
  // No duplicate or stale dqlite member: one member per control plane, each with its machine.
  const address = lab.inventory.nodes.find((n) => n.name === 'k8s-3')!.address;
  const members = lab.rawState().clusters[st.nodes.find((n) => n.name === 'k8s-1')!.cluster].members;
  expect(members.filter((m) => m.address === `${address}:19001`)).toHaveLength(1);
  expect(members.map((m) => m.node).sort()).toEqual(CONTROL_PLANES);
}, 240_000);
