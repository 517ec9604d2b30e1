/** The recorder's refusal rule: what counts as a secret in a fixture, and what does not. */
import { decodedPayloads, findSecrets } from './fixture-secrets';
import { scrubMachine } from './fixtures';

const payload = (text: string) => ({ metadata: { encoding: 'anNvbi9wbGFpbg==' }, data: Buffer.from(text).toString('base64') });
const history = (...texts: string[]) => JSON.stringify({ events: [{ eventId: '1', input: { payloads: texts.map(payload) } }] });

test('a clean history has no findings, even with sha256 sums, run IDs and short hex', () => {
  const clean = history(JSON.stringify({ sha256: 'a'.repeat(64), runId: '0192f1c2-7b5e-7c3a-9f00-1234567890ab', build: 'v1.22.3-3+9ec7c40ec93c73' }));
  expect(decodedPayloads(clean)).toHaveLength(1);
  expect(findSecrets(clean)).toEqual([]);
});

test('a join token inside a base64 payload is found', () => {
  const token = '0123456789abcdef0123456789abcdef';
  expect(findSecrets(history(`microk8s join 10.0.0.1:25000/${token}`))).toEqual([expect.stringMatching(/^payload #0: a 32-hex token \(012345…\)$/)]);
});

test('a private-key marker and a known secret are found, raw or decoded', () => {
  expect(findSecrets(history('-----BEGIN OPENSSH PRIVATE KEY-----'))).toEqual(['payload #0: a private-key marker']);
  expect(findSecrets(history('password hunter2hunter2'), ['hunter2hunter2'])).toEqual(['payload #0: a known secret (hunter…)']);
  expect(findSecrets(JSON.stringify({ note: 'PRIVATE KEY' }))).toEqual(['history: a private-key marker']);
});

test('scrubMachine replaces identities and sticky queue names only', () => {
  const raw = {
    identity: '123@vm',
    taskQueue: { name: '123@vm-0123456789abcdef0123456789abcdef', kind: 'TASK_QUEUE_KIND_STICKY' },
    other: { taskQueue: { name: 'test-abc', kind: 'TASK_QUEUE_KIND_NORMAL' }, data: 'dm0=' },
  };
  expect(scrubMachine(raw)).toEqual({
    identity: 'recorder',
    taskQueue: { name: 'sticky-queue', kind: 'TASK_QUEUE_KIND_STICKY' },
    other: { taskQueue: { name: 'test-abc', kind: 'TASK_QUEUE_KIND_NORMAL' }, data: 'dm0=' },
  });
});
