/**
 * `runbook dev`: the dev server on a persistent SQLite file with the Web UI and the runbook search attributes, and a
 * worker beside it; Ctrl-C (SIGINT) stops both cleanly; a second start on the same database works (registering the
 * search attributes is idempotent).
 * Not on the shared fixture (test/support/e2e.ts): the server and worker under test are the ones `runbook dev` starts.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { Client, Connection } from '@temporalio/client';
import { assertNoSecretsInHistories } from '../support/history-scan';
import { CLI_MAIN } from '../support/temporal';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

interface Dev {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function startDev(stateDir: string, port: number, uiPort: number, taskQueue: string): Dev {
  const child = spawn(process.execPath, [CLI_MAIN, 'dev', '--state-dir', stateDir, '--port', String(port), '--ui-port', String(uiPort), '--task-queue', taskQueue], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

async function waitFor(what: string, ok: () => boolean | Promise<boolean>, dev: Dev, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; output:\n${dev.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('runbook dev: persistent database, UI, search attributes, a worker; SIGINT stops both; restart on the same db', async () => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'runbook-dev-'));
  const [port, uiPort] = [await freePort(), await freePort()];
  const taskQueue = `dev-test-${process.pid}`;
  try {
    for (const round of [1, 2]) {
      const dev = startDev(stateDir, port, uiPort, taskQueue);
      try {
        await waitFor('the worker to poll', () => dev.output().includes(`worker polling task queue "${taskQueue}"`), dev);
        expect(fs.existsSync(path.join(stateDir, 'temporal', 'dev.db'))).toBe(true);

        const connection = await Connection.connect({ address: `127.0.0.1:${port}` });
        try {
          const attrs = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
          expect(Object.keys(attrs.customAttributes ?? {})).toEqual(expect.arrayContaining(['RunbookCluster', 'RunbookKind', 'RunbookNode']));
          // A worker is polling the task queue.
          const client = new Client({ connection });
          const tq = await client.workflowService.describeTaskQueue({ namespace: 'default', taskQueue: { name: taskQueue }, taskQueueType: 1 });
          expect(tq.pollers?.length ?? 0).toBeGreaterThan(0);
        } finally {
          await connection.close();
        }
        const ui = await fetch(`http://127.0.0.1:${uiPort}/`);
        expect(ui.status).toBe(200);
        // Every test run ends with the secret scan of every history on its server (test/support/history-scan.ts).
        await assertNoSecretsInHistories({ address: `127.0.0.1:${port}` });
      } finally {
        dev.child.kill('SIGINT');
      }
      expect(await dev.exited).toBe(0);
      expect(dev.output()).toContain('dev server and worker stopped');
      // The server is gone with it.
      const stillUp = await new Promise<boolean>((resolve) => {
        const s = net.connect({ host: '127.0.0.1', port }, () => (s.destroy(), resolve(true)));
        s.on('error', () => resolve(false));
      });
      expect(stillUp).toBe(false);
      if (round === 2) expect(dev.output()).not.toMatch(/already exists/i);
    }
  } finally {
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}, 180_000);
