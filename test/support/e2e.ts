/**
 * The set-up the end-to-end suites share, in one place: a state directory, the real dev server, labs behind real sshd
 * and real workers, torn down in reverse order (workers, labs, server, directory).
 *
 * - `useServerSuite()`: the server and the state directory for the whole file; `suite.lab(...)` and
 *   `suite.worker(...)` inside a test give that test its own lab and worker, brought down after it (no try/finally).
 * - `useLabSuite({ lab })`: the same with one lab and one worker for the whole file.
 *
 * Both register the jest hooks and return an object whose fields are set once `beforeAll` has run.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Lab, type LabOptions } from '../../lab';
import { ensureLabBuilt } from './lab';
import { runCli, startTemporal, startWorker, type CliResult, type RunCliOptions, type StartTemporalOptions, type StartWorkerOptions, type TestWorker } from './temporal';

export interface SuiteWorker {
  taskQueue: string;
  stop(): Promise<void>;
}

/** Lab options without the state dir (the suite's); the name gets the process id appended, so parallel runs never collide. */
export type SuiteLabOptions = Omit<LabOptions, 'stateDir'>;

export interface ServerSuite {
  env: TestWorkflowEnvironment;
  stateDir: string;
  /** A lab for the current test only (or for the file, when called in `beforeAll`), brought down after it. */
  lab(opts: SuiteLabOptions): Promise<Lab>;
  /** A real worker for the current test only (or for the file, in `beforeAll`), stopped after it. */
  worker(opts?: Omit<StartWorkerOptions, 'stateDir'> & { stateDir?: string }): Promise<TestWorker>;
  /** `runbook <args>` as a child process against this suite's server. Never throws on a non-zero exit. */
  cli(args: string[], opts?: RunCliOptions): Promise<CliResult>;
  /** Undo something at the end of the current test (or of the file, in `beforeAll`), before the labs made earlier. */
  defer(teardown: () => Promise<void>): void;
}

export interface ServerSuiteOptions {
  /** Dev server options (a Web UI port, a codec endpoint, dynamic config), or a function giving them when the server starts (free ports found then). */
  temporal?: StartTemporalOptions | (() => Promise<StartTemporalOptions>);
  /** The state directory's name prefix (default `e2e`). */
  name?: string;
  /**
   * The file's tests are `test.concurrent`: jest starts their bodies apart from their hooks, so what a test makes
   * cannot be told apart by test and lives until the file ends.
   */
  concurrent?: boolean;
}

type Teardown = () => Promise<void>;

export function useServerSuite(opts: ServerSuiteOptions = {}): ServerSuite {
  const suite = {} as ServerSuite;
  // Resources made in beforeAll live until afterAll; those made inside a test, until its afterEach.
  const fileScoped: Teardown[] = [];
  let testScoped: Teardown[] | undefined;
  const own = (down: Teardown) => (testScoped ?? fileScoped).push(down);
  const release = async (list: Teardown[]) => {
    for (let down = list.pop(); down; down = list.pop()) await down().catch((e) => console.warn(`teardown: ${(e as Error).message}`));
  };
  let labs = 0;
  suite.lab = async (o) => {
    ensureLabBuilt();
    const n = labs++;
    const lab = await Lab.up({ ...o, name: `${o.name}${process.pid % 100000}${n ? `-${n}` : ''}`, stateDir: suite.stateDir });
    own(() => lab.down());
    return lab;
  };
  suite.worker = async (o = {}) => {
    const worker = await startWorker(suite.env, { ...o, stateDir: o.stateDir ?? suite.stateDir });
    own(() => worker.stop());
    return worker;
  };
  suite.cli = (args, o = {}) => runCli(suite.env, args, o);
  suite.defer = own;
  beforeAll(async () => {
    suite.stateDir = fs.mkdtempSync(path.join(os.tmpdir(), `${opts.name ?? 'e2e'}-`));
    suite.env = await startTemporal(typeof opts.temporal === 'function' ? await opts.temporal() : opts.temporal);
  }, 120_000);
  beforeEach(() => {
    if (!opts.concurrent) testScoped = [];
  });
  afterEach(async () => {
    const list = testScoped ?? [];
    testScoped = undefined;
    await release(list);
  }, 60_000);
  afterAll(async () => {
    await release(fileScoped);
    await suite.env?.teardown();
    if (suite.stateDir) fs.rmSync(suite.stateDir, { recursive: true, force: true });
  }, 60_000);
  return suite;
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
  lab: SuiteLabOptions;
  /** Another worker than the default `startWorker` (a suite that wraps activities, say). */
  worker?: (env: TestWorkflowEnvironment, stateDir: string) => Promise<W>;
  temporal?: ServerSuiteOptions['temporal'];
}

export function useLabSuite<W extends SuiteWorker = SuiteWorker>(opts: LabSuiteOptions<W>): LabSuite<W> {
  const server = useServerSuite({ name: `${opts.lab.name}-e2e`, temporal: opts.temporal });
  const suite = {} as LabSuite<W>;
  suite.cli = (args, o = {}) => runCli(suite.env, args, { taskQueue: suite.worker.taskQueue, ...o });
  beforeAll(async () => {
    suite.env = server.env;
    suite.stateDir = server.stateDir;
    suite.lab = await server.lab(opts.lab);
    if (opts.worker) {
      const worker = await opts.worker(server.env, server.stateDir);
      server.defer(() => worker.stop());
      suite.worker = worker;
    } else suite.worker = (await server.worker()) as SuiteWorker as W;
  }, 120_000);
  return suite;
}
