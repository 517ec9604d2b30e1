/**
 * Temporal for e2e tests: a real dev server (the local Temporal CLI, no downloads) and a real worker.
 *
 * Usage, one server and one bundle per test file:
 *
 *   import { startTemporal, bundle, startWorker, startRunbook, runCli } from './temporal';
 *   let env: TestWorkflowEnvironment;
 *   beforeAll(async () => { env = await startTemporal(); });          // random port, search attributes registered
 *   afterAll(async () => { await env?.teardown(); });
 *
 *   test('...', async () => {
 *     const worker = await startWorker(env, { stateDir });              // real activities, real SshPool
 *     // or: startWorker(env, { stateDir, activities: { probeNode: async () => ... } }) for workflow-logic tests
 *     try {
 *       const handle = await startRunbook(env, { kind: 'check', workflowType: 'check', inventory, input: {}, summary: 'check' }, worker.taskQueue);
 *       await handle.result();
 *       // or run the CLI as a user would: await runCli(env, ['check', '-i', file], { taskQueue: worker.taskQueue })
 *     } finally {
 *       await worker.stop();
 *     }
 *   });
 *
 * - `startRunbook` starts exactly as the CLI does (cluster workflow ID, conflict policy FAIL, search attributes).
 * - Each `startWorker` gets its own task queue unless one is given, so tests in a file do not steal each other's tasks.
 * - The workflow bundle is built once and cached on disk by source hash (`bundle()`); a cold build takes seconds.
 * - `runCli` runs `node dist/cli/main.js` (build first: `npm test` does) against this server via TEMPORAL_ADDRESS.
 */
import { execFile } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';
import { SEARCH_ATTRIBUTES } from '../../common/constants';
import { failureConverterPath } from '../../codec/data-converter';
import { runbookStartOptions, type StartOptionsSpec } from '../../cli/start-options';
import { findTemporalCli, TemporalCliNotFound } from '../../cli/temporal-cli';
import { SshPool } from '../../activities/ssh';
import { createWorker, workflowsPath, type RunbookWorker } from '../../worker/create-worker';
import { installRuntime } from '../../worker/runtime';
import { scanOnTeardown } from './history-scan';

export const REPO_ROOT = path.resolve(__dirname, '../..');
export const CLI_MAIN = path.join(REPO_ROOT, 'dist/cli/main.js');
export const TEST_IDENTITY = 'tester@jest';

installRuntime({ level: 'WARN' });

/** The local Temporal CLI, or a clear failure (never a download in tests). */
export function temporalCliPath(): string {
  const found = findTemporalCli();
  if (!found.path) {
    throw new Error(`${new TemporalCliNotFound(found.tried).message}\n(.ci/run installs it: runbook temporal-cli --install)`);
  }
  return found.path;
}

export interface StartTemporalOptions {
  /** Extra `temporal server start-dev` arguments (e.g. dynamic config). */
  extraArgs?: string[];
  /** Serve the Web UI on this port (default: no UI). */
  uiPort?: number;
  /** The UI's codec server (`--ui-codec-endpoint`, as `runbook dev --ui-codec-endpoint` passes it). */
  uiCodecEndpoint?: string;
}

/**
 * A dev server on a random port with the runbook search attributes. Call `env.teardown()` in afterAll: it scans every
 * workflow history for secrets first (test/support/history-scan.ts) and fails the file on a finding.
 */
export async function startTemporal(opts: StartTemporalOptions = {}): Promise<TestWorkflowEnvironment> {
  const extraArgs = [...(opts.extraArgs ?? []), ...(opts.uiCodecEndpoint ? ['--ui-codec-endpoint', opts.uiCodecEndpoint] : [])];
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: temporalCliPath() },
      searchAttributes: SEARCH_ATTRIBUTES,
      ...(opts.uiPort ? { ui: true, uiPort: opts.uiPort } : {}),
      ...(extraArgs.length ? { extraArgs } : {}),
    },
  });
  // Every history is scanned for secrets before the server stops; a finding fails the test file (history-scan.ts).
  return scanOnTeardown(env);
}

const cachedBundles = new Map<string, Promise<WorkflowBundle>>();

/** Hash of everything the workflow bundle is built from, so a cached bundle is never stale. */
function workflowSourceHash(dirs: string[]): string {
  const h = createHash('sha256');
  const sdk = JSON.parse(fs.readFileSync(require.resolve('@temporalio/workflow/package.json'), 'utf8')) as { version: string };
  h.update(sdk.version);
  for (const dir of dirs) {
    const root = path.join(REPO_ROOT, dir);
    for (const f of fs.readdirSync(root, { recursive: true }).map(String).sort()) {
      const file = path.join(root, f);
      // .js too: run from dist/ (record-histories, chaos) the sources are the compiled files.
      if (/\.(ts|js)$/.test(f) && fs.statSync(file).isFile()) h.update(f).update(fs.readFileSync(file));
    }
  }
  return h.digest('hex').slice(0, 16);
}

export interface BundleOptions {
  /**
   * Build the encryption's failure converter into the bundle (`failureConverterPath` from codec/data-converter), as
   * `runbook worker` does when a key is configured: a worker given that data converter needs this bundle.
   */
  encrypted?: boolean;
}

/**
 * The workflows bundle. Webpack costs seconds of CPU and jest gives every test file a fresh module registry, so
 * the bundle is cached on disk, keyed by the hash of its sources.
 */
export function bundle(opts: BundleOptions = {}): Promise<WorkflowBundle> {
  const kind = opts.encrypted ? 'encrypted' : 'plain';
  let cached = cachedBundles.get(kind);
  if (!cached) {
    cached = (async () => {
      const hash = workflowSourceHash(opts.encrypted ? ['workflows', 'common', 'codec'] : ['workflows', 'common']);
      const cacheFile = path.join(REPO_ROOT, 'node_modules/.cache/runbook-workflows', `${opts.encrypted ? 'encrypted-' : ''}${hash}.js`);
      if (fs.existsSync(cacheFile)) return { code: fs.readFileSync(cacheFile, 'utf8') };
      const built = await bundleWorkflowCode({
        workflowsPath: workflowsPath(),
        logger: quietBundlerLogger,
        ...(opts.encrypted ? { failureConverterPath } : {}),
      });
      fs.mkdirSync(path.dirname(cacheFile), { recursive: true });
      fs.writeFileSync(`${cacheFile}.tmp`, built.code);
      fs.renameSync(`${cacheFile}.tmp`, cacheFile);
      return built;
    })();
    cachedBundles.set(kind, cached);
  }
  return cached;
}

const quietBundlerLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (m: string) => console.warn(m),
  error: (m: string) => console.error(m),
};

export interface StartWorkerOptions {
  stateDir: string;
  /** Default: a fresh `test-<random>` queue. */
  taskQueue?: string;
  /** Replace the real activities, e.g. to test workflow logic alone. */
  activities?: object;
  /** Share an SSH pool (e.g. to inspect it); default: a new one, closed by stop(). */
  ssh?: SshPool;
  /** Payload encryption (`createDataConverter(keyring)`); the workflows are then bundled with its failure converter. */
  dataConverter?: DataConverter;
}

export interface TestWorker {
  taskQueue: string;
  worker: RunbookWorker;
  /** The worker's SshPool (undefined when activities were overridden). */
  ssh?: SshPool;
  /** Shut down, wait for the run loop to end, close the pool. */
  stop(): Promise<void>;
}

/** A real worker polling `taskQueue` until `stop()`. */
export async function startWorker(env: TestWorkflowEnvironment, opts: StartWorkerOptions): Promise<TestWorker> {
  const taskQueue = opts.taskQueue ?? `test-${Math.random().toString(36).slice(2, 10)}`;
  const ssh = opts.activities ? undefined : (opts.ssh ?? new SshPool());
  const worker = await createWorker({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    stateDir: opts.stateDir,
    activities: opts.activities,
    ssh,
    workflowBundle: await bundle({ encrypted: opts.dataConverter !== undefined }),
    shutdownGraceTime: '2s',
    ...(opts.dataConverter ? { dataConverter: opts.dataConverter } : {}),
  });
  const running = worker.run();
  return {
    taskQueue,
    worker,
    ssh,
    async stop() {
      worker.shutdown();
      await running;
      if (!opts.ssh) await ssh?.close();
    },
  };
}

/** Start a runbook the way `runbook <kind>` does. */
/** A runbook, or one of the test fixtures' own workflows, started the way `runbook <kind>` starts one. */
export type TestStartSpec = StartOptionsSpec & { workflowType: string; input: Record<string, unknown> };

export async function startRunbook(
  env: TestWorkflowEnvironment,
  spec: TestStartSpec,
  taskQueue: string,
  identity = TEST_IDENTITY,
): Promise<WorkflowHandleWithFirstExecutionRunId> {
  const options = runbookStartOptions(spec, { taskQueue, identity });
  return env.client.workflow.start(spec.workflowType, options);
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunCliOptions {
  taskQueue?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/** Run `node dist/cli/main.js ...args` against this test server. Never throws on a non-zero exit. */
export function runCli(env: TestWorkflowEnvironment, args: string[], opts: RunCliOptions = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI_MAIN, ...args],
      {
        cwd: REPO_ROOT,
        timeout: opts.timeoutMs ?? 90_000,
        env: {
          ...process.env,
          TEMPORAL_ADDRESS: env.address,
          TEMPORAL_NAMESPACE: env.namespace ?? 'default',
          TEMPORAL_CONFIG_FILE: '/nonexistent/temporal.toml',
          ...(opts.taskQueue ? { RUNBOOK_TASK_QUEUE: opts.taskQueue } : {}),
          ...opts.env,
        },
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}
