/**
 * Worker metrics: `runbook worker --metrics <addr>` (and RUNBOOK_METRICS, as in docker-compose.yml) serves
 * Prometheus metrics from the Temporal runtime on /metrics, against a real dev server.
 */
import { spawn } from 'child_process';
import * as net from 'net';
import { useServerSuite } from '../support/e2e';
import { CLI_MAIN, REPO_ROOT } from '../support/temporal';

const suite = useServerSuite({ name: 'metrics' });

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

test('the worker serves Prometheus metrics on the address from RUNBOOK_METRICS, including its pollers', async () => {
  const port = await freePort();
  const taskQueue = `metrics-${Math.random().toString(36).slice(2, 8)}`;
  let logs = '';
  const worker = spawn(process.execPath, [CLI_MAIN, 'worker', '--task-queue', taskQueue, '--state-dir', suite.stateDir, '--log-level', 'WARN'], {
    cwd: REPO_ROOT,
    env: { ...process.env, TEMPORAL_ADDRESS: suite.env.address, TEMPORAL_CONFIG_FILE: '/nonexistent/temporal.toml', RUNBOOK_METRICS: `127.0.0.1:${port}` },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  // Stopped here if the test fails before it stops the worker itself.
  suite.defer(async () => {
    if (worker.exitCode === null) {
      worker.kill('SIGTERM');
      await new Promise((r) => worker.once('exit', r));
    }
  });
  worker.stderr!.on('data', (d: Buffer) => (logs += d.toString()));

  // Worker metrics appear once it polls (after bundling the workflows, a few seconds).
  const until = Date.now() + 60_000;
  let body = '';
  while (!new RegExp(`temporal_num_pollers\\{[^}]*task_queue="${taskQueue}`).test(body)) {
    if (Date.now() > until || worker.exitCode !== null) throw new Error(`no worker metrics on :${port}/metrics; worker log:\n${logs}\nlast body:\n${body.slice(0, 2000)}`);
    await new Promise((r) => setTimeout(r, 500));
    body = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => (r.ok ? r.text() : ''), () => '');
  }
  expect(body).toMatch(/^# TYPE temporal_\w+ (counter|gauge|histogram)$/m);
  expect(body).toMatch(/namespace="default"/);
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(res.headers.get('content-type')).toMatch(/text\/plain/);

  worker.kill('SIGTERM');
  const code = await new Promise<number | null>((r) => worker.once('exit', r));
  expect(code).toBe(0);
});
