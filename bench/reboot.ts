/**
 * Benchmark: a rolling reboot of 3 control planes + 27 workers in the realistic lab profile (a boot takes 45 s and
 * MicroK8s 25 s more, at time scale 1), workers in batches. Prints the wall time against the simulated time (the union
 * of every command's run time, the simulator's process start-up included as a real `microk8s` includes its own, and of
 * each node's time down, from its reboot until its services are back), and the engine overhead = wall − simulated, as
 * a share of the wall time (goal: < 2%); history events per node.
 *
 * Run: npm run build && node dist/bench/reboot.js [--workers 27] [--batch 9] [--time-scale 1]
 * (--time-scale shrinks every lab duration, not the engine's fixed costs: the overhead's share means most at 1.)
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { SshPool } from '../activities/ssh';
import { runbookStartOptions } from '../cli/start-options';
import { findTemporalCli } from '../cli/temporal-cli';
import { SEARCH_ATTRIBUTES } from '../common/constants';
import type { RebootResult } from '../common/reboot';
import { Lab } from '../lab';
import { createWorker } from '../worker/create-worker';
import { installRuntime } from '../worker/runtime';
import { unionMs } from './upgrade';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const workers = Number(flag('workers', '27'));
  const batch = Number(flag('batch', '9'));
  const timeScale = Number(flag('time-scale', '1'));
  installRuntime({ level: 'WARN' });
  const cli = findTemporalCli();
  if (!cli.path) throw new Error('the Temporal CLI is not installed (runbook temporal-cli --install)');
  const env = await TestWorkflowEnvironment.createLocal({ server: { executable: { type: 'existing-path', path: cli.path }, searchAttributes: SEARCH_ATTRIBUTES } });
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'reboot-bench-'));
  const ssh = new SshPool();
  const taskQueue = `bench-reboot-${process.pid}`;
  const worker = await createWorker({ connection: env.nativeConnection, namespace: 'default', taskQueue, stateDir, ssh, shutdownGraceTime: '2s' });
  const running = worker.run();
  const lab = await Lab.up({ name: `rb${workers}b${batch}`, controlPlanes: 3, workers, formed: true, profile: 'realistic', timeScale, stateDir });
  try {
    const timing = lab.timing();
    const spec = {
      kind: 'reboot' as const,
      workflowType: 'rollingReboot',
      inventory: lab.inventory,
      input: { workerBatch: batch, pollMs: Math.max(100, Math.round(1000 * timeScale)), bootTimeoutSeconds: 900, readyTimeoutSeconds: 600 },
      summary: `bench reboot ${workers + 3} nodes, batch ${batch}`,
      yes: true,
    };
    const t0 = Date.now();
    const handle = await env.client.workflow.start(spec.workflowType, runbookStartOptions(spec, { taskQueue, identity: 'bench@reboot' }));
    const result = (await handle.result()) as RebootResult;
    const t1 = Date.now();
    const wallMs = t1 - t0;
    const at = (e: { t: string }) => Date.parse(e.t);
    const all = lab.journal().filter((e) => at(e) >= t0 && at(e) <= t1);
    const commands: Array<[number, number]> = all.filter((e) => e.argv && typeof e.ms === 'number').map((e) => [at(e), at(e) + (e.ms as number)]);
    // Down from the reboot until its services are back (`in-service` after `rebooted`; else servicesBootMs after it).
    const down: Array<[number, number]> = all
      .filter((e) => e.event === 'reboot')
      .map((e): [number, number] => {
        const booted = all.find((x) => x.event === 'rebooted' && x.node === e.node && at(x) >= at(e));
        const back = booted && all.find((x) => x.event === 'in-service' && x.node === e.node && at(x) >= at(booted));
        return [at(e), back ? at(back) : booted ? at(booted) + timing.servicesBootMs : at(e) + timing.bootMs + timing.servicesBootMs];
      });
    const simulatedMs = unionMs([...commands, ...down]);
    const boots: Array<[number, number]> = all.filter((e) => typeof e.bootMs === 'number' && e.argv).map((e) => [at(e) - (e.bootMs as number), at(e)]);
    const withBootsMs = unionMs([...commands, ...down, ...boots]);
    const events = (await handle.fetchHistory()).events?.length ?? 0;
    const nodes = workers + 3;
    console.log(
      [
        `rolling reboot of 3 CP + ${workers} workers, batch ${batch}, time scale ${timeScale}: ${result.nodes.filter((n) => n.outcome === 'rebooted').length}/${nodes} rebooted`,
        `  wall ${(wallMs / 1000).toFixed(1)} s; simulated (union of ${commands.length} commands and ${down.length} reboots) ${(simulatedMs / 1000).toFixed(1)} s`,
        // A command's time on the node includes the simulator's own process start-up (as a real `microk8s` includes
        // its Python's): the engine's overhead is what is left outside every command and every reboot.
        `  engine overhead ${((wallMs - withBootsMs) / 1000).toFixed(1)} s = ${((100 * (wallMs - withBootsMs)) / wallMs).toFixed(2)}% of wall (goal < 2%)`,
        `  counting the simulator's process start-up as overhead too: ${((wallMs - simulatedMs) / 1000).toFixed(1)} s = ${((100 * (wallMs - simulatedMs)) / wallMs).toFixed(2)}% of wall`,
        `  history: ${events} events = ${(events / nodes).toFixed(1)} per node`,
      ].join('\n'),
    );
  } finally {
    await lab.down();
    worker.shutdown();
    await running;
    await ssh.close();
    await env.teardown();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
