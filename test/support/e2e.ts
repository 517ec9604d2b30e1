/**
 * The set-up most end-to-end suites share, in one place: a state directory, the real dev server, a lab behind real
 * sshd and a real worker, started before the suite's tests and torn down after (worker, lab, server, directory).
 * `useLabSuite` registers the jest hooks and returns an object whose fields are set once `beforeAll` has run.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Lab, type LabOptions } from '../../lab';
import { runCli, startTemporal, startWorker, type CliResult, type RunCliOptions } from './temporal';

export interface SuiteWorker {
  taskQueue: string;
  stop(): Promise<void>;
}

export interface LabSuite<W extends SuiteWorker> {
  env: TestWorkflowEnvironment;
  lab: Lab;
  worker: W;
  stateDir: string;
  /** `runbook <args>` as a child process against this suite's server and worker. Never throws on a non-zero exit. */
  cli(args: string[], opts?: RunCliOptions): Promise<CliResult>;
}

export interface LabSuiteOptions<W extends SuiteWorker> {
  /** Lab options; the lab's name gets the process id appended, so parallel runs do not collide. */
  lab: Omit<LabOptions, 'stateDir'>;
  /** Another worker than the default `startWorker` (a suite that wraps activities, say). */
  worker?: (env: TestWorkflowEnvironment, stateDir: string) => Promise<W>;
}

export function useLabSuite<W extends SuiteWorker = SuiteWorker>(opts: LabSuiteOptions<W>): LabSuite<W> {
  const suite = {} as LabSuite<W>;
  suite.cli = (args, o = {}) => runCli(suite.env, args, { taskQueue: suite.worker.taskQueue, ...o });
  beforeAll(async () => {
    suite.stateDir = fs.mkdtempSync(path.join(os.tmpdir(), `${opts.lab.name}-e2e-`));
    [suite.env, suite.lab] = await Promise.all([
      startTemporal(),
      Lab.up({ ...opts.lab, name: `${opts.lab.name}${process.pid % 100000}`, stateDir: suite.stateDir }),
    ]);
    suite.worker = opts.worker ? await opts.worker(suite.env, suite.stateDir) : ((await startWorker(suite.env, { stateDir: suite.stateDir })) as SuiteWorker as W);
  }, 120_000);
  afterAll(async () => {
    await suite.worker?.stop();
    await suite.lab?.down();
    await suite.env?.teardown();
    if (suite.stateDir) fs.rmSync(suite.stateDir, { recursive: true, force: true });
  });
  return suite;
}
