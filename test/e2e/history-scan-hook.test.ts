/**
 * The secret scan runs in every test's teardown: `env.teardown()` from startTemporal scans every history on the
 * server and fails on secrets planted in throwaway workflows (no worker needed: the inputs are in the start event),
 * while the server still shuts down. With encryption expected, a plaintext payload fails it too, and a secret
 * inside an encrypted payload is found through the registered keyring.
 * Not on the shared fixture (test/support/e2e.ts): the test runs `env.teardown()` itself and expects it to fail.
 */
import { randomBytes, randomUUID } from 'crypto';
import { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createDataConverter } from '../../codec/data-converter';
import { keyringOf } from '../../codec/keys';
import { expectEncryptedHistories, PLAINTEXT_PAYLOAD, registerSecret, SECRET_PATTERNS, scanNamespace } from '../support/history-scan';
import { startTemporal } from '../support/temporal';

let env: TestWorkflowEnvironment | undefined;
let tornDown = false;

afterAll(async () => {
  if (!tornDown) await env?.teardown().catch(() => undefined);
});

const what = (id: string) => SECRET_PATTERNS.find((p) => p.id === id)!.description;
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** `workflow <id> (run <uuid>) event 1 WORKFLOW_EXECUTION_STARTED at <input payload>: <what>` */
const line = (workflowId: string, finding: string) =>
  new RegExp(`workflow ${esc(workflowId)} \\(run [0-9a-f-]+\\) event 1 WORKFLOW_EXECUTION_STARTED at workflowExecutionStartedEventAttributes\\.input\\.payloads\\[\\d\\]: ${esc(finding)}`);

test('teardown fails on planted secrets, naming workflow, event and pattern but never the secret, and still stops the server', async () => {
  env = await startTemporal();
  const keyring = keyringOf({ id: 'hook-key', key: randomBytes(32) });
  expectEncryptedHistories(env, keyring);
  const encrypted = new Client({ connection: env.connection, namespace: env.namespace ?? 'default', dataConverter: createDataConverter(keyring) });

  const token = randomBytes(16).toString('hex');
  const apiKey = `ak-${randomUUID()}`;
  registerSecret('the planted api key', apiKey);
  const secrets = [token, '-----BEGIN OPENSSH PRIVATE KEY-----', 'hunter2hunter2', apiKey, keyring.current.key.toString('base64')];
  const ids = { plain: `planted-${randomUUID()}`, sealed: `sealed-${randomUUID()}`, clean: `clean-${randomUUID()}` };
  const start = (client: Client, workflowId: string, args: unknown[]) => client.workflow.start('plantedSecrets', { workflowId, taskQueue: 'nobody-polls', args });
  await start(env.client, ids.plain, [`microk8s join 10.0.0.1:25000/${token}`, secrets[1], `password: ${secrets[2]}`, { env: apiKey }]);
  await start(encrypted, ids.sealed, [{ out: `add-node printed ${token}` }]);
  await start(encrypted, ids.clean, [{ sha256: 'b'.repeat(64), node: 'k8s-1' }]);
  // Visibility (what `temporal workflow list` reads) lags the start by a moment.
  for (let i = 0; i < 100 && (await scanNamespace({ address: env.address })).workflows < 3; i++) await new Promise((r) => setTimeout(r, 100));

  const started = Date.now();
  const failure = await env.teardown().then(
    () => undefined,
    (e: Error) => e,
  );
  tornDown = true;
  expect(failure).toBeInstanceOf(Error);
  const message = failure!.message;
  for (const finding of [what('join-token'), what('private-key'), what('password-field'), 'the planted api key', PLAINTEXT_PAYLOAD]) {
    expect(message).toMatch(line(ids.plain, finding));
  }
  // Found inside the ciphertext, through the keyring the test registered.
  expect(message).toMatch(line(ids.sealed, what('join-token')));
  expect(message).not.toContain(ids.clean);
  for (const s of [...secrets, token.slice(0, 8)]) expect(message).not.toContain(s);

  // The server is gone all the same.
  await expect(scanNamespace({ address: env.address })).rejects.toThrow();
  expect(Date.now() - started).toBeLessThan(30_000);
});
