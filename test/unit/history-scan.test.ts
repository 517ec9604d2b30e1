/**
 * The secret scan every test run ends with (test/support/history-scan.ts): each pattern is caught wherever it sits
 * in a history (plain fields, payloads, decrypted payloads), the findings say where and what but never the secret,
 * what only looks like a secret is left alone, and every way the tests start Temporal goes through the scan.
 */
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AesGcmPayloadCodec } from '../../codec/encryption';
import { keyringOf } from '../../codec/keys';
import { payloadToJson } from '../../codec/json-payload';
import type { Lab } from '../../lab';
import { snapPaths } from '../../lab/sim/backend';
import { describeFindings, labSecrets, PLAINTEXT_PAYLOAD, scanHistory, SECRET_PATTERNS, type SecretFinding } from '../support/history-scan';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const json = (value: unknown) => ({ metadata: { encoding: b64('json/plain') }, data: b64(JSON.stringify(value)) });
const where = { workflowId: 'runbook-prod', runId: 'run-1' };
const what = (id: string) => SECRET_PATTERNS.find((p) => p.id === id)!.description;

/** A history as `temporal workflow show --output json` prints it: a start event with these inputs, then `more`. */
function history(inputs: unknown[], ...more: Array<Record<string, unknown>>) {
  return {
    events: [
      {
        eventId: '1',
        eventType: 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED',
        workflowExecutionStartedEventAttributes: {
          workflowType: { name: 'form' },
          taskQueue: { name: 'microk8s-runbooks', kind: 'TASK_QUEUE_KIND_NORMAL' },
          input: { payloads: inputs.map(json) },
          identity: '4242@ops-laptop',
        },
      },
      ...more.map((attrs, i) => ({ eventId: String(i + 2), eventType: 'EVENT_TYPE_ACTIVITY_TASK_COMPLETED', ...attrs })),
    ],
  };
}

const TOKEN = randomBytes(16).toString('hex');

test('a clean history has no findings: sha256 sums, run IDs, key ids, redacted tokens, sticky queues, sudo messages', async () => {
  const clean = history(
    [
      {
        sha256: 'a'.repeat(64),
        runId: '0192f1c2-7b5e-7c3a-9f00-1234567890ab',
        keyId: 'sha256-0123456789ab',
        build: 'v1.22.3-3+9ec7c40ec93c73',
        command: "microk8s join 10.0.0.1:25000/<redacted>/3a1f --worker",
        tokenTtlSeconds: 120,
        problem: 'sudo -n true failed (password-required); allow ops passwordless sudo',
        stderr: 'sudo: a password is required',
        note: 'the join token never leaves the activity; no secret in history',
        plan: ['2. Patch pass: control planes first, one at a time', 'Hop 1.28 → 1.29: passes=2'],
      },
    ],
    {
      workflowTaskScheduledEventAttributes: { taskQueue: { name: `4242@ops-laptop-${randomBytes(16).toString('hex')}`, kind: 'TASK_QUEUE_KIND_STICKY' } },
    },
  );
  expect(await scanHistory(clean, where)).toEqual([]);
});

test('a join token is found in a payload, in a plain field and as an exact token a lab issued', async () => {
  const inPayload = await scanHistory(history([{ out: `microk8s join 10.0.0.1:25000/${TOKEN}/3a1f` }]), where);
  expect(inPayload).toEqual([
    { ...where, eventId: '1', eventType: 'WORKFLOW_EXECUTION_STARTED', field: 'workflowExecutionStartedEventAttributes.input.payloads[0]', what: what('join-token') },
  ]);

  const failure = { activityTaskFailedEventAttributes: { failure: { message: `add-node printed ${TOKEN.toUpperCase()}` } } };
  expect(await scanHistory(history([], failure), where)).toEqual([
    expect.objectContaining({ eventId: '2', field: 'activityTaskFailedEventAttributes.failure.message', what: what('join-token') }),
  ]);

  // Glued to more hex the generic shape misses it; the exact token the lab wrote down is still found.
  const glued = history([{ blob: `${TOKEN}ff` }]);
  expect(await scanHistory(glued, where)).toEqual([]);
  expect(await scanHistory(glued, where, { known: [{ label: 'a join token lab L issued on k8s-1', value: TOKEN }] })).toEqual([
    expect.objectContaining({ what: 'a join token lab L issued on k8s-1' }),
  ]);

  // A normal task queue named with 32 hex is not excused: only the SDK's sticky queues are.
  const normal = { workflowTaskScheduledEventAttributes: { taskQueue: { name: `q-${TOKEN}`, kind: 'TASK_QUEUE_KIND_NORMAL' } } };
  expect(await scanHistory(history([], normal), where)).toEqual([expect.objectContaining({ field: 'workflowTaskScheduledEventAttributes.taskQueue.name' })]);
});

test.each([
  ['an OpenSSH private key', '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU='],
  ['an RSA PEM key (dqlite cluster.key)', '-----BEGIN RSA PRIVATE KEY-----'],
  ['a PKCS#8 key', '-----END PRIVATE KEY-----'],
  ['an OpenSSH header alone', 'BEGIN OPENSSH'],
  ['a PEM file base64-encoded whole', b64('-----BEGIN PRIVATE KEY-----\nMIIE')],
])('a private-key marker is found: %s', async (_name, text) => {
  expect(await scanHistory(history([{ file: text }]), where)).toEqual([expect.objectContaining({ what: what('private-key') })]);
});

test.each([
  ['password: hunter2hunter2', 'password-field'],
  ['{"passphrase":"correct horse battery"}', 'password-field'],
  ['TEMPORAL_API_KEY=eyJhbGciOiJFUzI1NiJ9', 'password-field'],
  [`RUNBOOK_CODEC_KEY=${randomBytes(32).toString('base64')}`, 'password-field'],
  ['api-key: 9f8e7d6c5b4a', 'password-field'],
  ['token: abcdef/0123', 'password-field'],
  ['client_secret = s3cr3t-value', 'password-field'],
  ['Authorization: Bearer abc.def.ghi-jkl', 'bearer'],
])('a password-like field is found: %s', async (text, id) => {
  expect(await scanHistory(history([{ out: text }]), where)).toEqual(expect.arrayContaining([expect.objectContaining({ what: what(id) })]));
});

test('every pattern has its positive cases above: a new pattern needs one', () => {
  expect(SECRET_PATTERNS.map((p) => p.id).sort()).toEqual(['bearer', 'join-token', 'password-field', 'private-key']);
});

test('a registered secret (a codec key) is found by its label', async () => {
  const key = randomBytes(32).toString('base64');
  const found = await scanHistory(history([{ env: `KEY ${key}` }]), where, { known: [{ label: 'the codec key (base64)', value: key }] });
  expect(found).toEqual([expect.objectContaining({ what: 'the codec key (base64)' })]);
});

describe('with encryption on', () => {
  const keyring = keyringOf({ id: 'k1', key: randomBytes(32) });
  const codec = new AesGcmPayloadCodec(keyring);
  const encrypted = async (value: unknown) => payloadToJson((await codec.encode([{ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from(JSON.stringify(value)) }]))[0]);
  const withPayloads = (payloads: unknown[], searchAttributes?: unknown) => ({
    events: [
      {
        eventId: '1',
        eventType: 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED',
        workflowExecutionStartedEventAttributes: { input: { payloads }, ...(searchAttributes ? { searchAttributes } : {}) },
      },
    ],
  });
  const cluster = { indexedFields: { RunbookCluster: json('prod') } };

  test('ciphertext everywhere and plaintext search attributes (indexed in the clear, as documented) pass', async () => {
    expect(await scanHistory(withPayloads([await encrypted({ node: 'k8s-1' })], cluster), where, { encrypted: true, codec })).toEqual([]);
  });

  test('a plaintext payload is a finding when encryption is expected, and in any run that has an encrypted payload', async () => {
    const plain: SecretFinding = { ...where, eventId: '1', eventType: 'WORKFLOW_EXECUTION_STARTED', field: 'workflowExecutionStartedEventAttributes.input.payloads[0]', what: PLAINTEXT_PAYLOAD };
    expect(await scanHistory(withPayloads([json({ node: 'k8s-1' })]), where, { encrypted: true })).toEqual([plain]);
    const mixed = withPayloads([json({ node: 'k8s-1' }), await encrypted('x')]);
    expect(await scanHistory(mixed, where)).toEqual([plain]);
    expect(await scanHistory(withPayloads([json({ node: 'k8s-1' })]), where)).toEqual([]);
  });

  test('with the keyring, a secret inside the ciphertext is found; without it, it cannot be', async () => {
    const h = withPayloads([await encrypted({ out: `join 10.0.0.1:25000/${TOKEN}` })]);
    expect(await scanHistory(h, where, { encrypted: true, codec })).toEqual([expect.objectContaining({ what: what('join-token') })]);
    expect(await scanHistory(h, where, { encrypted: true })).toEqual([]);
  });
});

test('the failure message names workflow, run, event, field and pattern, and never the secret', async () => {
  const secrets = [TOKEN, '-----BEGIN OPENSSH PRIVATE KEY-----', 'hunter2hunter2'];
  const findings = await scanHistory(history([{ a: `join/${TOKEN}`, b: secrets[1], c: `password=${secrets[2]}` }]), where);
  expect(findings.map((f) => f.what).sort()).toEqual([what('join-token'), what('password-field'), what('private-key')].sort());
  const message = describeFindings(findings);
  expect(message).toContain('workflow runbook-prod (run run-1) event 1 WORKFLOW_EXECUTION_STARTED at workflowExecutionStartedEventAttributes.input.payloads[0]: a join token');
  for (const s of [...secrets, 'hunter2', TOKEN.slice(0, 8)]) expect(message).not.toContain(s);
});

test("labSecrets reads every node's issued tokens (with or without expiry) and the lab key's body", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scan-lab-'));
  try {
    const nodes = [{ name: 'k8s-1' }, { name: 'k8s-2' }, { name: 'k8s-3' }];
    const t1 = randomBytes(16).toString('hex');
    const t2 = randomBytes(16).toString('hex');
    for (const [node, text] of [['k8s-1', `${t1}|1999999999\n`], ['k8s-2', `${t2}\n`]]) {
      const file = snapPaths(dir, node).tokens;
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, text);
    }
    fs.writeFileSync(path.join(dir, 'id_ed25519'), '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----\n');
    const lab = { name: 'L', dir, nodes, keyPath: path.join(dir, 'id_ed25519') } as unknown as Lab;
    expect(labSecrets(lab).map((s) => s.value)).toEqual([t1, t2, 'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ']);
    expect(labSecrets(lab)[0].label).toBe('a join token lab L issued on k8s-1');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('every test that starts a Temporal server goes through the scan', () => {
  const root = path.resolve(__dirname, '..');
  const files = fs
    .readdirSync(root, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.ts') && f !== path.join('unit', 'history-scan.test.ts'))
    .map((f) => ({ f, text: fs.readFileSync(path.join(root, f), 'utf8') }));
  // A TestWorkflowEnvironment made directly (not by startTemporal) is wrapped by scanOnTeardown in the same file.
  const direct = files.filter(({ text }) => /TestWorkflowEnvironment\.createLocal\(/.test(text));
  expect(direct.length).toBeGreaterThan(0);
  for (const { f, text } of direct) {
    if (f === path.join('support', 'temporal.ts')) expect(text).toMatch(/return scanOnTeardown\(env\)/);
    else expect({ f, wrapped: /scanOnTeardown\(/.test(text) }).toEqual({ f, wrapped: true });
  }
  // A server started as a process (`runbook dev`, the chaos suite's own dev server) is scanned before it stops.
  const processes = files.filter(({ text }) => /'start-dev'|CLI_MAIN, 'dev'/.test(text));
  expect(processes.map(({ f }) => f).sort()).toEqual([path.join('chaos', 'temporal-server.ts'), path.join('e2e', 'dev.test.ts')]);
  for (const { f, text } of processes) expect({ f, scanned: /assertNoSecretsInHistories\(/.test(text) }).toEqual({ f, scanned: true });
  // The chaos driver and the load run judge their server's scan (the server's stop errors are swallowed in cleanup).
  for (const f of ['run.ts', 'load.ts']) expect(fs.readFileSync(path.join(root, 'chaos', f), 'utf8')).toMatch(/await server\.scanHistories\(\)/);
});
