/**
 * What the many-cluster benchmarks (fleet, stack-load) share: a scratch directory with a state dir and worker logs,
 * the workflow bundle written once for the worker processes, labs of three control planes brought up five at a time,
 * and a clean-up list run in reverse however the bench ends.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { Lab, type LabOptions } from '../lab';
import { workflowsPath } from '../worker/create-worker';

const t0 = Date.now();
/** A line with the seconds since the bench started. */
export const log = (line: string): void => void process.stdout.write(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);

export interface BenchDirs {
  dir: string;
  stateDir: string;
  logDir: string;
}

export function benchDirs(prefix: string): BenchDirs {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
  const stateDir = path.join(dir, 'state');
  const logDir = path.join(dir, 'logs');
  fs.mkdirSync(stateDir);
  fs.mkdirSync(logDir);
  return { dir, stateDir, logDir };
}

/** The workflows bundled once into `dir`, for `ChaosWorker`s (each a `runbook worker` process) to load. */
export async function writeWorkflowBundle(dir: string): Promise<string> {
  const bundlePath = path.join(dir, 'workflows-bundle.js');
  const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error };
  fs.writeFileSync(bundlePath, (await bundleWorkflowCode({ workflowsPath: workflowsPath(), logger: quiet })).code);
  return bundlePath;
}

/** `n` labs of three control planes on 1.28, named `<name>-<i>`; five at a time (each starts three sshd and a listener). */
export async function upLabs(n: number, name: string, stateDir: string, opts: Partial<LabOptions> = {}): Promise<Lab[]> {
  const labs: Lab[] = [];
  for (let i = 0; i < n; i += 5) {
    const batch = Array.from({ length: Math.min(5, n - i) }, (_, j) =>
      Lab.up({ name: `${name}-${i + j}`, controlPlanes: 3, workers: 0, channel: '1.28/stable', profile: 'fast', stateDir, ...opts }),
    );
    labs.push(...(await Promise.all(batch)));
  }
  return labs;
}

/** Run `main`; clean-ups registered with `cleanups.push` run in reverse afterwards, and the scratch dir goes. */
export function runBench(dirs: BenchDirs, main: (cleanups: Array<() => Promise<unknown>>) => Promise<void>): void {
  const cleanups: Array<() => Promise<unknown>> = [];
  main(cleanups)
    .finally(async () => {
      for (const c of cleanups.reverse()) await c().catch(() => undefined);
      fs.rmSync(dirs.dir, { recursive: true, force: true });
    })
    .then(
      () => process.exit(0),
      (e) => {
        console.error(e instanceof Error ? e.message : e);
        process.exit(1);
      },
    );
}
