/**
 * Stored text printed to another operator's terminal: command output from a node, who started a runbook, a backup
 * label written by an older engine. Escape sequences in it are shown escaped (`\x1b`), never sent raw; JSON output
 * stays JSON (which escapes them itself).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { defaultPayloadConverter } from '@temporalio/common';
import { printable, printableDeep, plainTextProblem } from '../../common/text';
import { CLI_MAIN } from '../support/temporal';

const ESC = '\u001b';
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202e]/;
const CLEAR = `${ESC}[2J${ESC}[H`;
const TITLE = `${ESC}]0;pwned\u0007`;

let dir: string;
beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'terminal-'))));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [CLI_MAIN, ...args], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('printable escapes C0, C1 and bidi controls but keeps tab and newline', () => {
  expect(printable(`a${CLEAR}b\tc\nd\u009be\u202ef`)).toBe('a\\x1b[2J\\x1b[Hb\tc\nd\\x9be\\u202ef');
  expect(printableDeep({ notes: [TITLE], n: 1 })).toEqual({ notes: ['\\x1b]0;pwned\\x07'], n: 1 });
  expect(plainTextProblem('change CHG-42')).toBeUndefined();
  expect(plainTextProblem(`x${ESC}`)).toMatch(/one line of printable text/);
});

test('history --file: command output and identities with escape sequences are printed escaped', () => {
  const p = (v: unknown) => defaultPayloadConverter.toPayload(v);
  const b64 = (payload: ReturnType<typeof p>) => ({
    metadata: Object.fromEntries(Object.entries(payload.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')])),
    data: Buffer.from(payload.data!).toString('base64'),
  });
  const history = {
    events: [
      {
        eventId: '1',
        eventTime: '2026-03-01T10:00:00Z',
        eventType: 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED',
        workflowExecutionStartedEventAttributes: {
          workflowType: { name: 'check' },
          identity: `mallory${TITLE}`,
          input: { payloads: [b64(p({ requestedBy: `mallory${CLEAR}` }))] },
        },
      },
      { eventId: '2', eventTime: '2026-03-01T10:00:01Z', eventType: 'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED', activityTaskScheduledEventAttributes: { activityType: { name: 'checkNode' } } },
      {
        eventId: '3',
        eventTime: '2026-03-01T10:00:02Z',
        eventType: 'EVENT_TYPE_ACTIVITY_TASK_COMPLETED',
        activityTaskCompletedEventAttributes: {
          scheduledEventId: '2',
          result: {
            payloads: [
              b64(
                p({
                  commands: [
                    { node: 'k8s-1', command: 'microk8s status', exitCode: 1, durationMs: 10, stdoutTail: `${ESC}[31m FAIL: ${ESC}[0m kubelite\n${CLEAR}forged line`, stderrTail: '', startedAt: '2026-03-01T10:00:01.000Z' },
                  ],
                }),
              ),
            ],
          },
        },
      },
    ],
  };
  const file = path.join(dir, 'h.json');
  fs.writeFileSync(file, JSON.stringify(history));
  for (const flags of [[], ['--markdown']]) {
    const r = cli(['history', '--file', file, ...flags]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(RAW_CONTROL);
    expect(r.stdout).toContain('\\x1b[31m FAIL: \\x1b[0m kubelite');
  }
  const json = cli(['history', '--file', file, '--json']);
  expect(json.code).toBe(0);
  expect(json.stdout).not.toMatch(RAW_CONTROL);
  expect(JSON.stringify(JSON.parse(json.stdout))).toContain('\\u001b[31m FAIL');
});

test('backups list: a label written raw into a record is printed escaped', () => {
  const stateDir = path.join(dir, 'state');
  const backups = path.join(stateDir, 'backups', 'prod');
  fs.mkdirSync(backups, { recursive: true });
  const tar = path.join(backups, '20260301-100000-k8s-1.tar');
  fs.writeFileSync(tar, 'x');
  fs.writeFileSync(
    path.join(backups, '20260301-100000-k8s-1.json'),
    JSON.stringify({ id: '20260301-100000-k8s-1', cluster: 'prod', node: 'k8s-1', path: tar, sha256: 'a'.repeat(64), size: 1, files: [], entries: [], backend: '/x', stopped: false, label: `ok${CLEAR}FAKE`, createdAt: '2026-03-01T10:00:00Z' }),
  );
  // Without --cluster or -i: every cluster's backups (the README shows both as optional).
  const r = cli(['backups', 'list'], { RUNBOOK_STATE_DIR: stateDir });
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^ID\tCLUSTER\tNODE/m);
  expect(r.stdout).toContain('ok\\x1b[2J\\x1b[HFAKE');
  expect(r.stdout).not.toMatch(RAW_CONTROL);
});
