/**
 * Finding (or building) the Go binaries the engine runs (the Temporal CLI, server, SQL tool and UI server), each in
 * the same order:
 *   1. its environment variable (TEMPORAL_CLI_PATH, TEMPORAL_SERVER_PATH, ...)
 *   2. its name on PATH
 *   3. the project cache, `~/.cache/microk8s-runbooks/bin/<name>` (`$RUNBOOK_CACHE_DIR` overrides the cache dir)
 *   4. `go install <module>@<version>` into a fresh directory, then renamed into the cache (only when `go` exists)
 * Building into a private directory first means a half-written binary never sits in the cache, and two modules that
 * both build a binary called `server` (Temporal's and the UI's) cannot overwrite each other.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runbookEnv } from './environment';

export interface BinarySpec {
  /** The name on PATH and in the cache: `temporal`, `temporal-server`, ... */
  name: string;
  /** The variable naming the binary explicitly. */
  envVar: string;
  /** `go install` target: `<package>@<version>`. */
  module: string;
}

/** Where a binary came from: its environment variable's name, PATH, the cache, or a build. */
export type BinarySource = string;

export interface FoundBinary {
  path?: string;
  source?: BinarySource;
  /** What was looked at before this one, for messages. */
  tried: string[];
}

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return runbookEnv('RUNBOOK_CACHE_DIR', env) || path.join(os.homedir(), '.cache', 'microk8s-runbooks');
}

export function cacheBinDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(cacheDir(env), 'bin');
}

export function isExecutableFile(file: string): boolean {
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
export function findBinary(spec: BinarySpec, env: NodeJS.ProcessEnv = process.env): FoundBinary {
  const tried: string[] = [];
  const fromEnv = env[spec.envVar];
  if (fromEnv) {
    if (isExecutableFile(fromEnv)) return { path: fromEnv, source: spec.envVar, tried };
    tried.push(`$${spec.envVar}=${fromEnv} (not an executable file)`);
  } else {
    tried.push(`$${spec.envVar} (unset)`);
  }
  const onPath = findOnPath(spec.name, env);
  if (onPath) return { path: onPath, source: 'PATH', tried };
  tried.push(`"${spec.name}" on PATH (not found)`);
  const cached = path.join(cacheBinDir(env), spec.name);
  if (isExecutableFile(cached)) return { path: cached, source: 'cache', tried };
  tried.push(`${cached} (not found)`);
  return { tried };
}

/** The binary `go install` writes for a package: the last path element that is not a major-version suffix. */
function goBinaryName(module: string): string {
  const parts = module.split('@')[0].split('/');
  return parts.filter((p) => !/^v\d+$/.test(p)).pop()!;
}

/** Step 4: `go install` into a private directory, then rename into the cache. Resolves with the binary path. */
export async function goInstallBinary(spec: BinarySpec, env: NodeJS.ProcessEnv = process.env, log: (line: string) => void = () => undefined): Promise<string> {
  const go = findOnPath('go', env);
  if (!go) throw new Error('go not found on PATH');
  const bin = cacheBinDir(env);
  fs.mkdirSync(bin, { recursive: true });
  const gobin = fs.mkdtempSync(path.join(bin, `.build-${spec.name}-`));
  try {
    log(`Building ${spec.name} (${spec.module}) with go install into ${bin}; this takes a few minutes...`);
    await new Promise<void>((resolve, reject) => {
      const child = spawn(go, ['install', spec.module], { env: { ...env, GOBIN: gobin }, stdio: ['ignore', 'inherit', 'inherit'] });
      child.once('error', reject);
      child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`go install exited with ${code}`))));
    });
    const built = path.join(gobin, goBinaryName(spec.module));
    if (!isExecutableFile(built)) throw new Error(`go install finished but ${built} is missing`);
    const target = path.join(bin, spec.name);
    fs.renameSync(built, target);
    return target;
  } finally {
    fs.rmSync(gobin, { recursive: true, force: true });
  }
}

/** Steps 1–4. Resolves with the path, or undefined and everything it tried (the caller words the error). */
export async function resolveBinary(
  spec: BinarySpec,
  opts: { env?: NodeJS.ProcessEnv; goInstall?: boolean; log?: (line: string) => void } = {},
): Promise<FoundBinary> {
  const env = opts.env ?? process.env;
  const found = findBinary(spec, env);
  if (found.path) return found;
  const tried = [...found.tried];
  if (opts.goInstall === false) return { tried };
  if (!findOnPath('go', env)) return { tried: [...tried, `go install ${spec.module} (go not on PATH)`] };
  try {
    return { path: await goInstallBinary(spec, env, opts.log), source: 'go install', tried };
  } catch (e) {
    return { tried: [...tried, `go install ${spec.module} (${(e as Error).message})`] };
  }
}
