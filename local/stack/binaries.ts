/**
 * The stack's Go binaries, found like the Temporal CLI (local/binaries.ts): environment variable, PATH, the cache,
 * else `go install` of the pinned release. The SQL tool has the schemas embedded (`--schema-name
 * postgresql/v12/temporal`), so a fresh machine needs no Go module cache to set up the database.
 */
import { TEMPORAL_SERVER_VERSION, TEMPORAL_UI_VERSION } from '../../common/temporal-versions';
import { cacheBinDir, findBinary, resolveBinary, type BinarySpec } from '../binaries';

export const STACK_BINARIES = {
  server: { name: 'temporal-server', envVar: 'TEMPORAL_SERVER_PATH', module: `go.temporal.io/server/cmd/server@v${TEMPORAL_SERVER_VERSION}` },
  sqlTool: { name: 'temporal-sql-tool', envVar: 'TEMPORAL_SQL_TOOL_PATH', module: `go.temporal.io/server/cmd/tools/sql@v${TEMPORAL_SERVER_VERSION}` },
  uiServer: { name: 'temporal-ui-server', envVar: 'TEMPORAL_UI_SERVER_PATH', module: `github.com/temporalio/ui-server/v2/cmd/server@v${TEMPORAL_UI_VERSION}` },
} as const satisfies Record<string, BinarySpec>;

export type StackBinary = keyof typeof STACK_BINARIES;
export type StackBinaryPaths = Record<StackBinary, string>;

/** A binary the stack needs and could not find or build; the message lists what was tried and the fix. */
export class StackBinaryNotFound extends Error {
  constructor(spec: BinarySpec, tried: string[], env: NodeJS.ProcessEnv = process.env) {
    super(
      [
        `${spec.name} not found. Tried:`,
        ...tried.map((t) => `  - ${t}`),
        `Fix: set ${spec.envVar} to the binary, put "${spec.name}" on PATH, or install Go >= 1.25 and run`,
        `     runbook stack binaries --install   (go install ${spec.module}, into ${cacheBinDir(env)})`,
      ].join('\n'),
    );
    this.name = 'StackBinaryNotFound';
  }
}

/** Every stack binary; builds the missing ones with `go install` when `install` is set, else throws on the first. */
export async function stackBinaries(
  opts: { install?: boolean; env?: NodeJS.ProcessEnv; log?: (line: string) => void } = {},
): Promise<StackBinaryPaths> {
  const env = opts.env ?? process.env;
  const out: Partial<StackBinaryPaths> = {};
  // One at a time: each go install takes most of two cores for minutes.
  for (const [key, spec] of Object.entries(STACK_BINARIES) as Array<[StackBinary, BinarySpec]>) {
    const found = opts.install ? await resolveBinary(spec, { env, log: opts.log }) : findBinary(spec, env);
    if (!found.path) throw new StackBinaryNotFound(spec, found.tried, env);
    out[key] = found.path;
  }
  return out as StackBinaryPaths;
}
