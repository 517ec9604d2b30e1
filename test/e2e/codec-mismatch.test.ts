/**
 * A CLI with a codec key and a worker without it (or with other key ids): the workflow task cannot decode its
 * input, so it fails on every attempt. The worker says in its log which key id it lacks; the CLI sees the failing
 * workflow task and says so (exit 1 with the reason) instead of "no worker answers" forever.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { deriveKeyId } from '../../codec/keys';
import { useServerSuite } from '../support/e2e';
import { CLI_MAIN } from '../support/temporal';
import { clusterWorkflowId } from '../../common/constants';

const suite = useServerSuite({ name: 'codec-mismatch' });
let workerLog = '';
const queue = `mismatch-${process.pid}`;

beforeAll(async () => {
  // A real `runbook worker` process with no codec key.
  const worker = spawn(process.execPath, [CLI_MAIN, 'worker', '--task-queue', queue, '--state-dir', path.join(suite.stateDir, 'state')], {
    env: { ...process.env, TEMPORAL_ADDRESS: suite.env.address, TEMPORAL_CONFIG_FILE: '/nonexistent/temporal.toml', RUNBOOK_CODEC_KEY_FILE: '', RUNBOOK_CODEC_KEY: '' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  suite.defer(async () => {
    worker.kill('SIGKILL');
  });
  worker.stderr!.on('data', (c: Buffer) => (workerLog += c.toString('utf8')));
  for (let i = 0; i < 300 && !/worker started/.test(workerLog); i++) await new Promise((r) => setTimeout(r, 100));
  expect(workerLog).toMatch(/worker started/);
}, 60_000);

test('CLI with a key, worker without: the CLI reports the failing workflow task (exit 1), the worker names the key id', async () => {
  const key = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff));
  const keyFile = path.join(suite.stateDir, 'codec.key');
  fs.writeFileSync(keyFile, `${key.toString('base64')}\n`, { mode: 0o600 });
  const keyId = deriveKeyId(key);
  const inv = path.join(suite.stateDir, 'inv.yaml');
  fs.writeFileSync(inv, 'cluster: mismatch\nnodes:\n  - name: k8s-1\n    address: 127.0.9.1\n');
  const t0 = Date.now();
  const r = await suite.cli(['check', '-i', inv], { taskQueue: queue, timeoutMs: 90_000, env: { RUNBOOK_CODEC_KEY_FILE: keyFile, RUNBOOK_SKIP_KEY_CHECK: '1' } });
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/runbook-mismatch cannot make progress: its workflow task has failed \d+ times on the worker: .*key id/);
  expect(r.stderr).toContain(keyId);
  expect(r.stderr).toMatch(/temporal workflow terminate -w runbook-mismatch/);
  expect(Date.now() - t0).toBeLessThan(80_000);
  const messages = workerLog.split('\n').flatMap((l) => {
    try {
      return [String((JSON.parse(l) as { msg?: unknown }).msg)];
    } catch {
      return [];
    }
  });
  expect(messages).toContain(
    `codec key missing: a runbook's payloads are encrypted with key id "${keyId}", which this worker does not have; its workflow tasks fail until the worker is restarted with that key (RUNBOOK_CODEC_KEY_FILE, or RUNBOOK_CODEC_OLD_KEYS for an old one)`,
  );
  await suite.env.client.workflow.getHandle(clusterWorkflowId('mismatch')).terminate('test done');
}, 120_000);
