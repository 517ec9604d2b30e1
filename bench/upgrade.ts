/**
 * Benchmark: the rolling upgrade of 3 control planes + 27 workers (1.28 → 1.29, so a patch pass and a minor
 * pass) in the realistic lab profile, with worker batches of 1 and 5. Prints:
 *  - wall time against the simulated time: the union of every command's run time and of each node's restart
 *    after a refresh (what the cluster itself costs), and against the plain sum of command durations;
 *  - engine overhead = wall − simulated union, as a share of the wall time (goal: < 2%); and the same without the
 *    lab simulator's own process start-up before each command (journal `bootMs`), which is the lab's cost;
 *  - history events per node in the parent and in each child, and the largest cluster the parent could upgrade
 *    before Temporal's 51,200-event limit (goal: ≥ 1,000 nodes);
 *  - with --breakdown, where the wall time goes per node and pass (bench/upgrade-breakdown.ts: commands, restarts,
 *    the lab's start-up, time inside activities between commands, dispatch, workflow tasks), and per activity type.
 *
 * Run: npm run build && node dist/bench/upgrade.js [--workers 27] [--batches 1,5] [--time-scale 0.05] [--breakdown]
 * (--time-scale shrinks every lab duration, not the engine's fixed costs: the overhead's share is only meaningful at
 * 1. The Ready poll interval is scaled with it; waitNodeReady polls only when `kubectl wait` cannot answer.
 * BENCH_DUMP=prefix with --breakdown writes each run's journal and histories to <prefix>-b<batch>.json.)
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { SshPool } from '../activities/ssh';
import { SEARCH_ATTRIBUTES } from '../common/constants';
import { runbookStartOptions } from '../cli/start-options';
import { findTemporalCli } from '../cli/temporal-cli';
import { Lab } from '../lab';
import { createWorker } from '../worker/create-worker';
import { installRuntime } from '../worker/runtime';
import { activityStats, breakdown } from './upgrade-breakdown';

const HISTORY_LIMIT = 51_200;

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

/** Total length of the union of [start, end) intervals. */
export function unionMs(intervals: Array<[number, number]>): number {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  let total = 0;
  let [cs, ce] = [-Infinity, -Infinity];
  for (const [s, e] of sorted) {
    if (s > ce) {
      if (ce > cs) total += ce - cs;
      [cs, ce] = [s, e];
    } else ce = Math.max(ce, e);
  }
  if (ce > cs) total += ce - cs;
  return total;
}

async function measure(env: TestWorkflowEnvironment, taskQueue: string, workers: number, batch: number, timeScale: number): Promise<string> {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'upgrade-bench-'));
  const lab = await Lab.up({ name: `ub${workers}b${batch}`, controlPlanes: 3, workers, formed: true, profile: 'realistic', timeScale, stateDir });
  try {
    const timing = lab.timing();
    const spec = {
      kind: 'upgrade' as const,
      workflowType: 'rollingUpgrade',
      inventory: lab.inventory,
      input: { to: '1.29/stable', workerBatch: batch, readyPollMs: Math.max(100, Math.round(1000 * timeScale)), readyTimeoutSeconds: 600 },
      summary: `bench upgrade ${workers + 3} nodes, batch ${batch}`,
      yes: true,
    };
    const t0 = Date.now();
    // The worker runs in this process (the lab's nodes are processes of their own): its RSS and CPU are ours.
    const cpu0 = process.cpuUsage();
    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 500);
    const handle = await env.client.workflow.start(spec.workflowType, runbookStartOptions(spec, { taskQueue, identity: 'bench@upgrade' }));
    await handle.result().finally(() => clearInterval(sampler));
    const t1 = Date.now();
    const cpu = process.cpuUsage(cpu0);
    const cpuS = (cpu.user + cpu.system) / 1e6;
    const wallMs = t1 - t0;
    const at = (e: { t: string }) => Date.parse(e.t);
    const all = lab.journal().filter((e) => at(e) >= t0 && at(e) <= t1);
    const journal = all.filter((e) => e.argv && typeof e.ms === 'number');
    const commands: Array<[number, number]> = journal.map((e) => [at(e), at(e) + (e.ms as number)]);
    // After a refresh returns, the node restarts (NotReady, its voter down): simulated time too. It ends at the lab's
    // `in-service` event for the node, journalled at the exact end (restartUntil); without one, restartMs later.
    const restarts: Array<[number, number]> = journal
      .filter((e) => e.argv![0] === 'snap' && e.argv![1] === 'refresh' && e.argv!.some((a) => a.startsWith('--channel')))
      .filter((e) => all.some((x) => x.event === 'refreshed' && x.node === e.node && at(x) >= at(e) && at(x) <= at(e) + (e.ms as number)))
      .map((e): [number, number] => {
        const end = at(e) + (e.ms as number);
        const back = all.find((x) => x.event === 'in-service' && x.node === e.node && at(x) >= at(e));
        return [end, back ? at(back) : end + timing.restartMs];
      })
      .filter(([s, e]) => e > s);
    const simulatedMs = unionMs([...commands, ...restarts]);
    const boots: Array<[number, number]> = journal.filter((e) => typeof e.bootMs === 'number').map((e) => [at(e) - (e.bootMs as number), at(e)]);
    const withBootsMs = unionMs([...commands, ...restarts, ...boots]);
    const sumMs = journal.reduce((acc, e) => acc + (e.ms as number), 0);
    const overheadMs = wallMs - simulatedMs;

    const history = await handle.fetchHistory();
    const parentEvents = history.events?.length ?? 0;
    const childIds = (history.events ?? [])
      .map((e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId)
      .filter((id): id is string => !!id);
    const childHistories = await Promise.all(childIds.map(async (id) => (await env.client.workflow.getHandle(id).fetchHistory()).events ?? []));
    const childEvents = childHistories.map((h) => h.length);
    const nodes = workers + 3;
    const passes = 2; // patch pass + 1.29
    const perNodePass = parentEvents / (nodes * passes); // fixed events included: conservative
    const maxNodesOneHop = Math.floor(HISTORY_LIMIT / (perNodePass * passes));
    const avgChild = childEvents.reduce((a, b) => a + b, 0) / Math.max(1, childEvents.length);
    const simSumMs = journal.reduce((acc, e) => acc + ((e.simMs as number | undefined) ?? 0), 0);
    const nodePasses = childHistories.length;
    const detail: string[] = [];
    if (process.argv.includes('--breakdown')) {
      const parts = breakdown({ from: t0, to: t1, commands, restarts, boots, parent: history.events ?? [], children: childHistories });
      detail.push(`  where the wall time goes (ms per node per pass, over ${nodePasses} node passes):`);
      for (const [label, ms] of [...parts.entries()].sort((a, b) => b[1] - a[1])) {
        detail.push(`    ${(ms / nodePasses).toFixed(0).padStart(6)}  ${label}`);
      }
      detail.push('  activities (count, mean scheduled→started, mean started→closed, ms):');
      for (const [type, st] of activityStats([history.events ?? [], ...childHistories])) {
        detail.push(`    ${type.padEnd(22)} ${String(st.n).padStart(4)} ${(st.dispatch / st.n).toFixed(0).padStart(6)} ${(st.exec / st.n).toFixed(0).padStart(7)}`);
      }
      if (process.env.BENCH_DUMP) {
        fs.writeFileSync(`${process.env.BENCH_DUMP}-b${batch}.json`, JSON.stringify({ t0, t1, journal: all, parent: history.events, children: childHistories }));
      }
    }
    return [
      `3 CP + ${workers} workers, batch ${batch}, time scale ${timeScale}:`,
      `  wall ${(wallMs / 1000).toFixed(1)} s; simulated (union of ${journal.length} commands + ${restarts.length} restarts) ${(simulatedMs / 1000).toFixed(1)} s; sum of command durations ${(sumMs / 1000).toFixed(1)} s (simulated waiting alone ${(simSumMs / 1000).toFixed(1)} s)`,
      `  overhead per node per pass ${(overheadMs / nodePasses).toFixed(0)} ms (${nodePasses} node passes)`,
      `  without the lab simulator's process start-up (${((withBootsMs - simulatedMs) / 1000).toFixed(1)} s on the critical path): overhead ${((wallMs - withBootsMs) / 1000).toFixed(1)} s = ${((100 * (wallMs - withBootsMs)) / wallMs).toFixed(2)}% of wall, ${((wallMs - withBootsMs) / nodePasses).toFixed(0)} ms per node per pass`,
      `  engine overhead ${(overheadMs / 1000).toFixed(1)} s = ${((100 * overheadMs) / wallMs).toFixed(2)}% of wall (goal < 2%)`,
      `  worker (in this process, with the client): peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MB, CPU ${cpuS.toFixed(1)} s (${((100 * cpuS * 1000) / wallMs).toFixed(0)}% of one core)`,
      `  history: parent ${parentEvents} events = ${perNodePass.toFixed(1)} per node per pass; children ${childEvents.length}, avg ${avgChild.toFixed(1)} events (max ${Math.max(...childEvents)})`,
      `  projected largest cluster for the parent's ${HISTORY_LIMIT} events: ~${maxNodesOneHop} nodes (patch pass + one minor), ~${Math.floor(HISTORY_LIMIT / perNodePass)} (one pass) (goal ≥ 1,000)`,
      ...detail,
    ].join('\n');
  } finally {
    await lab.down();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const workers = Number(flag('workers', '27'));
  const batches = flag('batches', '1,5').split(',').map(Number);
  const timeScale = Number(flag('time-scale', '0.05'));
  installRuntime({ level: 'WARN' });
  const cli = findTemporalCli();
  if (!cli.path) throw new Error('the Temporal CLI is not installed (runbook temporal-cli --install)');
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: cli.path }, searchAttributes: SEARCH_ATTRIBUTES },
  });
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'upgrade-bench-worker-'));
  const ssh = new SshPool();
  const taskQueue = `bench-upgrade-${process.pid}`;
  const worker = await createWorker({ connection: env.nativeConnection, namespace: 'default', taskQueue, stateDir, ssh, shutdownGraceTime: '2s' });
  const running = worker.run();
  try {
    for (const batch of batches) console.log(await measure(env, taskQueue, workers, batch, timeScale));
  } finally {
    worker.shutdown();
    await running;
    await ssh.close();
    await env.teardown();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
