/**
 * Webhook notifications end to end: the `runbook` CLI as a child process, the real dev server, a real worker and a
 * formed one-node lab behind real sshd, and a real HTTP receiver on loopback standing in for a chat webhook. The
 * inventory names the webhooks by reference (an environment variable of the worker, a file on the worker); the
 * receiver's URLs carry a fake token, which must appear in no workflow history.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { clusterWorkflowId } from '../../common/constants';
import { progressQuery } from '../../common/messages';
import type { NotificationTarget } from '../../common/notifications';
import { useLabSuite } from '../support/e2e';
import { registerSecret } from '../support/history-scan';
import { WebhookReceiver } from '../support/webhook-receiver';

const s = useLabSuite({ lab: { name: 'nt', controlPlanes: 1, channel: '1.28/stable', formed: true, profile: 'fast' } });

const TOKEN = 'T0FAKE/B0FAKE/fakeWebhookToken0123';
registerSecret('the webhook token in the receiver URLs', TOKEN);

let receiver: WebhookReceiver;
beforeAll(async () => {
  receiver = await WebhookReceiver.start();
});
afterAll(() => receiver?.stop());

/** The receiver's URL for `name`, with the fake token as its last segment (under /fail/ it answers 500). */
const url = (name: string) => `${receiver.base}/${name}/${TOKEN}`;
const on = (name: string) => receiver.on(`/${name}/${TOKEN}`);
const waitFor = (name: string, matches: (body: Record<string, unknown>) => boolean, n = 1) => receiver.waitFor(`/${name}/${TOKEN}`, matches, n);

/** The lab's inventory with a `notifications` section, written beside it: what an operator's file would hold. */
function inventoryWith(name: string, notifications: Array<Omit<NotificationTarget, 'on'> & { on?: string[] }>): string {
  const raw = parseYaml(fs.readFileSync(s.lab.inventoryPath, 'utf8')) as Record<string, unknown>;
  const file = path.join(s.stateDir, `${name}.yaml`);
  fs.writeFileSync(file, toYaml({ ...raw, notifications }));
  return file;
}

/** Every byte of the run's history as text, payloads decoded: the URL must not be in it, in any form. */
async function historyText(workflowId: string): Promise<string> {
  const history = await s.env.client.workflow.getHandle(workflowId).fetchHistory();
  // The history's JSON carries payload bytes as base64 `data`: decoded, or a URL inside would go unseen.
  const decoded = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(decoded)
      : v && typeof v === 'object'
        ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, k === 'data' && typeof x === 'string' ? Buffer.from(x, 'base64').toString('utf8') : decoded(x)]))
        : v;
  return JSON.stringify(decoded(JSON.parse(JSON.stringify(history))));
}

/** The references and the notices are in the history (the check can see payloads); the URL is not. */
function expectNoUrl(text: string, reference: string): void {
  expect(text).toContain(reference);
  expect(text).toContain('deliverNotification');
  expect(text).not.toContain(TOKEN);
  expect(text).not.toContain('fakeWebhookToken0123');
  expect(text).not.toContain(receiver.base);
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

test('an approval waiting reaches both formats with the exact command, which answers it; the end follows before the run closes', async () => {
  process.env.NOTIFY_GENERIC_URL = url('generic');
  const slackFile = path.join(s.stateDir, 'slack.url');
  fs.writeFileSync(slackFile, `${url('slack')}\n`, { mode: 0o600 });
  const inv = inventoryWith('both', [
    { format: 'webhook', urlEnv: 'NOTIFY_GENERIC_URL' },
    { format: 'slack', urlFile: slackFile },
  ]);
  const id = clusterWorkflowId(s.lab.inventory.cluster);

  const run = s.cli(['refresh-policy', '-i', inv, '--hold']);
  const approval = await waitFor('generic', (b) => b.event === 'approval');
  expect(approval.body).toEqual({
    event: 'approval',
    runbook: 'refresh-policy',
    cluster: s.lab.inventory.cluster,
    workflowId: id,
    message: `refresh-policy on cluster ${s.lab.inventory.cluster} (${id}) waits for approval: start: hold snap auto-refresh on ${s.lab.inventory.cluster}. Approve: runbook approve ${id}; reject: runbook reject ${id} --reason "..."`,
    command: `runbook approve ${id}`,
    at: expect.stringMatching(ISO),
  });
  const slack = await waitFor('slack', (b) => String(b.text).includes('waits for approval'));
  expect(Object.keys(slack.body)).toEqual(['text']);
  expect(String(slack.body.text).split('\n')).toEqual([expect.stringMatching(/^:raised_hand: refresh-policy on cluster .* waits for approval: /), `\`runbook approve ${id}\``]);

  // The operator pastes the command from the notice.
  const [, ...args] = String(approval.body.command).split(' ');
  const answered = await s.cli(args);
  expect(answered.stderr).toBe('');
  expect(answered.code).toBe(0);
  const r = await run;
  expect(r.code).toBe(0);

  // Sent before the workflow closed: the CLI returned only then, so the end notice is already here.
  const ends = on('generic').filter((g) => g.body.event === 'end');
  expect(ends.map((e) => e.body)).toEqual([
    {
      event: 'end',
      runbook: 'refresh-policy',
      cluster: s.lab.inventory.cluster,
      workflowId: id,
      outcome: 'succeeded',
      message: `refresh-policy on cluster ${s.lab.inventory.cluster} (${id}) succeeded: held on k8s-1`,
      command: `runbook status ${id}`,
      at: expect.stringMatching(ISO),
    },
  ]);
  expect(on('slack').map((g) => String(g.body.text).split('\n')[0])).toEqual([
    expect.stringMatching(/^:raised_hand: /),
    `:white_check_mark: refresh-policy on cluster ${s.lab.inventory.cluster} (${id}) succeeded: held on k8s-1`,
  ]);
  expectNoUrl(await historyText(id), 'NOTIFY_GENERIC_URL');
}, 120_000);

test('a webhook answering 500, an unset variable and a missing file: the runbook still succeeds, and says what was not delivered', async () => {
  process.env.NOTIFY_FAILING_URL = url('fail');
  delete process.env.NOTIFY_UNSET_URL;
  const inv = inventoryWith('failing', [
    { format: 'webhook', urlEnv: 'NOTIFY_FAILING_URL' },
    { format: 'slack', urlEnv: 'NOTIFY_UNSET_URL' },
    { format: 'slack', urlFile: path.join(s.stateDir, 'no-such.url') },
  ]);
  const id = clusterWorkflowId(s.lab.inventory.cluster);

  const r = await s.cli(['refresh-policy', '-i', inv, '--unhold', '--yes']);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/released on: k8s-1/);
  // The retry policy's attempts, each answered 500.
  expect(on('fail').map((g) => g.body.event)).toEqual(['end', 'end', 'end', 'end']);
  const { notes } = await s.env.client.workflow.getHandle(id).query(progressQuery);
  // The three deliveries run at once: their notes come in the order they gave up, sorted here by target.
  expect(notes.filter((n) => n.includes('notice')).sort()).toEqual([
    'the end notice to notifications[0] (webhook, urlEnv NOTIFY_FAILING_URL) was not delivered: the webhook answered HTTP 500 (4 attempts)',
    `the end notice to notifications[1] (slack, urlEnv NOTIFY_UNSET_URL) was not delivered: NOTIFY_UNSET_URL is not set in the worker's environment; set it to the webhook URL where the worker runs`,
    expect.stringMatching(/^the end notice to notifications\[2\] \(slack, urlFile .*no-such\.url\) was not delivered: webhook URL file ".*no-such\.url": no such file \(ENOENT\) \(read on the worker\)$/),
  ]);
  expectNoUrl(await historyText(id), 'NOTIFY_FAILING_URL');
}, 120_000);

test('a rejected plan is a failure notice with the failure and `runbook status`; `on` leaves the approval out; a cancel is an end', async () => {
  process.env.NOTIFY_FAILURES_URL = url('failures');
  process.env.NOTIFY_ALL_URL = url('all');
  const inv = inventoryWith('filtered', [
    { format: 'webhook', urlEnv: 'NOTIFY_FAILURES_URL', on: ['failure'] },
    { format: 'webhook', urlEnv: 'NOTIFY_ALL_URL' },
  ]);
  const id = clusterWorkflowId(s.lab.inventory.cluster);

  const rejected = s.cli(['refresh-policy', '-i', inv, '--hold']);
  await waitFor('all', (b) => b.event === 'approval');
  expect((await s.cli(['reject', id, '--reason', 'not during the freeze'])).code).toBe(0);
  expect((await rejected).code).toBe(1);
  expect(on('failures').map((g) => g.body)).toEqual([
    {
      event: 'failure',
      runbook: 'refresh-policy',
      cluster: s.lab.inventory.cluster,
      workflowId: id,
      message: `refresh-policy on cluster ${s.lab.inventory.cluster} (${id}) failed: the plan was rejected; nothing was changed. Details: runbook status ${id}`,
      command: `runbook status ${id}`,
      at: expect.stringMatching(ISO),
    },
  ]);

  const cancelled = s.cli(['refresh-policy', '-i', inv, '--hold']);
  await waitFor('all', (b) => b.event === 'approval', 2);
  expect((await s.cli(['cancel', id])).code).toBe(0);
  await cancelled;
  expect(on('all').map((g) => [g.body.event, g.body.outcome])).toEqual([
    ['approval', undefined],
    ['failure', undefined],
    ['approval', undefined],
    ['end', 'cancelled'],
  ]);
  expect(on('all').at(-1)!.body.message).toBe(
    `refresh-policy on cluster ${s.lab.inventory.cluster} (${id}) was cancelled; it was waiting for approval: start: hold snap auto-refresh on ${s.lab.inventory.cluster}`,
  );
  expect(on('failures')).toHaveLength(1);
  expectNoUrl(await historyText(id), 'NOTIFY_ALL_URL');
}, 120_000);

test('an upgrade paused after a failure: the notice names the node and `runbook decide`; the answer ends the run and the failure notice follows', async () => {
  process.env.NOTIFY_PAUSE_URL = url('pause');
  const inv = inventoryWith('pause', [{ format: 'webhook', urlEnv: 'NOTIFY_PAUSE_URL' }]);
  const id = clusterWorkflowId(s.lab.inventory.cluster);
  // The only node cannot be drained (the microbot PodDisruptionBudget: its pod has nowhere else to go): the run waits for a decision.
  const run = s.cli(['upgrade', '-i', inv, '--to', '1.29', '--on-failure', 'pause', '--drain-timeout', '2s', '--yes'], { timeoutMs: 110_000 });
  const paused = await waitFor('pause', (b) => b.event === 'pause');
  expect(paused.body).toMatchObject({ runbook: 'upgrade', cluster: s.lab.inventory.cluster, workflowId: id, command: `runbook decide ${id} retry|rollback|abort` });
  expect(String(paused.body.message)).toMatch(new RegExp(`^upgrade on cluster \\S+ \\(${id}\\) is paused after a failure and waits for a decision: .*k8s-1.*\\. Answer: runbook decide ${id} retry\\|rollback\\|abort$`));

  const answered = await s.cli(['decide', id, 'abort', '--reason', 'look at the workloads first']);
  expect(answered.code).toBe(0);
  expect((await run).code).toBe(1);
  expect(on('pause').map((g) => g.body.event)).toEqual(['pause', 'failure']);
  expect(String(on('pause')[1].body.message)).toMatch(/failed: .*aborted by /);
  expect((await s.lab.status()).nodes[0]).toMatchObject({ ready: true, cordoned: false, held: false });
  expectNoUrl(await historyText(id), 'NOTIFY_PAUSE_URL');
}, 120_000);
