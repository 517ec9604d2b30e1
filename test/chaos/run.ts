/**
 * `npm run chaos` (K = 50) / `CHAOS_K=10 npm run chaos` (the bounded variant): the chaos suite of issue 8 §1.
 * Runs the scenario in scenario.ts on one lab while the schedule SIGKILLs the worker process K times at seeded
 * random moments (restarting it each time) and restarts the Temporal dev server once on the same SQLite file;
 * then judges the lab's truth, every runbook's ending and the journal invariants, and prints the figures.
 *
 * Env: CHAOS_K (default 50), CHAOS_SEED (printed; set it to replay a schedule), CHAOS_GAP_MS (`200-2500` for K <= 20,
 * `150-1500` above: the range of gaps between chaos events), CHAOS_SERVER_SIGNAL (SIGTERM, or SIGKILL for a crash), CHAOS_KEEP=1
 * (keep the state dir, logs and journal; kept anyway on failure). Exit 0 when everything holds, 1 otherwise.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { Lab, type LabStatus } from '../../lab';
import { workflowsPath } from '../../worker/create-worker';
import { installRuntime } from '../../worker/runtime';
import { ChaosSchedule } from './chaos-schedule';
import { checkInvariants } from './invariants';
import { seededRng, seedFromEnv } from './rng';
import { currentStep, GROWN, LOST, PHASES, Scenario } from './scenario';
import { startDevServer } from './temporal-server';
import { ChaosWorker } from './worker-process';

const t0 = Date.now();
const log = (line: string) => process.stdout.write(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);

function numberEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new Error(`${name}: "${raw}" is not a whole number`);
  return Number(raw);
}

function gapEnv(k: number): [number, number] {
  const raw = process.env.CHAOS_GAP_MS ?? (k > 20 ? '150-1500' : '200-2500');
  const m = /^(\d+)-(\d+)$/.exec(raw);
  if (!m || Number(m[1]) >= Number(m[2])) throw new Error(`CHAOS_GAP_MS: "${raw}" is not a range like 300-2500 (ms)`);
  return [Number(m[1]), Number(m[2])];
}

/** What the scenario intends, from the lab's truth: problems as sentences. */
function judgeFinalState(st: LabStatus): string[] {
  const problems: string[] = [];
  const c = st.cluster;
  const members = [...c.voters, ...c.standbys, ...c.spares];
  if ([...c.voters].sort().join(',') !== 'k8s-1,k8s-4,k8s-5') problems.push(`voters are ${c.voters.join(', ')}, expected k8s-1, k8s-4, k8s-5`);
  if (!c.ha || !c.available) problems.push(`cluster ha=${c.ha} available=${c.available}`);
  for (const n of st.nodes) {
    if (GROWN.includes(n.name)) {
      const bad = [
        n.cluster !== c.id && 'not in the cluster',
        !n.kubernetes && 'no Node object',
        !n.ready && 'not Ready',
        n.cordoned && 'cordoned',
        n.held && 'snap held',
        n.channel !== '1.29/stable' && `tracking ${n.channel}`,
        !/^v1\.29\./.test(n.version) && `on ${n.version}`,
      ].filter(Boolean);
      if (bad.length) problems.push(`${n.name}: ${bad.join(', ')}`);
    }
    if (LOST.includes(n.name) && (n.power !== 'destroyed' || members.includes(n.name) || (n.cluster === c.id && n.kubernetes))) {
      problems.push(`${n.name}: power ${n.power}, dqlite member ${members.includes(n.name)}, Node object ${n.kubernetes}`);
    }
  }
  return problems;
}

async function main(): Promise<number> {
  installRuntime({ level: 'ERROR' });
  const k = numberEnv('CHAOS_K', 50);
  const seed = seedFromEnv();
  const [minGap, maxGap] = gapEnv(k);
  const serverSignal = (process.env.CHAOS_SERVER_SIGNAL ?? 'SIGTERM') as NodeJS.Signals;
  if (!['SIGTERM', 'SIGKILL', 'SIGINT'].includes(serverSignal)) throw new Error('CHAOS_SERVER_SIGNAL: use SIGTERM, SIGINT or SIGKILL');
  log(`chaos: K=${k} CHAOS_SEED=${seed} gaps ${minGap}-${maxGap} ms, server restart by ${serverSignal} (replay: CHAOS_K=${k} CHAOS_SEED=${seed} npm run chaos)`);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chaos-'));
  const stateDir = path.join(dir, 'state');
  const logDir = path.join(dir, 'logs');
  fs.mkdirSync(stateDir);
  fs.mkdirSync(logDir);
  const server = await startDevServer(dir);
  started.push(() => server.stop());
  log(`dev server on ${server.address}, db ${server.dbFile}`);
  const connection = await Connection.connect({ address: server.address });
  started.push(() => connection.close());
  const client = new Client({ connection, namespace: 'default' });
  const bundlePath = path.join(dir, 'workflows-bundle.js');
  fs.writeFileSync(bundlePath, (await bundleWorkflowCode({ workflowsPath: workflowsPath(), logger: quiet })).code);
  const lab = await Lab.up({ name: `chaos${process.pid % 100000}`, controlPlanes: 5, workers: 2, channel: '1.28/stable', profile: 'fast', stateDir });
  started.push(() => lab.down());
  log(`lab ${lab.name}: k8s-1..5, k8s-w1..2 on 1.28/stable (fast profile); first inventory: k8s-1..3, k8s-w1..2`);
  const taskQueue = `chaos-${process.pid}`;
  const worker = new ChaosWorker({ address: server.address, taskQueue, stateDir, bundlePath, logDir });
  started.push(() => worker.stop());
  await worker.start();

  let phase: string | undefined;
  const transientErrors: string[] = [];
  const scenario = new Scenario({ client, lab, taskQueue, log, setPhase: (p) => (phase = p), transientErrors });
  const chaos = new ChaosSchedule({
    rng: seededRng(seed),
    kills: k,
    minGapMs: minGap,
    maxGapMs: maxGap,
    worker,
    server,
    serverSignal,
    phases: PHASES,
    phase: () => phase,
    step: () => currentStep(client, lab.inventory.cluster),
    log,
  });

  log(`kills assigned per runbook (seeded): ${PHASES.map((p, i) => `${p}: ${chaos.quota[i]}`).join('; ')}; server restart in "${PHASES[chaos.server.phase]}" after ${chaos.server.afterKills} of its kills`);
  let scenarioError: string | undefined;
  try {
    await scenario.run();
  } catch (e) {
    scenarioError = (e as Error).stack ?? String(e);
    log(`scenario stopped: ${scenarioError}`);
  }
  await chaos.stop();

  const finalProblems = scenarioError ? ['(scenario did not finish)'] : judgeFinalState(await lab.status());
  const running: string[] = [];
  for await (const w of client.workflow.list({ query: 'ExecutionStatus="Running"' })) running.push(`${w.workflowId} (${w.type})`);
  const journal = lab.journal();
  const invariants = checkInvariants(journal, {
    windows: scenario.windows,
    voters: ['k8s-1', 'k8s-2', 'k8s-3'],
    controlPlanes: ['k8s-1', 'k8s-2', 'k8s-3'],
    initialMinor: 28,
    survivors: ['k8s-1'],
  });
  const secretScan = await server.scanHistories();
  const violations = Object.values(invariants).reduce((a, v) => a + v.length, 0);
  const kills = chaos.events.filter((e) => e.what === 'worker SIGKILL');
  const completed = scenario.outcomes.filter((o) => o.ok).length;
  const ok = !scenarioError && finalProblems.length === 0 && running.length === 0 && violations === 0 && completed === 5 && worker.unplannedExits.length === 0 && !secretScan.error;
  const avg = (xs: number[]) => (xs.length ? Math.round(xs.reduce((a, b) => a + b, 0) / xs.length) : 0);

  const summary = {
    seed,
    k,
    killsSurvived: ok ? kills.length : 0,
    kills: kills.length,
    serverRestarts: server.restarts,
    runbooksAsExpected: `${completed}/${scenario.outcomes.length} (of 5)`,
    invariantViolations: violations,
    wallSeconds: Math.round((Date.now() - t0) / 1000),
    workerStartMsAvg: avg(worker.startMs),
    killRecoveryMsAvg: avg(kills.map((e) => e.recoveryMs)),
    unplannedWorkerExits: worker.unplannedExits,
    transientClientErrors: transientErrors.length,
    journalEntries: journal.length,
    finalStateProblems: finalProblems,
    stillRunning: running,
    runbooks: scenario.outcomes,
    invariants,
    chaosEvents: chaos.events,
    secretScan: secretScan.error ?? `${secretScan.workflows} histories clean`,
  };
  fs.writeFileSync(path.join(dir, 'summary.json'), JSON.stringify(summary, null, 2));
  const line = (k2: string, v: unknown) => process.stdout.write(`  ${k2.padEnd(28)} ${typeof v === 'string' ? v : JSON.stringify(v)}\n`);
  process.stdout.write(`\nchaos ${ok ? 'PASSED' : 'FAILED'} (CHAOS_K=${k} CHAOS_SEED=${seed})\n`);
  line('kills survived', `${summary.killsSurvived} of ${kills.length} (K=${k}${kills.length < k ? '; the scenario ended first' : ''})`);
  line('server restarts', server.restarts);
  line('runbooks as intended', summary.runbooksAsExpected);
  line('invariant violations', violations);
  for (const [name, v] of Object.entries(invariants)) line(`  ${name}`, v.length ? v : 0);
  line('final state problems', finalProblems.length ? finalProblems : 0);
  line('workflows still running', running.length ? running : 0);
  line('secrets in histories', secretScan.error ?? 0);
  line('unplanned worker exits', worker.unplannedExits.length ? worker.unplannedExits : 0);
  line('wall time', `${summary.wallSeconds} s`);
  line('worker start (avg)', `${summary.workerStartMsAvg} ms`);
  line('client retries', transientErrors.length);
  for (const o of scenario.outcomes) {
    const hits = chaos.events.filter((e) => e.phase === o.name);
    const what = `${hits.filter((e) => e.what === 'worker SIGKILL').length} kills${hits.some((e) => e.what === 'server restart') ? ' + server restart' : ''}`;
    line(`  ${o.ok ? 'ok ' : 'BAD'} ${o.name}`, `${(o.ms / 1000).toFixed(1)} s, ${what}`);
  }
  const kept = !ok || process.env.CHAOS_KEEP === '1';
  process.stdout.write(kept ? `  state, logs, journal and summary kept in ${dir}\n` : '');

  if (kept) fs.copyFileSync(lab.journalPath, path.join(dir, 'journal.jsonl'));
  await cleanup();
  if (!kept) fs.rmSync(dir, { recursive: true, force: true });
  return ok ? 0 : 1;
}

/** Everything the driver started, stopped in reverse order (also when it fails half-way). */
const started: Array<() => Promise<unknown>> = [];
async function cleanup(): Promise<void> {
  for (const stop of started.splice(0).reverse()) await stop().catch(() => undefined);
}

const quiet = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (m: string) => console.warn(m),
  error: (m: string) => console.error(m),
};

main().then(
  (code) => process.exit(code),
  async (e) => {
    process.stderr.write(`chaos: ${(e as Error).stack ?? String(e)}\n`);
    await cleanup();
    process.exit(1);
  },
);
