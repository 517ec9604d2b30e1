/**
 * Finds (or builds) the Temporal CLI that runs the dev server, in this order:
 *   1. $TEMPORAL_CLI_PATH
 *   2. `temporal` on PATH
 *   3. the project cache, `~/.cache/microk8s-runbooks/bin/temporal` (`$RUNBOOK_CACHE_DIR` overrides the cache dir)
 *   4. `go install github.com/temporalio/cli/cmd/temporal@v1.5.1` into that cache (only when `go` exists; minutes)
 *   5. the SDK's own download (`executable: { type: 'cached-download' }`), which needs the internet
 * The result plugs into `TestWorkflowEnvironment.createLocal({ server: { executable } })`.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { EphemeralServerExecutable } from '@temporalio/testing/lib/ephemeral-server';

export const TEMPORAL_CLI_VERSION = 'v1.5.1';
export const TEMPORAL_CLI_MODULE = `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`;

export type TemporalCliSource = 'TEMPORAL_CLI_PATH' | 'PATH' | 'cache' | 'go install' | 'sdk download';

export interface ResolvedTemporalCli {
  executable: EphemeralServerExecutable;
  source: TemporalCliSource;
  /** The binary, except for the SDK download (resolved when the server starts). */
  path?: string;
  /** What was looked at before this one, for messages. */
  tried: string[];
}

export interface ResolveOptions {
  env?: NodeJS.ProcessEnv;
  /** Build with `go install` when nothing is found (default true). */
  goInstall?: boolean;
  /** Fall back to the SDK's download (default true). */
  sdkDownload?: boolean;
  /** Progress lines (go install takes minutes). */
  log?: (line: string) => void;
}

export class TemporalCliNotFound extends Error {
  constructor(
    readonly tried: string[],
    env: NodeJS.ProcessEnv = process.env,
  ) {
    super(
      [
        'Temporal CLI not found. Tried:',
        ...tried.map((t) => `  - ${t}`),
        `Fix: set TEMPORAL_CLI_PATH to a temporal binary, put "temporal" on PATH, or install Go >= 1.25 and run`,
        `     GOBIN=${cacheBinDir(env)} go install ${TEMPORAL_CLI_MODULE}`,
      ].join('\n'),
    );
    this.name = 'TemporalCliNotFound';
  }
}

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.RUNBOOK_CACHE_DIR || path.join(os.homedir(), '.cache', 'microk8s-runbooks');
}

export function cacheBinDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(cacheDir(env), 'bin');
}

function isExecutableFile(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The first executable `name` on `PATH`, like `command -v`. */
export function findOnPath(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/** Steps 1–3: no building, no network. */
export function findTemporalCli(env: NodeJS.ProcessEnv = process.env): { path?: string; source?: TemporalCliSource; tried: string[] } {
  const tried: string[] = [];
  const fromEnv = env.TEMPORAL_CLI_PATH;
  if (fromEnv) {
    if (isExecutableFile(fromEnv)) return { path: fromEnv, source: 'TEMPORAL_CLI_PATH', tried };
    tried.push(`$TEMPORAL_CLI_PATH=${fromEnv} (not an executable file)`);
  } else {
    tried.push('$TEMPORAL_CLI_PATH (unset)');
  }
  const onPath = findOnPath('temporal', env);
  if (onPath) return { path: onPath, source: 'PATH', tried };
  tried.push('"temporal" on PATH (not found)');
  const cached = path.join(cacheBinDir(env), 'temporal');
  if (isExecutableFile(cached)) return { path: cached, source: 'cache', tried };
  tried.push(`${cached} (not found)`);
  return { tried };
}

/** `go install` the pinned CLI into the cache. Resolves with the binary path. */
export async function goInstallTemporalCli(env: NodeJS.ProcessEnv = process.env, log: (line: string) => void = () => undefined): Promise<string> {
  const go = findOnPath('go', env);
  if (!go) throw new Error('go not found on PATH');
  const gobin = cacheBinDir(env);
  fs.mkdirSync(gobin, { recursive: true });
  log(`Building the Temporal CLI ${TEMPORAL_CLI_VERSION} with go install into ${gobin}; this takes a few minutes...`);
  await new Promise<void>((resolve, reject) => {
    const child = spawn(go, ['install', TEMPORAL_CLI_MODULE], {
      env: { ...env, GOBIN: gobin },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`go install exited with ${code}`))));
  });
  const built = path.join(gobin, 'temporal');
  if (!isExecutableFile(built)) throw new Error(`go install finished but ${built} is missing`);
  return built;
}

/** Steps 1–5. Throws TemporalCliNotFound naming everything it tried. */
export async function resolveTemporalCli(opts: ResolveOptions = {}): Promise<ResolvedTemporalCli> {
  const env = opts.env ?? process.env;
  const found = findTemporalCli(env);
  const tried = [...found.tried];
  if (found.path && found.source) {
    return { executable: { type: 'existing-path', path: found.path }, source: found.source, path: found.path, tried };
  }
  if (opts.goInstall !== false) {
    if (findOnPath('go', env)) {
      try {
        const built = await goInstallTemporalCli(env, opts.log);
        return { executable: { type: 'existing-path', path: built }, source: 'go install', path: built, tried };
      } catch (e) {
        tried.push(`go install ${TEMPORAL_CLI_MODULE} (${(e as Error).message})`);
      }
    } else {
      tried.push(`go install ${TEMPORAL_CLI_MODULE} (go not on PATH)`);
    }
  }
  if (opts.sdkDownload !== false) {
    tried.push('the SDK download (needs the internet; fails when the server starts if offline)');
    return { executable: { type: 'cached-download', downloadDir: cacheDir(env) }, source: 'sdk download', tried };
  }
  throw new TemporalCliNotFound(tried, env);
}
