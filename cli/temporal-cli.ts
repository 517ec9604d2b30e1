/**
 * Finds (or builds) the Temporal CLI that runs the dev server, in this order:
 *   1. $TEMPORAL_CLI_PATH
 *   2. `temporal` on PATH
 *   3. the project cache, `~/.cache/microk8s-runbooks/bin/temporal` (`$RUNBOOK_CACHE_DIR` overrides the cache dir)
 *   4. `go install github.com/temporalio/cli/cmd/temporal@v1.5.1` into the cache (only when `go` exists; minutes)
 *   5. the SDK's own download (`executable: { type: 'cached-download' }`), which needs the internet
 * Steps 1–4 are local/binaries.ts, shared with `runbook stack`'s server, SQL tool and UI server.
 * The result plugs into `TestWorkflowEnvironment.createLocal({ server: { executable } })`.
 */
import type { EphemeralServerExecutable } from '@temporalio/testing/lib/ephemeral-server';
import { cacheBinDir, cacheDir, findBinary, resolveBinary, type BinarySpec } from '../local/binaries';
import { TEMPORAL_CLI_VERSION as CLI_VERSION } from '../common/temporal-versions';

export const TEMPORAL_CLI_VERSION = `v${CLI_VERSION}`;
export const TEMPORAL_CLI_MODULE = `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`;
const TEMPORAL_CLI: BinarySpec = { name: 'temporal', envVar: 'TEMPORAL_CLI_PATH', module: TEMPORAL_CLI_MODULE };

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

/** Steps 1–3: no building, no network. */
export function findTemporalCli(env: NodeJS.ProcessEnv = process.env): { path?: string; source?: TemporalCliSource; tried: string[] } {
  const found = findBinary(TEMPORAL_CLI, env);
  return { ...found, source: found.source as TemporalCliSource | undefined };
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
    const built = await resolveBinary(TEMPORAL_CLI, { env, log: opts.log });
    tried.push(...built.tried.slice(found.tried.length));
    if (built.path) return { executable: { type: 'existing-path', path: built.path }, source: 'go install', path: built.path, tried };
  }
  if (opts.sdkDownload !== false) {
    tried.push('the SDK download (needs the internet; fails when the server starts if offline)');
    return { executable: { type: 'cached-download', downloadDir: cacheDir(env) }, source: 'sdk download', tried };
  }
  throw new TemporalCliNotFound(tried, env);
}
