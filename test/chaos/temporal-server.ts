/**
 * A Temporal dev server the chaos driver owns: started with the Temporal CLI on a fixed port and SQLite file, so
 * that it can be stopped and started again on the same port and database (createLocal picks a new port and db).
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { SEARCH_ATTRIBUTES } from '../../common/constants';
import { findTemporalCli } from '../../cli/temporal-cli';
import { portInUse } from '../../local/ports';
import { assertNoSecretsInHistories, type NamespaceScan } from '../support/history-scan';

export interface DevServer {
  readonly address: string;
  readonly dbFile: string;
  readonly restarts: number;
  /** Stop with `signal` (the db file stays), stay down `downMs`, then start again on the same port and file. */
  restart(signal?: NodeJS.Signals, downMs?: number): Promise<void>;
  /** The secret scan every test run ends with (test/support/history-scan.ts): call it before stop(). Never throws on findings. */
  scanHistories(): Promise<NamespaceScan & { error?: string }>;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}


async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
  });
}

export async function startDevServer(dir: string): Promise<DevServer> {
  const cli = findTemporalCli().path;
  if (!cli) throw new Error('the Temporal CLI is not installed; run `runbook temporal-cli --install`');
  const [port, httpPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const dbFile = path.join(dir, 'temporal.db');
  const log = path.join(dir, 'temporal-server.log');
  const args = [
    'server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(port), '--http-port', String(httpPort),
    '--metrics-port', String(metricsPort), '--db-filename', dbFile, '--log-level', 'error',
    ...SEARCH_ATTRIBUTES.flatMap((k) => ['--search-attribute', `${k.name}=Keyword`]),
  ];
  let child: ChildProcess;
  let restarts = 0;
  const launch = async () => {
    const out = fs.openSync(log, 'a');
    child = spawn(cli, args, { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    await until(`the dev server on 127.0.0.1:${port}`, () => portInUse(port), 30_000);
  };
  const halt = async (signal: NodeJS.Signals) => {
    const done = exited(child);
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await done;
    clearTimeout(timer);
  };
  await launch();
  return {
    address: `127.0.0.1:${port}`,
    dbFile,
    get restarts() {
      return restarts;
    },
    async restart(signal = 'SIGTERM', downMs = 0) {
      await halt(signal);
      if (downMs) await new Promise((r) => setTimeout(r, downMs));
      restarts++;
      await launch();
    },
    async scanHistories() {
      try {
        return await assertNoSecretsInHistories({ address: `127.0.0.1:${port}` });
      } catch (e) {
        return { findings: [], workflows: 0, events: 0, ms: 0, error: (e as Error).message };
      }
    },
    stop: () => halt('SIGTERM'),
  };
}
