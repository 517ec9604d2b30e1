/**
 * `runbook history` around the audit model: flag checks (exit 2 before anything is read), reading exported files
 * (plain and encrypted, and the errors that name the fix), and the text and markdown renderings.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { createDataConverter } from '../../codec/data-converter';
import { keyringOf } from '../../codec/keys';
import type { CommandRecord } from '../../common/audit';
import { buildAudit } from '../../cli/audit/history-audit';
import { auditFromFile, HistoryDecodeError, HistoryFileError } from '../../cli/audit/read-history';
import { renderMarkdown, renderText } from '../../cli/audit/render';
import { renderAudit, validateHistoryArgs } from '../../cli/commands/history';

const p = (value: unknown): Payload => defaultPayloadConverter.toPayload(value);

function command(node: string, line: string, exitCode: number | null, stderrTail = ''): CommandRecord {
  return { node, command: line, exitCode, durationMs: 1500, stdoutTail: 'line 1\nline 2\n', stderrTail, startedAt: '2026-03-01T10:00:01.000Z' };
}

function history() {
  return {
    events: [
      {
        eventId: 1,
        eventTime: { seconds: 1772359200, nanos: 0 },
        workflowExecutionStartedEventAttributes: { workflowId: 'runbook-prod', workflowType: { name: 'check' }, identity: 'alice@laptop', input: { payloads: [p({ requestedBy: 'alice@laptop' })] } },
      },
      { eventId: 2, eventTime: { seconds: 1772359201, nanos: 0 }, activityTaskScheduledEventAttributes: { activityType: { name: 'probeNode' } } },
      {
        eventId: 3,
        eventTime: { seconds: 1772359202, nanos: 0 },
        activityTaskCompletedEventAttributes: {
          scheduledEventId: 2,
          result: { payloads: [p({ commands: [command('k8s-1', "grep 'a|b' /etc/hosts", 0), command('k8s-2', 'microk8s status', null, 'e1\ne2\ne3\ne4\ne5\ne6\n')] })] },
        },
      },
    ],
  };
}

const ctx = {
  badInput: (message: string): never => {
    throw new Error(`exit 2: ${message}`);
  },
};

describe('validateHistoryArgs', () => {
  it.each([
    [undefined, {}, /give the runbook workflow ID/],
    ['runbook-prod', { file: 'h.json' }, /not both/],
    ['runbook-prod', { json: true, markdown: true }, /--json and --markdown: pick one/],
    [undefined, { file: 'h.json', run: 'abc' }, /--run: only with a workflow ID/],
    ['runbook-prod', { run: 'no spaces allowed' }, /--run: is not a run ID/],
    ['runbook-prod', { jsn: true }, /--: |jsn/],
  ])('id %p with %p exits 2 naming the fix', (id, flags, message) => {
    expect(() => validateHistoryArgs(ctx, id, flags)).toThrow(message);
  });

  it('accepts an ID, or a file, with one output format', () => {
    expect(validateHistoryArgs(ctx, 'runbook-prod', { markdown: true, children: false })).toEqual({ json: false, markdown: true, children: false });
    expect(validateHistoryArgs(ctx, undefined, { file: 'h.json', json: true })).toMatchObject({ file: 'h.json', json: true });
  });
});

describe('auditFromFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'history-cli-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const write = async (name: string, text: string) => {
    const file = path.join(dir, name);
    await writeFile(file, text);
    return file;
  };

  it('names the file and how to export one when it is missing, not JSON, or not a history', async () => {
    await expect(auditFromFile(path.join(dir, 'none.json'))).rejects.toThrow(/cannot read .*none\.json: no such file \(ENOENT\); export a history with: temporal workflow show/);
    await expect(auditFromFile(await write('bad.json', '{'))).rejects.toThrow(HistoryFileError);
    await expect(auditFromFile(await write('obj.json', '{"foo":1}'))).rejects.toThrow(/holds no "events" list/);
    await expect(auditFromFile(await write('empty.json', '{"events":[]}'))).rejects.toThrow(/is not a Temporal history \(not a workflow history/);
  });

  it('reads an encrypted export with the worker key, and names the missing key otherwise', async () => {
    const dataConverter = createDataConverter(keyringOf({ id: 'k1', key: randomBytes(32) }));
    const [codec] = dataConverter.payloadCodecs!;
    const h = history();
    const plainAudit = buildAudit(h as never);
    type WithPayloads = { payloads: Payload[] };
    for (const e of h.events as Array<{ workflowExecutionStartedEventAttributes?: { input: WithPayloads }; activityTaskCompletedEventAttributes?: { result: WithPayloads } }>) {
      const attrs = e.workflowExecutionStartedEventAttributes?.input ?? e.activityTaskCompletedEventAttributes?.result;
      if (attrs) attrs.payloads = await codec.encode(attrs.payloads);
    }
    const file = await write('encrypted.json', historyToJSON(h as never));
    expect(await auditFromFile(file, dataConverter)).toEqual(plainAudit);
    const wrongKey = createDataConverter(keyringOf({ id: 'k2', key: randomBytes(32) }));
    await expect(auditFromFile(file, wrongKey)).rejects.toThrow(HistoryDecodeError);
    await expect(auditFromFile(file, wrongKey)).rejects.toThrow(/key id "k1", which is not in the keyring/);
    const withoutKey = await auditFromFile(file);
    expect(withoutKey.commands).toEqual([]);
    expect(withoutKey.warnings.join()).toMatch(/2 payload\(s\) could not be decoded/);
  });
});

describe('rendering', () => {
  const audit = buildAudit(history() as never);

  it('text: every command with node, exit code (killed for none), duration, and more output when it failed', () => {
    const text = renderText(audit);
    expect(text).toMatch(/10:00:01 +k8s-1 +0 +1\.5s +probeNode +grep 'a\|b' \/etc\/hosts\n +│ line 2\n/);
    expect(text).toMatch(/k8s-2 +killed +1\.5s +probeNode +microk8s status/);
    expect(text).toContain('! e6');
    expect(text).toContain('! e2');
    expect(text).not.toContain('! e1');
    expect(text).toContain('Plan: none recorded in history');
  });

  it('markdown: pipes escaped in table cells, failed commands get their output in a details block', () => {
    const md = renderMarkdown(audit);
    expect(md).toContain("| `grep 'a\\|b' /etc/hosts` |");
    expect(md).toContain('<details><summary>k8s-2: exit killed: `microk8s status`</summary>');
    expect(md).toContain('### Remote commands (2)');
  });

  it('cuts long output lines for reading and keeps them whole in the JSON', () => {
    const long = buildAudit(history() as never);
    long.commands[0].stdoutTail = `${'x'.repeat(1000)}\n`;
    expect(renderText(long)).toContain(`│ ${'x'.repeat(240)}…\n`);
    expect(renderText(long)).not.toContain('x'.repeat(241));
    expect(renderAudit(long, { json: true, markdown: false })).toContain('x'.repeat(1000));
  });

  it('json: the whole model, parseable', () => {
    expect(JSON.parse(renderAudit(audit, { json: true, markdown: false }))).toEqual(JSON.parse(JSON.stringify(audit)));
  });
});
