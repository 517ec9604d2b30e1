/** Exec over a real sshd: output, exit codes, stdin, timeouts, cancellation, sudo, redaction, streams. */
import { createHash, randomBytes } from 'crypto';
import { execFileSync } from 'child_process';
import { getEventListeners, getMaxListeners } from 'events';
import * as fs from 'fs';
import * as path from 'path';
import { PassThrough, Readable } from 'stream';
import { MockActivityEnvironment } from '@temporalio/testing';
import { command } from '../../common/shell';
import { FailureType } from '../../common/constants';
import { SshPool, type NodeSession } from '../../activities/ssh';
import type { CommandProgress } from '../../activities/ssh/progress';
import { failureOf, SshdFixture, type TestSshd } from './fixture';

const fx = new SshdFixture();
const pool = new SshPool();
let sshd: TestSshd;
let sh: NodeSession;

function processesMatching(marker: string): string {
  try {
    return execFileSync('pgrep', ['-af', marker], { encoding: 'utf8' }).trim();
  } catch {
    return ''; // pgrep exits 1 when nothing matches
  }
}

/** A `sleep` with a unique duration, so pgrep finds exactly this process. */
function uniqueSleep(): { line: string; marker: string } {
  const line = `sleep ${300_000 + randomBytes(3).readUIntBE(0, 3)}`;
  return { marker: `^${line}$`, line };
}

beforeAll(async () => {
  sshd = await fx.start('exec-node');
  fx.trust(sshd);
  sh = pool.session(fx.node(sshd), { knownHosts: fx.knownHosts, hostKeyPolicy: 'strict' });
});

afterAll(async () => {
  fx.cleanup();
  await pool.close();
});

test('returns stdout, stderr and a non-zero exit without throwing', async () => {
  const r = await sh.run('echo out; echo err >&2; exit 3');
  expect(r).toMatchObject({ exitCode: 3, stdout: 'out\n', stderr: 'err\n' });
});

test('the PID report never shows in stderr', async () => {
  const r = await sh.run(command('printf', 'a\\nb'));
  expect(r.stderr).toBe('');
  expect(r.stdout).toBe('a\nb');
});

test('feeds stdin and gives commands reading stdin EOF otherwise', async () => {
  expect((await sh.run('cat', { stdin: 'hello\n' })).stdout).toBe('hello\n');
  expect((await sh.run('cat')).stdout).toBe('');
});

test('check throws a retryable CommandFailed naming node, command and stderr', async () => {
  const err = await failureOf(sh.check(`${command('ls', '/no/such/dir')}`));
  expect(err.type).toBe(FailureType.CommandFailed);
  expect(err.nonRetryable).toBeFalsy();
  expect(err.message).toContain('exec-node');
  expect(err.message).toContain('ls /no/such/dir');
  expect(err.message).toMatch(/No such file or directory/);
});

test('a timeout ends the remote process and throws a retryable CommandTimedOut', async () => {
  const { line, marker } = uniqueSleep();
  const started = Date.now();
  const err = await failureOf(sh.run(line, { timeoutMs: 500 }));
  expect(err.type).toBe(FailureType.CommandTimedOut);
  expect(err.nonRetryable).toBeFalsy();
  expect(Date.now() - started).toBeLessThan(10_000);
  expect(processesMatching(marker)).toBe('');
});

test('a timeout ends every process of a pipeline', async () => {
  const a = uniqueSleep();
  const b = uniqueSleep();
  const err = await failureOf(sh.run(`(${a.line}) | (${b.line})`, { timeoutMs: 500 }));
  expect(err.type).toBe(FailureType.CommandTimedOut);
  expect(processesMatching(a.marker)).toBe('');
  expect(processesMatching(b.marker)).toBe('');
});

test('a command that ignores TERM is killed after the grace period', async () => {
  const { line, marker } = uniqueSleep();
  const err = await failureOf(sh.run(`trap '' TERM; ${line}; echo survived`, { timeoutMs: 300 }));
  expect(err.type).toBe(FailureType.CommandTimedOut);
  expect(processesMatching(marker)).toBe('');
});

test('cancelling the activity ends the remote process, after heartbeats carried progress', async () => {
  const env = new MockActivityEnvironment();
  const beats: CommandProgress[] = [];
  env.on('heartbeat', (d: CommandProgress) => beats.push(d));
  const { line, marker } = uniqueSleep();
  const running = env.run(() => sh.run(`echo step-one; echo token-s3cret; ${line}`, { redact: ['s3cret'] }));
  // Wait for the remote process and a heartbeat that saw its output.
  for (let i = 0; i < 100 && !(processesMatching(marker) && beats.some((b) => b.bytes > 0)); i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(processesMatching(marker)).not.toBe('');
  await new Promise((r) => setTimeout(r, 1200)); // one more timer heartbeat
  env.cancel();
  const err = await failureOf(running);
  expect(err.name).toBe('CancelledFailure');
  expect(processesMatching(marker)).toBe('');
  expect(beats.length).toBeGreaterThanOrEqual(2);
  const last = beats[beats.length - 1];
  expect(last).toMatchObject({ node: 'exec-node', lastLine: 'token-<redacted>' });
  expect(last.bytes).toBeGreaterThan(0);
  expect(JSON.stringify(beats)).not.toContain('s3cret');
});

test('many commands at once in one activity: all run, and the shared cancel signal allows their listeners without a leak warning', async () => {
  // Two nodes, as an activity probing a whole cluster does (one connection serves at most 8 commands at once).
  const other = await fx.start('exec-node-2');
  fx.trust(other);
  const sh2 = pool.session(fx.node(other), { knownHosts: fx.knownHosts, hostKeyPolicy: 'strict' });
  const env = new MockActivityEnvironment();
  const signal = env.context.cancellationSignal;
  let peak = 0;
  const outs = await env.run(async (): Promise<Array<{ stdout: string }>> => {
    const runs = Array.from({ length: 16 }, (_, i) => (i % 2 ? sh2 : sh).run(`echo n${i}; sleep 1.5`));
    // The highest count while they run: under load the second connection may open a moment later than the first.
    let settled = false;
    const all = Promise.all(runs).finally(() => (settled = true));
    while (!settled) {
      peak = Math.max(peak, getEventListeners(signal, 'abort').length);
      await new Promise((r) => setTimeout(r, 20));
    }
    return all;
  });
  expect(outs.map((o) => o.stdout)).toEqual(Array.from({ length: 16 }, (_, i) => `n${i}\n`));
  // Node warns (MaxListenersExceededWarning) once listeners exceed the limit; jest's sandbox cannot observe that
  // warning, so the test checks the condition itself.
  expect(peak).toBeGreaterThan(10);
  expect(getMaxListeners(signal)).toBeGreaterThanOrEqual(peak);
});

test('outside an activity nothing heartbeats and commands still run', async () => {
  expect((await sh.run('echo plain')).stdout).toBe('plain\n');
});

test('sudo: "sudo -n" exactly for the commands that need root (privilege.ts), and only when the node becomes root by sudo', async () => {
  const log = path.join(fx.dir, 'sudo.log');
  const file = path.join(fx.dir, 'backend-file');
  fs.writeFileSync(file, 'a\n');
  // A stand-in sudo on the node's PATH that logs its argv and runs the rest.
  fs.writeFileSync(path.join(fx.binDir, 'sudo'), `#!/bin/sh\necho "$*" >> ${log}\n[ "$1" = -n ] && shift\nexec "$@"\n`, { mode: 0o755 });
  const asSudo = pool.session(fx.node(sshd, { become: 'sudo' }), { knownHosts: fx.knownHosts, hostKeyPolicy: 'strict' });
  // `cat` of MicroK8s' data needs root; a pipeline with one root command runs as root as a whole; `echo` does not.
  expect((await asSudo.run(command('cat', file))).stdout).toBe('a\n');
  expect((await asSudo.run(`${command('cat', file)} | tr a b`)).stdout).toBe('b\n');
  expect((await asSudo.run(command('echo', 'plain'))).stdout).toBe('plain\n');
  expect((await sh.run(command('cat', file))).stdout).toBe('a\n'); // become: none
  expect(fs.readFileSync(log, 'utf8').split('\n').filter(Boolean)).toEqual([`-n cat ${file}`, `-n sh -c cat ${file} | tr a b`]);
  expect(asSudo.records.map((r) => r.command)).toEqual([`sudo -n cat ${file}`, `sudo -n sh -c 'cat ${file} | tr a b'`, 'echo plain']);
});

test('records every command (probes folded, without output), with secrets redacted in records and errors', async () => {
  const s = pool.session(fx.node(sshd), { knownHosts: fx.knownHosts, hostKeyPolicy: 'strict' });
  const secret = 'tok-9f8e7d6c5b4a';
  await s.run(command('echo', secret), { redact: [secret] });
  await s.run('echo probe', { quiet: true });
  await s.run('echo probe', { quiet: true });
  const err = await failureOf(s.check(`echo ${secret} >&2; exit 1`, { redact: [secret] }));
  expect(err.message).not.toContain(secret);
  expect(err.message).toContain('<redacted>');
  expect(s.records).toHaveLength(3);
  expect(s.records[0]).toMatchObject({ node: 'exec-node', command: 'echo <redacted>', exitCode: 0, stdoutTail: '<redacted>\n' });
  // Two identical probes with the same exit code: one record, counted, output left out.
  expect(s.records[1]).toMatchObject({ command: 'echo probe', exitCode: 0, probe: true, repeated: 2, stdoutTail: '' });
  expect(s.records[2]).toMatchObject({ exitCode: 1, stderrTail: '<redacted>\n' });
  expect(JSON.stringify(s.records)).not.toContain(secret);
  expect(new Date(s.records[0].startedAt).getTime()).toBeGreaterThan(Date.now() - 60_000);
});

test('records keep only a bounded tail of big outputs', async () => {
  const s = pool.session(fx.node(sshd), { knownHosts: fx.knownHosts, hostKeyPolicy: 'strict' });
  const r = await s.run('head -c 100000 /dev/zero | tr "\\0" x');
  expect(r.stdout).toHaveLength(100000);
  expect(s.records[0].stdoutTail.length).toBeLessThanOrEqual(2049);
});

test('download and upload stream bytes exactly (sha256)', async () => {
  const data = randomBytes(3 * 1024 * 1024 + 17);
  const sha = createHash('sha256').update(data).digest('hex');
  const remote = path.join(fx.dir, 'uploaded.bin');
  await sh.upload(`cat > ${command(remote)}`, Readable.from([data.subarray(0, 1000), data.subarray(1000)]));
  expect(createHash('sha256').update(fs.readFileSync(remote)).digest('hex')).toBe(sha);

  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (c: Buffer) => chunks.push(c));
  const r = await sh.download(command('cat', remote), sink);
  expect(r.exitCode).toBe(0);
  expect(r.bytes).toBe(data.length);
  expect(createHash('sha256').update(Buffer.concat(chunks)).digest('hex')).toBe(sha);
});

test('invalid input is refused non-retryably before anything runs', async () => {
  const err = await failureOf(sh.run('  '));
  expect(err).toMatchObject({ type: FailureType.InvalidInput, nonRetryable: true });
  expect((await failureOf(sh.run('true', { timeoutMs: -1 }))).type).toBe(FailureType.InvalidInput);
});
