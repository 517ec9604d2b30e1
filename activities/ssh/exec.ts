/**
 * Running one command on an open exec channel: stream output, enforce the timeout, honour cancellation, and
 * end the remote process group (remote-process.ts) before reporting a timeout or cancellation.
 */
import type { ClientChannel } from 'ssh2';
import type { Readable, Writable } from 'stream';
import { getMaxListeners, setMaxListeners } from 'events';
import { StringDecoder } from 'string_decoder';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { commandFailed, commandTimedOut, connectionFailed } from './failures';
import { exitStatusOf, type PooledConnection } from './connection';
import type { ProgressReporter } from './progress';
import { PidReportParser, signalGroupLine, withSudo } from './remote-process';

export interface ChannelRun {
  conn: PooledConnection;
  channel: ClientChannel;
  /** `k8s-1: <redacted command>`, for messages. */
  what: string;
  timeoutMs: number;
  /** The command runs as root, so ending it needs sudo too. */
  sudo: boolean;
  stdin?: string | Buffer;
  src?: Readable;
  dest?: Writable;
  progress: ProgressReporter;
}

export interface ChannelOutcome {
  exitCode: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
  /** Bytes of stdout (what `download` wrote to its destination). */
  bytes: number;
}

/** After TERM, how long the command gets to exit before KILL; after KILL, before the channel is closed by force;
 * after that, before the connection is dropped (sshd does not confirm closing a channel whose process lives on). */
const TERM_GRACE_MS = 3000;
const KILL_GRACE_MS = 2000;
const CLOSE_GRACE_MS = 2000;

/** Run `line` (without the PID wrapper) on the connection, with a bound on how long it may take. */
function runQuietly(conn: PooledConnection, line: string, limitMs: number): Promise<void> {
  return conn.exec(line, true).then(
    (ch) =>
      new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          ch.close();
          resolve();
        }, limitMs);
        ch.on('data', () => undefined);
        ch.stderr.on('data', () => undefined);
        ch.once('close', () => {
          clearTimeout(t);
          resolve();
        });
        ch.end();
      }),
    () => undefined, // connection gone: so is the process (sshd hangs up its sessions)
  );
}

function cancelledError(reason: unknown): Error {
  return reason instanceof Error ? reason : new CancelledFailure(typeof reason === 'string' ? reason : 'activity cancelled');
}

export function runOnChannel(r: ChannelRun): Promise<ChannelOutcome> {
  const { channel, progress } = r;
  return new Promise<ChannelOutcome>((resolve, reject) => {
    const outDecoder = new StringDecoder('utf8');
    const errDecoder = new StringDecoder('utf8');
    const pid = new PidReportParser();
    let stdout = '';
    let stderr = '';
    let bytes = 0;
    let exitCode: number | null = null;
    let signal: string | undefined;
    let stopReason: Error | undefined;
    let killing: Promise<void> | undefined;
    let closed = false;

    const signalGroup = (sig: 'TERM' | 'KILL') => {
      const line = signalGroupLine(pid.pgid!, sig);
      return runQuietly(r.conn, r.sudo ? withSudo(line) : line, 10_000);
    };
    let escalation: NodeJS.Timeout | undefined;
    let abandoned = false;
    const forceClose = () => {
      channel.close();
      escalation = setTimeout(() => {
        abandoned = true;
        r.conn.destroy();
      }, CLOSE_GRACE_MS);
    };
    /** TERM now, KILL after a grace period, then stop waiting for the channel. */
    const endGroup = () => {
      killing = signalGroup('TERM');
      escalation = setTimeout(() => {
        killing = signalGroup('KILL');
        escalation = setTimeout(forceClose, KILL_GRACE_MS);
      }, TERM_GRACE_MS);
    };

    const stop = (reason: Error) => {
      if (stopReason || closed) return;
      stopReason = reason;
      if (pid.pgid !== undefined) endGroup();
      // No PID report yet: it normally follows within milliseconds (see the stderr handler).
      else escalation = setTimeout(forceClose, TERM_GRACE_MS + KILL_GRACE_MS);
    };

    const timer = setTimeout(
      () => stop(commandTimedOut(`${r.what}: timed out after ${r.timeoutMs} ms; the remote process was ended`)),
      r.timeoutMs,
    );
    const abortSignal = progress.signal;
    const onAbort = () => stop(cancelledError(abortSignal?.reason));
    // One listener per command in flight: an activity that runs on many nodes at once would trip Node's leak warning at 11.
    if (abortSignal && getMaxListeners(abortSignal) < 256) setMaxListeners(256, abortSignal);
    abortSignal?.addEventListener('abort', onAbort);
    if (abortSignal?.aborted) onAbort();

    channel.on('data', (buf: Buffer) => {
      bytes += buf.length;
      if (r.dest) {
        progress.add(buf.length);
        if (!r.dest.write(buf)) {
          channel.pause();
          r.dest.once('drain', () => channel.resume());
        }
      } else {
        const text = outDecoder.write(buf);
        stdout += text;
        progress.add(buf.length, text);
      }
    });
    channel.stderr.on('data', (buf: Buffer) => {
      const text = pid.push(errDecoder.write(buf));
      stderr += text;
      progress.add(buf.length, text);
      if (stopReason && !killing && pid.pgid !== undefined) {
        if (escalation) clearTimeout(escalation);
        endGroup();
      }
    });

    r.dest?.on('error', (e) => stop(commandFailed(`${r.what}: writing the output failed: ${e.message}`)));
    if (r.src) {
      r.src.on('data', (chunk: Buffer | string) => progress.add(Buffer.byteLength(chunk)));
      r.src.on('error', (e) => stop(commandFailed(`${r.what}: reading the input failed: ${e.message}`)));
      r.src.pipe(channel);
    } else {
      channel.end(r.stdin);
    }

    channel.once('close', () => {
      closed = true;
      clearTimeout(timer);
      abortSignal?.removeEventListener('abort', onAbort);
      if (r.src) r.src.unpipe(channel);
      stdout += outDecoder.end();
      stderr += pid.push(errDecoder.end()) + pid.flush();
      if (escalation) clearTimeout(escalation);
      const finish = async () => {
        if (killing) {
          await killing;
          // Sweep what ignored TERM but no longer holds the output (the group ID cannot have been reused while
          // any member lives, and PIDs are allocated cyclically).
          await signalGroup('KILL');
        }
        if (r.dest) await endDestination(r.dest);
        if (stopReason && abandoned && stopReason instanceof ApplicationFailure) {
          throw ApplicationFailure.create({
            type: stopReason.type ?? undefined,
            message: `${stopReason.message.replace(/; the remote process was ended$/, '')}; the remote process could not be confirmed ended and may still run`,
          });
        }
        if (stopReason) throw stopReason;
        const status = exitStatusOf(channel);
        exitCode = status?.code ?? null;
        signal = status?.signal;
        if (exitCode === null && signal === undefined && r.conn.dead) {
          throw connectionFailed(`${r.what}: the SSH connection was lost while the command ran; it may or may not have finished`);
        }
        if (exitCode === null && signal === undefined) {
          // An unknown status must never read as success or failure: retry the (idempotent) step instead.
          throw connectionFailed(`${r.what}: the command ended without reporting an exit status; it may or may not have finished`);
        }
        return { exitCode, signal, stdout, stderr, bytes };
      };
      finish().then(resolve, reject);
    });
  });
}

function endDestination(dest: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    if (dest.writableFinished) return resolve();
    dest.once('error', reject);
    dest.end(() => resolve());
  });
}
