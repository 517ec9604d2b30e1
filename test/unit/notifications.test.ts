/**
 * Webhook notifications without Temporal: the inventory's `notifications` section (errors name the field and the
 * fix), the notices and the two bodies, where the worker finds the URL (env var or file, judged like every local
 * file), and the delivery activity against a real HTTP server on loopback. No message ever holds the URL: it stands
 * for a webhook's token.
 */
import * as fs from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { execFileSync } from 'child_process';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { parse as parseYaml } from 'yaml';
import { createNotificationActivities } from '../../activities/notifications';
import { parseWebhookUrl, resolveWebhookUrl } from '../../activities/webhook-url';
import { answerCommands as watchAnswerCommands } from '../../cli/watch/events';
import { FailureType } from '../../common/constants';
import { InventoryError, MAX_NOTIFICATION_TARGETS, resolveInventory } from '../../common/inventory';
import {
  approvalNotice,
  decisionNotice,
  type DeliverNotificationInput,
  endNotice,
  failureNotice,
  MAX_MESSAGE_CHARS,
  type Notice,
  type NotificationTarget,
  pausedNotice,
  slackBody,
  webhookBody,
} from '../../common/notifications';
import { RUNBOOK_TYPES } from '../../common/runbooks';
import * as workflows from '../../workflows';
import { NOTIFYING } from '../../workflows/notifications';

const SECRET = 'fakeWebhookToken0123';
const TOKEN = `T0FAKE/B0FAKE/${SECRET}`;
const node = { name: 'k8s-1', address: '10.0.0.1' };

function problems(raw: Record<string, unknown>): string[] {
  try {
    resolveInventory({ cluster: 'prod', nodes: [node], ...raw }, 'inventory.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(InventoryError);
    return (e as Error).message.split('\n');
  }
  throw new Error('expected the inventory to be rejected');
}

describe('the inventory names webhooks by reference', () => {
  test('a YAML section resolves with every event by default; `on` picks some, in a fixed order', () => {
    const raw = parseYaml(
      [
        'cluster: prod',
        'notifications:',
        '  - format: slack',
        '    urlEnv: SLACK_WEBHOOK_URL',
        '  - format: webhook',
        '    urlFile: /etc/microk8s-runbooks/pager.url',
        '    on: [end, failure]',
        'nodes:',
        '  - name: k8s-1',
        '    address: 10.0.0.1',
      ].join('\n'),
    );
    expect(resolveInventory(raw).notifications).toEqual([
      { format: 'slack', urlEnv: 'SLACK_WEBHOOK_URL', on: ['approval', 'pause', 'failure', 'end'] },
      { format: 'webhook', urlFile: '/etc/microk8s-runbooks/pager.url', on: ['failure', 'end'] },
    ]);
  });

  test('no section, or an empty one: the resolved inventory has no notifications key at all (inputs as before)', () => {
    expect('notifications' in resolveInventory({ cluster: 'prod', nodes: [node] })).toBe(false);
    expect('notifications' in resolveInventory({ cluster: 'prod', nodes: [node], notifications: [] })).toBe(false);
  });

  test.each([
    ['both references', [{ format: 'slack', urlEnv: 'A', urlFile: '/a' }], 'notifications[0]: has both urlEnv and urlFile; keep the one the worker should read'],
    ['no reference', [{ format: 'slack' }], 'notifications[0]: names no URL; add urlEnv: NAME (an environment variable of the worker that holds the URL) or urlFile: /abs/path'],
    ['the URL itself', [{ format: 'slack', url: `https://hooks.slack.com/services/${TOKEN}` }], 'notifications[0].url: the URL itself never goes in the inventory'],
    ['an unknown format', [{ format: 'teams', urlEnv: 'A' }], 'notifications[0].format: must be webhook (a generic JSON body) or slack'],
    ['a bad variable name', [{ format: 'slack', urlEnv: 'SLACK-URL' }], 'notifications[0].urlEnv: must be an environment variable name'],
    ["the engine's own variable", [{ format: 'slack', urlEnv: 'RUNBOOK_CODEC_KEY' }], "notifications[0].urlEnv: names one of the engine's own variables (RUNBOOK_*)"],
    ['a relative file', [{ format: 'webhook', urlFile: 'hook.url' }], 'notifications[0].urlFile: must be an absolute path'],
    ['a file outside through ..', [{ format: 'webhook', urlFile: '/etc/../root/hook.url' }], 'notifications[0].urlFile: must not contain ".."'],
    ['an unknown event', [{ format: 'slack', urlEnv: 'A', on: ['approval', 'start'] }], 'notifications[0].on[1]: must be one of approval, pause, failure, end'],
    ['no event', [{ format: 'slack', urlEnv: 'A', on: [] }], 'notifications[0].on: lists no event'],
    ['a misspelt key', [{ format: 'slack', url_env: 'A' }], 'notifications[0]: unknown key "url_env"; remove it or check the spelling'],
  ])('%s is refused, naming the field and the fix', (_what, notifications, expected) => {
    const found = problems({ notifications }).join('\n');
    expect(found).toContain(`inventory.yaml: ${expected}`);
    expect(found).not.toContain(TOKEN);
  });

  test(`more than ${MAX_NOTIFICATION_TARGETS} targets are refused`, () => {
    const many = Array.from({ length: MAX_NOTIFICATION_TARGETS + 1 }, (_, i) => ({ format: 'webhook', urlEnv: `HOOK_${i}` }));
    expect(problems({ notifications: many }).join('\n')).toContain(`inventory.yaml: notifications: names more than ${MAX_NOTIFICATION_TARGETS} webhooks`);
  });
});

describe('notices and bodies', () => {
  const subject = { runbook: 'refresh-policy' as const, cluster: 'prod', workflowId: 'runbook-prod' };
  const at = new Date('2026-05-01T02:00:00Z');

  test('an approval carries the exact command runbook watch prints', () => {
    const n = approvalNotice(subject, at, 'start: hold snap auto-refresh on prod');
    const cli = watchAnswerCommands('runbook-prod');
    expect(n).toEqual({
      event: 'approval',
      runbook: 'refresh-policy',
      cluster: 'prod',
      workflowId: 'runbook-prod',
      message: `refresh-policy on cluster prod (runbook-prod) waits for approval: start: hold snap auto-refresh on prod. Approve: ${cli.approve}; reject: ${cli.reject}`,
      command: 'runbook approve runbook-prod',
      at: '2026-05-01T02:00:00.000Z',
    });
    expect(n.command).toBe(cli.approve);
  });

  test('a pause, a decision, a failure and the end each say what answers or shows them', () => {
    expect(pausedNotice(subject, at, 'holdRefresh k8s-2')).toMatchObject({ event: 'pause', command: 'runbook resume runbook-prod', message: expect.stringContaining('is paused before: holdRefresh k8s-2') });
    expect(decisionNotice(subject, at, 'k8s-2: refreshSnap failed: exit 1')).toMatchObject({
      event: 'pause',
      command: 'runbook decide runbook-prod retry|rollback|abort',
      message: expect.stringContaining('waits for a decision: k8s-2: refreshSnap failed: exit 1'),
    });
    expect(failureNotice(subject, at, 'the plan was rejected; nothing was changed')).toMatchObject({
      event: 'failure',
      command: 'runbook status runbook-prod',
      message: 'refresh-policy on cluster prod (runbook-prod) failed: the plan was rejected; nothing was changed. Details: runbook status runbook-prod',
    });
    expect(endNotice(subject, at, 'succeeded', 'held on k8s-1')).toMatchObject({ event: 'end', outcome: 'succeeded', message: 'refresh-policy on cluster prod (runbook-prod) succeeded: held on k8s-1' });
    expect(endNotice(subject, at, 'cancelled', 'at step "holdRefresh k8s-2"')).toMatchObject({
      event: 'end',
      outcome: 'cancelled',
      message: 'refresh-policy on cluster prod (runbook-prod) was cancelled; it was at step "holdRefresh k8s-2"',
    });
  });

  test('a long message is clipped: a notice is a message, not a log', () => {
    expect(failureNotice(subject, at, 'x'.repeat(10_000)).message).toHaveLength(MAX_MESSAGE_CHARS);
  });

  test('the generic body has the documented fields, in order; the Slack body is one text with the command as code', () => {
    const n = approvalNotice(subject, at, 'start: <hold> & go');
    expect(Object.keys(webhookBody(n))).toEqual(['event', 'runbook', 'cluster', 'workflowId', 'message', 'command', 'at']);
    expect(Object.keys(webhookBody(endNotice(subject, at, 'succeeded', 'ok')))).toEqual(['event', 'runbook', 'cluster', 'workflowId', 'outcome', 'message', 'command', 'at']);
    const { text } = slackBody(n);
    expect(Object.keys(slackBody(n))).toEqual(['text']);
    expect(text.split('\n')).toEqual([expect.stringMatching(/^:raised_hand: refresh-policy on cluster prod .*start: &lt;hold&gt; &amp; go\./), '`runbook approve runbook-prod`']);
    expect(slackBody(endNotice(subject, at, 'cancelled', 'x')).text).toMatch(/^:no_entry_sign: /);
    expect(slackBody(failureNotice(subject, at, 'x')).text).toMatch(/^:x: /);
  });
});

describe('where the worker finds the URL', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webhook-url-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const url = `https://hooks.example.com/services/${TOKEN}`;
  const file = (name: string, text: string) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, text, { mode: 0o600 });
    return p;
  };
  const target = (t: Partial<NotificationTarget>): NotificationTarget => ({ format: 'webhook', on: ['end'], ...t });
  const problemOf = async (t: Partial<NotificationTarget>, env: NodeJS.ProcessEnv = {}) => {
    const r = await resolveWebhookUrl(target(t), env);
    if (!('problem' in r)) throw new Error('expected a problem');
    expect(r.problem).not.toContain(SECRET);
    expect(r.problem).not.toContain('hooks.example.com');
    return r.problem;
  };

  test('an environment variable or a file (its last newline ignored)', async () => {
    expect(await resolveWebhookUrl(target({ urlEnv: 'HOOK' }), { HOOK: url })).toEqual({ url: new URL(url) });
    expect(await resolveWebhookUrl(target({ urlFile: file('ok.url', `${url}\n`) }))).toEqual({ url: new URL(url) });
  });

  test('an unset or empty variable says which and where to set it', async () => {
    expect(await problemOf({ urlEnv: 'HOOK' })).toBe("HOOK is not set in the worker's environment; set it to the webhook URL where the worker runs");
    expect(await problemOf({ urlEnv: 'HOOK' }, { HOOK: '  ' })).toMatch(/^HOOK is not set/);
  });

  test.each([
    ['not a URL', `hooks.example.com/services/${TOKEN}`, /does not hold a URL/],
    ['another scheme', `ftp://hooks.example.com/${TOKEN}`, /does not hold an http or https URL/],
    ['a token mistaken for the URL', `xoxb-${SECRET}:x`, /does not hold an http or https URL/],
    ['user info', `https://user:${SECRET}@hooks.example.com/x`, /user name or password/],
    ['two lines', `${url}\n${url}\n`, /alone, on one line/],
  ])('%s is a problem that never echoes the value', async (_what, value, expected) => {
    expect(await problemOf({ urlEnv: 'HOOK' }, { HOOK: value })).toMatch(expected);
    expect(await problemOf({ urlFile: file('bad.url', value) })).toMatch(expected);
  });

  test('the file is judged like every local file: missing, a directory, a FIFO, too big', async () => {
    expect(await problemOf({ urlFile: path.join(dir, 'missing.url') })).toMatch(/^webhook URL file ".*missing\.url": no such file \(ENOENT\) \(read on the worker\)$/);
    expect(await problemOf({ urlFile: dir })).toMatch(/is a directory/);
    const fifo = path.join(dir, 'fifo.url');
    execFileSync('mkfifo', [fifo]);
    expect(await problemOf({ urlFile: fifo })).toMatch(/a FIFO \(named pipe\); it must be a regular file/);
    expect(await problemOf({ urlFile: file('big.url', `${url}?${'x'.repeat(9000)}`) })).toMatch(/more than the 8 KiB a webhook URL file may be/);
  });

  test('parseWebhookUrl takes http and https only', () => {
    expect(parseWebhookUrl('http://127.0.0.1:8080/hook', 'x')).toEqual({ url: new URL('http://127.0.0.1:8080/hook') });
    expect(parseWebhookUrl('javascript:alert(1)', '$HOOK')).toEqual({ problem: '$HOOK does not hold an http or https URL; a webhook is one' });
  });
});

describe('the delivery activity, against a real HTTP server on loopback', () => {
  let server: http.Server;
  let base: string;
  let answer = 200;
  const got: Array<{ path: string; type?: string; body: unknown }> = [];
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let text = '';
      req.on('data', (c) => (text += c));
      req.on('end', () => {
        got.push({ path: req.url ?? '', type: req.headers['content-type'], body: JSON.parse(text || 'null') });
        if (req.url?.includes('/slow/')) return; // never answers
        // The answer echoes the path, as many servers' error pages do: it must never reach a message.
        if (answer >= 300 && answer < 400) res.writeHead(answer, { location: `${base}/elsewhere/${TOKEN}` });
        else res.writeHead(answer, { 'content-type': 'text/plain' });
        res.end(`Cannot POST ${req.url}`);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(() => {
    got.length = 0;
    answer = 200;
  });

  const notice: Notice = failureNotice({ runbook: 'backup', cluster: 'prod', workflowId: 'runbook-prod' }, new Date('2026-05-01T02:00:00Z'), 'disk full');
  const deliver = (format: NotificationTarget['format'], hook: string, timeoutMs?: number) => {
    const { deliverNotification } = createNotificationActivities({ env: { HOOK: hook }, timeoutMs });
    const input: DeliverNotificationInput = { target: { format, urlEnv: 'HOOK', on: ['failure'] }, index: 0, notice };
    return new MockActivityEnvironment().run(deliverNotification, input);
  };
  const failureOf = async (p: Promise<unknown>): Promise<ApplicationFailure> => {
    const e = await p.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(ApplicationFailure);
    const f = e as ApplicationFailure;
    expect(`${f.message} ${JSON.stringify(f)}`).not.toContain(TOKEN);
    return f;
  };

  test('a generic POST and a Slack POST, as JSON', async () => {
    expect(await deliver('webhook', `${base}/generic/${TOKEN}`)).toEqual({ delivered: true, status: 200 });
    expect(await deliver('slack', `${base}/slack/${TOKEN}`)).toEqual({ delivered: true, status: 200 });
    expect(got).toEqual([
      { path: `/generic/${TOKEN}`, type: 'application/json', body: webhookBody(notice) },
      { path: `/slack/${TOKEN}`, type: 'application/json', body: { text: `:x: ${notice.message}\n\`runbook status runbook-prod\`` } },
    ]);
  });

  test('HTTP 500 and 429 are retryable failures of their own type, the answer unread', async () => {
    for (const status of [500, 503, 429]) {
      answer = status;
      const f = await failureOf(deliver('webhook', `${base}/hook/${TOKEN}`));
      expect(f).toMatchObject({ type: FailureType.NotificationNotDelivered, nonRetryable: false, message: `the webhook answered HTTP ${status}` });
    }
  });

  test('a refusal (4xx) or a redirect is a result, not retried; the redirect is not followed', async () => {
    answer = 404;
    expect(await deliver('slack', `${base}/hook/${TOKEN}`)).toEqual({ delivered: false, problem: 'the webhook refused the notice: HTTP 404; check the URL and its format (slack)' });
    answer = 302;
    expect(await deliver('slack', `${base}/hook/${TOKEN}`)).toEqual({ delivered: false, problem: 'the webhook answered HTTP 302, a redirect (not followed); use the URL it redirects to' });
    expect(got.map((g) => g.path)).toEqual([`/hook/${TOKEN}`, `/hook/${TOKEN}`]);
  });

  test('no server, or no answer in time: retryable, in words that name neither host nor path', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const refused = await failureOf(deliver('webhook', `http://127.0.0.1:${port}/hook/${TOKEN}`));
    expect(refused).toMatchObject({ type: FailureType.NotificationNotDelivered, nonRetryable: false, message: 'the connection was refused (ECONNREFUSED)' });
    expect(refused.message).not.toContain(String(port));
    const slow = await failureOf(deliver('webhook', `${base}/slow/${TOKEN}`, 300));
    expect(slow).toMatchObject({ type: FailureType.NotificationNotDelivered, message: 'no answer within 300 ms' });
  });

  test('no URL is a result the workflow notes, never a thrown failure', async () => {
    const { deliverNotification } = createNotificationActivities({ env: {} });
    const input: DeliverNotificationInput = { target: { format: 'slack', urlEnv: 'HOOK', on: ['end'] }, index: 2, notice };
    expect(await new MockActivityEnvironment().run(deliverNotification, input)).toEqual({
      delivered: false,
      problem: "HOOK is not set in the worker's environment; set it to the webhook URL where the worker runs",
    });
  });
});

test('every runbook a client starts is registered wrapped with its notifications, under its own name', () => {
  for (const type of RUNBOOK_TYPES) {
    const fn = (workflows as Record<string, unknown>)[type] as { name: string; [NOTIFYING]?: boolean };
    expect({ type, name: fn.name, notifying: fn[NOTIFYING] }).toEqual({ type, name: type, notifying: true });
  }
});
