/**
 * The local Temporal dev server behind `runbook dev` and `runbook demo`: persistent SQLite under the state
 * directory, Web UI on 8233, gRPC on 7233. Search attributes are registered after start (idempotent on an
 * existing database) rather than with `--search-attribute`.
 */
import * as fs from 'fs';
import * as path from 'path';
import { readLocalFileSync } from '../local/files';
import { portInUse } from '../local/ports';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { registerSearchAttributes } from '../local/search-attributes';
import { resolveTemporalCli } from './temporal-cli';

export interface DevServerOptions {
  stateDir: string;
  port: number;
  uiPort: number;
  /** `runbook codec-server`'s URL, so the UI shows encrypted payloads in plaintext. */
  uiCodecEndpoint?: string;
  say: (line: string) => void;
}

/** Where `runbook dev` records its UI address, so other `runbook` commands link to the right port. */
export function devUiFile(stateDir: string): string {
  return path.join(stateDir, 'temporal', 'dev-ui.json');
}

/** The dev server's UI base URL when `address` is the dev server `runbook dev` runs from this state dir. */
export function devUiUrl(stateDir: string, address: string | undefined): string | undefined {
  try {
    const rec = JSON.parse(readLocalFileSync(devUiFile(stateDir), 'config file').data.toString('utf8')) as { address?: string; ui?: string };
    const norm = (a: string | undefined) => (a ?? '').replace(/^localhost:/, '127.0.0.1:');
    return rec.ui && /^https?:\/\/[^\s]+$/.test(rec.ui) && norm(rec.address) === norm(address) ? rec.ui : undefined;
  } catch {
    return undefined;
  }
}

export function devDbFile(stateDir: string): string {
  return path.join(stateDir, 'temporal', 'dev.db');
}

export async function startDevServer(o: DevServerOptions): Promise<TestWorkflowEnvironment> {
  if (await portInUse(o.port)) {
    throw new Error(`port ${o.port} is in use (another "runbook dev"?); stop it or pass --port`);
  }
  const cli = await resolveTemporalCli({ log: o.say });
  const dbFilename = devDbFile(o.stateDir);
  fs.mkdirSync(path.dirname(dbFilename), { recursive: true });
  o.say(`starting Temporal dev server (${cli.path ?? 'SDK download'}) on 127.0.0.1:${o.port}, database ${dbFilename}`);
  // Loaded here, not at the top: every other CLI command starts faster without the SDK's native parts.
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: cli.executable,
      port: o.port,
      ui: true,
      uiPort: o.uiPort,
      dbFilename,
      ...(o.uiCodecEndpoint ? { extraArgs: ['--ui-codec-endpoint', o.uiCodecEndpoint] } : {}),
    },
  });
  const sa = await registerSearchAttributes(env.nativeConnection, env.namespace ?? 'default');
  if ('skipped' in sa) o.say(`search attributes: ${sa.skipped}`);
  return env;
}
