/**
 * The worker side of the file rules: an inventory that reaches a worker without the CLI (a client of its own, or
 * RUNBOOK_SKIP_KEY_CHECK=1) still cannot freeze or bloat the shared worker. Opening the connection fails fast,
 * non-retryably, while the event loop keeps turning (every other cluster's runbook on the worker goes on).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ApplicationFailure } from '@temporalio/common';
import { openConnection } from '../../activities/ssh/connect';
import { resolveInventory } from '../../common/inventory';

let dir: string;
let fifo: string;
let key: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'worker-files-'));
  fifo = path.join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  key = path.join(dir, 'id');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function node(identityFile: string) {
  return resolveInventory({ cluster: 'wf', nodes: [{ name: 'k8s-1', address: '127.0.9.1', port: 1, identityFile }] }).nodes[0];
}

/** Run `fn`, counting event-loop ticks of a 10 ms interval meanwhile. */
async function ticking<T>(fn: () => Promise<T>): Promise<{ outcome: T | unknown; ticks: number; ms: number; rssGrowth: number }> {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 10);
  const rss = process.memoryUsage().rss;
  const t0 = Date.now();
  const outcome = await fn().catch((e: unknown) => e);
  clearInterval(timer);
  return { outcome, ticks, ms: Date.now() - t0, rssGrowth: process.memoryUsage().rss - rss };
}

test.each<[string, () => { knownHosts: string; identityFile: string }, RegExp]>([
  ['knownHosts is a FIFO', () => ({ knownHosts: fifo, identityFile: key }), /knownHosts: known_hosts file .*: is a FIFO \(named pipe\); it must be a regular file/],
  ['knownHosts is /dev/zero', () => ({ knownHosts: '/dev/zero', identityFile: key }), /knownHosts: .*is a character device/],
  ['identityFile is a FIFO', () => ({ knownHosts: path.join(dir, 'kh'), identityFile: fifo }), /identityFile: identity file .*: is a FIFO/],
  ['identityFile is /dev/zero', () => ({ knownHosts: path.join(dir, 'kh'), identityFile: '/dev/zero' }), /identityFile: .*is a character device/],
  ['identityFile is relative', () => ({ knownHosts: path.join(dir, 'kh'), identityFile: 'keys/id' }), /identityFile "keys\/id" is relative/],
])('%s: a non-retryable InvalidInput at once, the event loop never blocked', async (_name, files, message) => {
  const { knownHosts, identityFile } = files();
  const r = await ticking(() => openConnection(node(identityFile), { knownHosts, hostKeyPolicy: 'strict' }, { connectTimeoutMs: 2000, keepaliveIntervalMs: 1000 }));
  expect(r.outcome).toBeInstanceOf(ApplicationFailure);
  const failure = r.outcome as ApplicationFailure;
  expect(failure.type).toBe('InvalidInput');
  expect(failure.nonRetryable).toBe(true);
  expect(failure.message).toMatch(message);
  expect(r.ms).toBeLessThan(1000);
  // A blocked loop would show no tick during the call; /dev/zero read whole would grow the heap by gigabytes.
  expect(r.ticks).toBeGreaterThanOrEqual(Math.floor(r.ms / 10) - 5);
  expect(r.rssGrowth).toBeLessThan(64 * 1024 * 1024);
});
