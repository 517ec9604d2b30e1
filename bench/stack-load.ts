/**
 * Load on the production topology (issue 14): the Temporal server on PostgreSQL (`runbook stack`, four services),
 * two worker processes on one task queue, N labs of 3 control-plane nodes (BENCH_CLUSTERS, default 50).
 *   1. N `form` runbooks at once across the 2 workers: all must complete with HA; each worker's peak RSS and CPU,
 *      and the server's CPU (the four services and PostgreSQL).
 *   2. the same on N fresh labs, one worker SIGKILLed half-way (it is restarted): all must still complete.
 * Figures in BENCHMARKS.md; nothing here passes or fails on speed.
 *
 *   npm run build && BENCH_CLUSTERS=50 node dist/bench/stack-load.js
 */
import * as fs from 'fs';
import * as os from 'os';
import { Client, Connection } from '@temporalio/client';
import { runbookStartOptions } from '../cli/start-options';
import type { FormResult } from '../common/form';
import { DEFAULT_NAMESPACE } from '../common/temporal-versions';
import type { Lab } from '../lab';
import { startStack } from '../local/stack/stack';
import { UsageSampler, usageOf } from '../test/chaos/proc-usage';
import { ChaosWorker } from '../test/chaos/worker-process';
import { installRuntime } from '../worker/runtime';
import { benchDirs, log, runBench, upLabs, writeWorkflowBundle } from './many-clusters';

const FORM_TIMING = { pollMs: 500, settleTimeoutMs: 300_000, heartbeatTimeoutMs: 30_000, tokenTtlSeconds: 600 };

/** CPU seconds of a set of processes (and their children, for PostgreSQL's backends) since `before`. */
function cpuOf(pids: number[]): number {
  const all = new Set(pids);
  for (const d of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (all.has(ppid)) all.add(Number(d));
    } catch {
      /* gone */
    }
  }
  return [...all].reduce((sum, pid) => sum + (usageOf(pid)?.cpuMs ?? 0), 0) / 1000;
}

installRuntime({ level: 'ERROR' });
const n = Number(process.env.BENCH_CLUSTERS ?? 50);
const { dir, stateDir, logDir } = benchDirs('bench-stack-load');

runBench({ dir, stateDir, logDir }, async (cleanups) => {
  const base = 20000 + Math.floor(Math.random() * 10000);
  const stack = await startStack({ stateDir, port: base, uiPort: base + 20, pgPort: base + 21, install: false });
  cleanups.push(() => stack.stop({ purge: true }));
  const connection = await Connection.connect({ address: stack.address });
  cleanups.push(() => connection.close());
  const client = new Client({ connection, namespace: DEFAULT_NAMESPACE });
  const bundlePath = await writeWorkflowBundle(dir);
  let labs: Lab[] = [];
  cleanups.push(() => Promise.all(labs.map((lab) => lab.down())));
  const taskQueue = `stack-load-${process.pid}`;
  const workers = [new ChaosWorker({ address: stack.address, taskQueue, stateDir, bundlePath, logDir }), new ChaosWorker({ address: stack.address, taskQueue, stateDir, bundlePath, logDir })];
  for (const w of workers) {
    cleanups.push(() => w.stop());
    await w.start();
  }
  const serverPids = (await stack.status()).filter((c) => c.component !== 'ui' && c.pid).map((c) => c.pid!);

  /** N forms at once across the two workers; with `killHalfway`, worker 1 is SIGKILLed (and restarted) once half have completed. */
  const formAll = async (round: number, killHalfway: boolean): Promise<void> => {
    labs = await upLabs(n, `sl${process.pid % 1000}-${round}`, stateDir);
    log(`${n} labs of 3 nodes up (${n * 3} sshd), ${os.cpus().length} cores; stack on ${stack.address}`);
    const samplers = workers.map((w) => new UsageSampler(() => w.pid));
    const serverCpu0 = cpuOf(serverPids);
    const t = Date.now();
    const forms = await Promise.all(
      labs.map((lab) =>
        client.workflow.start('form', runbookStartOptions({ kind: 'form', inventory: lab.inventory, input: { timing: FORM_TIMING }, summary: 'load form', yes: true }, { taskQueue, identity: 'bench@stack-load' })),
      ),
    );
    let killedAt = '';
    if (killHalfway) {
      await new Promise<void>((resolve) => {
        let done = 0;
        for (const h of forms) void h.result().finally(() => ++done === Math.ceil(n / 2) && resolve());
      });
      killedAt = `, worker 1 SIGKILLed at ${((Date.now() - t) / 1000).toFixed(1)} s (half done) and restarted`;
      await workers[0].killAndRestart();
    }
    const results = (await Promise.all(forms.map((h) => h.result()))) as FormResult[];
    const wall = (Date.now() - t) / 1000;
    const serverCpu = cpuOf(serverPids) - serverCpu0;
    const usage = samplers.map((sampler) => sampler.stop());
    const ha = results.filter((r) => r.verification.highAvailability).length;
    log(`${n} forms at once across 2 workers${killedAt}: ${ha}/${n} completed with HA in ${wall.toFixed(1)} s`);
    usage.forEach((u, i) => log(`  worker ${i + 1}: peak RSS ${u.peakRssMb} MB, CPU ${u.cpuSeconds} s (${u.cpuPercent}% of one core)`));
    log(`  server (4 services + PostgreSQL): CPU ${serverCpu.toFixed(1)} s (${Math.round((serverCpu / wall) * 100)}% of one core)`);
    await Promise.all(labs.map((lab) => lab.down()));
    labs = [];
  };

  await formAll(1, false);
  await formAll(2, true);
});
