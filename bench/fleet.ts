/**
 * Benchmark: a fleet upgrade (issue 16) of N clusters of 3 control planes (BENCH_CLUSTERS, default 50), 1.28 → 1.29
 * (a patch pass and a minor pass each), canary first, then every other cluster at once (`--max-parallel N`), on the
 * dev server, with one worker process and again on fresh labs with two. Prints the wall time, each worker's peak RSS
 * and CPU, the fleet run's history size and the clusters' (parent upgrade and per-node children). Nothing passes or
 * fails on speed; figures in BENCHMARKS.md.
 *
 *   npm run build && BENCH_CLUSTERS=50 node dist/bench/fleet.js
 */
import * as os from 'os';
import { Client, Connection } from '@temporalio/client';
import { fleetWorkflowId, type FleetInput, type FleetResult } from '../common/fleet';
import type { Lab } from '../lab';
import { UsageSampler } from '../test/chaos/proc-usage';
import { startDevServer } from '../test/chaos/temporal-server';
import { ChaosWorker } from '../test/chaos/worker-process';
import { installRuntime } from '../worker/runtime';
import { benchDirs, log, runBench, upLabs, writeWorkflowBundle } from './many-clusters';

installRuntime({ level: 'ERROR' });
const n = Number(process.env.BENCH_CLUSTERS ?? 50);
const { dir, stateDir, logDir } = benchDirs('bench-fleet');

runBench({ dir, stateDir, logDir }, async (cleanups) => {
  const server = await startDevServer(dir);
  cleanups.push(() => server.stop());
  const connection = await Connection.connect({ address: server.address });
  cleanups.push(() => connection.close());
  const client = new Client({ connection });
  const bundlePath = await writeWorkflowBundle(dir);
  let labs: Lab[] = [];
  cleanups.push(() => Promise.all(labs.map((lab) => lab.down())));

  const round = async (r: number, workerCount: number): Promise<void> => {
    labs = await upLabs(n, `fl${process.pid % 1000}-${r}`, stateDir, { formed: true });
    const taskQueue = `bench-fleet-${process.pid}-${r}`;
    const workers = Array.from({ length: workerCount }, () => new ChaosWorker({ address: server.address, taskQueue, stateDir, bundlePath, logDir }));
    for (const w of workers) await w.start();
    try {
      log(`${n} labs of 3 control planes up (${n * 3} sshd), ${os.cpus().length} cores, ${workerCount} worker process(es)`);
      const samplers = workers.map((w) => new UsageSampler(() => w.pid));
      const fleet = `bench-${r}`;
      const input: FleetInput = { fleet, kind: 'upgrade', clusters: labs.map((l) => l.inventory), maxParallel: n, stopAfterFailures: 1, upgrade: { to: '1.29/stable', readyTimeoutSeconds: 120 }, yes: true, requestedBy: 'bench@fleet' };
      const t = Date.now();
      const handle = await client.workflow.start('fleetRun', { taskQueue, workflowId: fleetWorkflowId(fleet), args: [input] });
      const result = (await handle.result()) as FleetResult;
      const wall = (Date.now() - t) / 1000;
      const usage = samplers.map((s) => s.stop());
      const canary = result.clusters[0];
      const canaryS = (Date.parse(canary.endedAt!) - Date.parse(canary.startedAt!)) / 1000;
      const ok = result.clusters.filter((c) => c.outcome === 'succeeded').length;
      log(`fleet upgrade of ${n} clusters × 3 nodes on ${workerCount} worker(s): ${ok}/${n} upgraded in ${wall.toFixed(1)} s (canary alone ${canaryS.toFixed(1)} s, then ${n - 1} at once)`);
      usage.forEach((u, i) => log(`  worker ${i + 1}: peak RSS ${u.peakRssMb} MB, CPU ${u.cpuSeconds} s (${u.cpuPercent}% of one core)`));
      const events = async (id: string) => (await client.workflow.getHandle(id).fetchHistory()).events?.length ?? 0;
      const parentEvents = await events(handle.workflowId);
      const clusterEvents = await Promise.all(result.clusters.map((c) => events(c.workflowId)));
      const nodeEvents = await events(`${result.clusters[1].workflowId}.hop2-upgrade.k8s-1`).catch(() => 0);
      const avg = clusterEvents.reduce((a, b) => a + b, 0) / clusterEvents.length;
      log(`  history: fleet run ${parentEvents} events (${(parentEvents / n).toFixed(1)} per cluster); each cluster's upgrade ${avg.toFixed(0)} on average; a node's child ${nodeEvents}`);
    } finally {
      for (const w of workers) await w.stop();
      await Promise.all(labs.map((lab) => lab.down()));
      labs = [];
    }
  };

  await round(1, 1);
  await round(2, 2);
});
