/**
 * Not on the shared fixture (test/support/e2e.ts): importing it installs the Temporal Runtime at WARN, so the
 * expected failures would log the plaintext marker; this file installs its own at ERROR first.
 * With encryption on, what Temporal stores is ciphertext: the history read without the codec (SDK client and
 * `temporal workflow show`) holds no plaintext, not even in failure messages; a client with the codec reads plaintext;
 * the codec server (what the UI and `temporal --codec-endpoint` call) decodes the stored payloads.
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { Client, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, METADATA_ENCODING_KEY, type Payload } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { temporal } from '@temporalio/proto';
import { createDataConverter, failureConverterPath } from '../../codec/data-converter';
import { AesGcmPayloadCodec, ENCRYPTED_ENCODING } from '../../codec/encryption';
import { decodeHistory } from '../../codec/history';
import { keyringOf } from '../../codec/keys';
import { startCodecServer, type RunningCodecServer } from '../../codec/server';
import type { CodecTestActivities } from '../fixtures/codec-workflows';
import { expectEncryptedHistories, scanOnTeardown } from '../support/history-scan';

const TEMPORAL_CLI = process.env.TEMPORAL_CLI_PATH ?? '/root/.cache/microk8s-runbooks/bin/temporal';
const MARKER = `plaintext-marker-${randomUUID()}`;
const keyring = keyringOf({ id: 'e2e-key', key: randomBytes(32) });
const run = promisify(execFile);

type History = temporal.api.history.v1.IHistory;

/** Every string and byte array anywhere in a value, as text: where plaintext would show if it leaked. */
function texts(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (value instanceof Uint8Array) out.push(Buffer.from(value).toString('latin1'));
  else if (Array.isArray(value)) value.forEach((v) => texts(v, out));
  else if (value && typeof value === 'object') Object.values(value).forEach((v) => texts(v, out));
  return out;
}

/** Every Payload in a history proto (objects with Uint8Array data next to metadata). */
function payloads(value: unknown, out: Payload[] = []): Payload[] {
  if (value instanceof Uint8Array || typeof value !== 'object' || value === null) return out;
  if (Array.isArray(value)) {
    value.forEach((v) => payloads(v, out));
    return out;
  }
  const record = value as Record<string, unknown>;
  if (record.data instanceof Uint8Array && record.metadata && typeof record.metadata === 'object') out.push(record as Payload);
  else Object.values(record).forEach((v) => payloads(v, out));
  return out;
}

/** Strings in `temporal workflow show --output json`, plus their base64 decoding (payload data is base64 there). */
function cliTexts(json: unknown): string[] {
  return texts(json).flatMap((s) => [s, Buffer.from(s, 'base64').toString('latin1')]);
}

async function showWithCli(address: string, workflowId: string, extra: string[] = []): Promise<object> {
  const { stdout } = await run(TEMPORAL_CLI, ['workflow', 'show', '--address', address, '--workflow-id', workflowId, '--output', 'json', ...extra]);
  return JSON.parse(stdout) as object;
}

describe('payload encryption end to end', () => {
  let env: TestWorkflowEnvironment;
  let bundle: WorkflowBundleWithSourceMap;
  let encryptedClient: Client;
  let codecServer: RunningCodecServer;
  const echoId = `codec-echo-${randomUUID()}`;
  const failId = `codec-fail-${randomUUID()}`;
  let echoResult: string;
  let failError: unknown;

  beforeAll(async () => {
    // The failing workflow is expected: keep the worker's own log (plaintext, local) out of the test output.
    const logger = new DefaultLogger('ERROR');
    Runtime.install({ logger });
    env = scanOnTeardown(await TestWorkflowEnvironment.createLocal({ server: { executable: { type: 'existing-path', path: TEMPORAL_CLI } } }));
    // The teardown's secret scan also requires every stored payload to be ciphertext, and reads the plaintext with the key.
    expectEncryptedHistories(env, keyring);
    bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../fixtures/codec-workflows'), failureConverterPath, logger });
    const dataConverter = createDataConverter(keyring);
    encryptedClient = new Client({ connection: env.connection, namespace: env.namespace, dataConverter });
    codecServer = await startCodecServer({ codec: new AesGcmPayloadCodec(keyring), port: 0 });

    const taskQueue = `codec-e2e-${randomUUID()}`;
    const activities: CodecTestActivities = {
      echo: async (text) => `echo:${text}`,
      refuse: async (text) => {
        throw ApplicationFailure.nonRetryable(`activity refused ${text}`, 'CodecTest');
      },
    };
    const worker = await Worker.create({
      connection: env.nativeConnection,
      namespace: env.namespace,
      taskQueue,
      workflowBundle: bundle,
      activities,
      dataConverter,
    });
    await worker.runUntil(async () => {
      echoResult = await encryptedClient.workflow.execute('codecEcho', {
        workflowId: echoId,
        taskQueue,
        args: [MARKER],
        staticSummary: `summary ${MARKER}`,
      });
      failError = await encryptedClient.workflow.execute('codecFail', { workflowId: failId, taskQueue, args: [MARKER] }).catch((e: unknown) => e);
    });
  });

  afterAll(async () => {
    await codecServer?.close();
    await env?.teardown();
  });

  it('stores only ciphertext: no payload, summary or failure message in the raw history holds the plaintext', async () => {
    for (const workflowId of [echoId, failId]) {
      const history: History = await env.client.workflow.getHandle(workflowId).fetchHistory();
      const stored = payloads(history);
      expect(stored.length).toBeGreaterThanOrEqual(2);
      for (const p of stored) {
        expect(Buffer.from(p.metadata![METADATA_ENCODING_KEY]!).toString()).toBe(ENCRYPTED_ENCODING);
        expect(Buffer.from(p.metadata!['encryption-key-id']!).toString()).toBe('e2e-key');
      }
      expect(texts(history).filter((t) => t.includes(MARKER))).toEqual([]);
    }
    const failures = (await env.client.workflow.getHandle(echoId).fetchHistory()).events!.flatMap((e) =>
      e.activityTaskFailedEventAttributes?.failure ? [e.activityTaskFailedEventAttributes.failure] : [],
    );
    expect(failures.map((f) => f.message)).toEqual(['Encoded failure']);
  });

  it('shows ciphertext in `temporal workflow show` without a codec', async () => {
    for (const workflowId of [echoId, failId]) {
      const json = await showWithCli(env.address, workflowId);
      const all = cliTexts(json);
      expect(all.filter((t) => t.includes(MARKER))).toEqual([]);
      expect(all).toContain(ENCRYPTED_ENCODING);
      expect(all).toContain('Encoded failure');
    }
  });

  it('reads plaintext through a client with the codec', async () => {
    expect(echoResult).toBe(`workflow saw echo:${MARKER}`);
    expect(failError).toBeInstanceOf(WorkflowFailedError);
    expect((failError as WorkflowFailedError).cause?.message).toBe(`refused ${MARKER}`);
    expect(await encryptedClient.workflow.getHandle(echoId).describe().then((d) => d.staticSummary())).toBe(`summary ${MARKER}`);
  });

  it('decodeHistory (for `runbook history`) turns the stored history, proto or CLI JSON, back into plaintext', async () => {
    const dataConverter = createDataConverter(keyring);
    const fromServer = await decodeHistory(await env.client.workflow.getHandle(echoId).fetchHistory(), dataConverter);
    const failed = fromServer.events!.find((e) => e.activityTaskFailedEventAttributes)!;
    expect(failed.activityTaskFailedEventAttributes!.failure!.message).toBe(`activity refused ${MARKER}`);
    expect(texts(fromServer).some((t) => t.includes(`echo:${MARKER}`))).toBe(true);

    const exported = await decodeHistory(await showWithCli(env.address, failId), dataConverter);
    expect(JSON.stringify(exported)).toContain(`refused ${MARKER}`);
  });

  it('decodes the stored payloads through the codec server, as the UI does', async () => {
    const stored = payloads(await env.client.workflow.getHandle(echoId).fetchHistory());
    const body = {
      payloads: stored.map((p) => ({
        metadata: Object.fromEntries(Object.entries(p.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')])),
        data: Buffer.from(p.data!).toString('base64'),
      })),
    };
    const res = await fetch(`${codecServer.url}/decode`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-namespace': env.namespace ?? 'default' }, body: JSON.stringify(body) });
    expect(res.status).toBe(200);
    const decoded = ((await res.json()) as { payloads: { data: string }[] }).payloads.map((p) => Buffer.from(p.data, 'base64').toString('utf8'));
    expect(decoded).toEqual(expect.arrayContaining([JSON.stringify(MARKER), JSON.stringify(`echo:${MARKER}`), JSON.stringify(`workflow saw echo:${MARKER}`)]));
    expect(decoded.some((d) => d.includes(`activity refused ${MARKER}`))).toBe(true);

    // The Temporal CLI speaks the same protocol as the UI: with our endpoint it shows plaintext.
    const shown = cliTexts(await showWithCli(env.address, failId, ['--codec-endpoint', codecServer.url]));
    expect(shown.some((t) => t.includes(`refused ${MARKER}`))).toBe(true);
  });
});
