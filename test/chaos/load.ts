/**
 * Load (issue 8 §6): `node dist/test/chaos/load.js` (build first). 10 labs of 3 control-plane nodes; 10 form
 * runbooks at once through ONE worker process (its peak RSS and CPU printed); then a second worker process on the
 * same task queue, 10 checks at once (nodes slowed so the checks last), one worker SIGKILLed mid-run, every check
 * still completes; then the same with the other worker killed. Env: LOAD_LABS (default 10), LOAD_KEEP=1.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode } from '@temporalio/worker';
import { runbookStartOptions } from '../../cli/start-options';
import { Lab } from '../../lab';
import { workflowsPath } from '../../worker/create-worker';
import { installRuntime } from '../../worker/runtime';
import type { CheckResult } from '../../common/check';
import type { FormResult } from '../../common/form';
import { UsageSampler } from './proc-usage';
import { startDevServer } from './temporal-server';
import { ChaosWorker } from './worker-process';

const t0 = Date.now();
const log = (line: string) => process.stdout.write(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);
const FORM_TIMING = { pollMs: 100, settleTimeoutMs: 60_000, heartbeatTimeoutMs: 4_000, tokenTtlSeconds: 300 };

const started: Array<() => Promise<unknown>> = [];
async function cleanup(): Promise<void> {
  for (const stop of started.splice(0).reverse()) await stop().catch(() => undefined);
}

async function main(): Promise<number> {
  installRuntime({ level: 'ERROR' });
  const n = Number(process.env.LOAD_LABS ?? 10);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'load-'));
  const stateDir = path.join(dir, 'state');
  const logDir = path.join(dir, 'logs');
  fs.mkdirSync(stateDir);
  fs.mkdirSync(logDir);
  const server = await startDevServer(dir);
  started.push(() => server.stop());
  const connection = await Connection.connect({ address: server.address });
  started.push(() => connection.close());
  const client = new Client({ connection, namespace: 'default' });
  const bundlePath = path.join(dir, 'workflows-bundle.js');
  fs.writeFileSync(bundlePath, (await bundleWorkflowCode({ workflowsPath: workflowsPath(), logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error } })).code);
  const labs: Lab[] = [];
  for (let i = 0; i < n; i++) {
    const lab = await Lab.up({ name: `load${process.pid % 10000}-${i}`, controlPlanes: 3, workers: 0, channel: '1.28/stable', profile: 'fast', stateDir });
    labs.push(lab);
    started.push(() => lab.down());
  }
  log(`${n} labs of 3 nodes up`);
  const taskQueue = `load-${process.pid}`;
  const a = new ChaosWorker({ address: server.address, taskQueue, stateDir, bundlePath, logDir });
  started.push(() => a.stop());
  await a.start();
  let ok = true;

  const startAll = (kind: 'form' | 'check') =>
    Promise.all(
      labs.map((lab) =>
        client.workflow.start(
          kind,
          runbookStartOptions(
            { kind, inventory: lab.inventory, input: kind === 'form' ? { timing: FORM_TIMING } : {}, summary: `load ${kind}`, yes: true },
            { taskQueue, identity: 'load@driver' },
          ),
        ),
      ),
    );

  // 1. Ten forms at once through one worker.
  const sampler = new UsageSampler(() => a.pid);
  const forms = await startAll('form');
  const formResults = (await Promise.all(forms.map((h) => h.result()))) as FormResult[];
  const usage = sampler.stop();
  const ha = formResults.filter((r) => r.verification.highAvailability).length;
  log(`${n} forms at once, one worker: ${ha}/${n} HA in ${usage.wallSeconds} s; worker peak RSS ${usage.peakRssMb} MB, CPU ${usage.cpuSeconds} s (${usage.cpuPercent}% of one core)`);
  ok &&= ha === n;

  // 2. A second worker shares the queue; kill one, then the other, mid-run.
  const b = new ChaosWorker({ address: server.address, taskQueue, stateDir, bundlePath, logDir });
  started.push(() => b.stop());
  await b.start();
  for (const lab of labs) for (const node of ['k8s-1', 'k8s-2', 'k8s-3']) await lab.fault(node, 'slow', { ms: 300 });
  for (const [victim, name] of [[a, 'A'], [b, 'B']] as const) {
    const checks = await startAll('check');
    await new Promise((r) => setTimeout(r, 1_500));
    const pid = victim.pid;
    await victim.killAndRestart();
    const results = (await Promise.all(checks.map((h) => h.result()))) as CheckResult[];
    const identities = new Map<string, number>();
    for (const h of checks) {
      const hist = JSON.parse(historyToJSON(await h.fetchHistory())) as { events: Array<Record<string, { identity?: string }>> };
      for (const e of hist.events) {
        const id = e.activityTaskStartedEventAttributes?.identity;
        if (id) identities.set(id, (identities.get(id) ?? 0) + 1);
      }
    }
    const healthy = results.filter((r) => r.healthy).length;
    log(`two workers, worker ${name} (pid ${pid}) SIGKILLed 1.5 s in: ${healthy}/${n} checks healthy; activities per worker: ${JSON.stringify(Object.fromEntries(identities))}`);
    ok &&= healthy === n && identities.size >= 2;
  }
  const secretScan = await server.scanHistories();
  if (secretScan.error) log(secretScan.error);
  ok &&= !secretScan.error;
  log(ok ? 'load PASSED' : 'load FAILED');
  await cleanup();
  if (process.env.LOAD_KEEP !== '1' && ok) fs.rmSync(dir, { recursive: true, force: true });
  else log(`kept ${dir}`);
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  async (e) => {
    process.stderr.write(`load: ${(e as Error).stack ?? String(e)}\n`);
    await cleanup();
    process.exit(1);
  },
);
