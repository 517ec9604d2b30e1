/**
 * NodeSession: the commands of one activity on one node, over the pool's shared connection, with the audit
 * trail (`records`) the activity returns. Secrets in `redact` never reach records, heartbeats or errors;
 * the returned ExecResult keeps the real output, since the activity may need it (e.g. a join token).
 */
import { performance } from 'perf_hooks';
import type { Readable, Writable } from 'stream';
import { ApplicationFailure } from '@temporalio/common';
import { tail, type CommandRecord } from '../../common/audit';
import type { NodeSpec } from '../../common/inventory';
import { runOnChannel } from './exec';
import { commandFailed, invalidInput, redactor } from './failures';
import { ProgressReporter } from './progress';
import { runsAsRoot } from './privilege';
import { withSudo, wrapForKill } from './remote-process';
import type { ChannelOpener, ExecResult, NodeSession, RunOptions, TrustSettings } from './types';

export const DEFAULT_TIMEOUT_MS = 120_000;

/** The line as `node`'s shell runs it: prefixed with `sudo -n` exactly when the command needs root (activities/ssh/privilege.ts). */
export function asRunOn(node: Pick<NodeSpec, 'become'>, commandLine: string): string {
  return node.become === 'sudo' && runsAsRoot(commandLine) ? withSudo(commandLine) : commandLine;
}

/** How much stderr a CommandFailed message quotes. */
const ERROR_TAIL = 1024;

interface Streams {
  src?: Readable;
  dest?: Writable;
}

export class NodeSessionImpl implements NodeSession {
  readonly records: CommandRecord[] = [];

  constructor(
    readonly node: NodeSpec,
    private readonly trust: TrustSettings,
    private readonly pool: ChannelOpener,
  ) {}

  async run(commandLine: string, opts: RunOptions = {}): Promise<ExecResult> {
    const { bytes: _bytes, ...result } = await this.execute(commandLine, opts, {});
    return result;
  }

  async check(commandLine: string, opts: RunOptions = {}): Promise<ExecResult> {
    const result = await this.run(commandLine, opts);
    if (result.exitCode !== 0) {
      const redact = redactor(opts.redact);
      const why = result.exitCode === null ? `was killed by ${result.signal ?? 'a signal'}` : `exited with ${result.exitCode}`;
      const output = result.stderr.trim() ? `stderr: ${tail(result.stderr.trim(), ERROR_TAIL)}` : `stdout: ${tail(result.stdout.trim(), ERROR_TAIL)}`;
      throw commandFailed(redact(`${this.node.name}: command ${why}: ${this.asRun(commandLine)}\n${output}`), {
        commands: this.records,
      });
    }
    return result;
  }

  download(commandLine: string, dest: Writable, opts: RunOptions = {}): Promise<ExecResult & { bytes: number }> {
    return this.execute(commandLine, opts, { dest });
  }

  async upload(commandLine: string, src: Readable, opts: RunOptions = {}): Promise<ExecResult> {
    const { bytes: _bytes, ...result } = await this.execute(commandLine, opts, { src });
    return result;
  }

  /** The line as the node's shell runs it: through `sudo -n` when it needs root (privilege.ts) and the node becomes root by sudo. */
  private asRun(commandLine: string): string {
    return asRunOn(this.node, commandLine);
  }

  private validate(commandLine: string, opts: RunOptions): void {
    if (typeof commandLine !== 'string' || commandLine.trim() === '') throw invalidInput(`${this.node.name}: empty command line`);
    if (commandLine.includes('\0')) throw invalidInput(`${this.node.name}: a command line cannot contain a NUL byte`);
    const t = opts.timeoutMs;
    if (t !== undefined && !(Number.isFinite(t) && t > 0)) throw invalidInput(`${this.node.name}: timeoutMs must be a positive number of milliseconds, got ${t}`);
  }

  private async execute(commandLine: string, opts: RunOptions, streams: Streams): Promise<ExecResult & { bytes: number }> {
    this.validate(commandLine, opts);
    const redact = redactor(opts.redact);
    const line = this.asRun(commandLine);
    const shown = redact(line);
    const startedAt = new Date();
    const t0 = performance.now();
    const progress = new ProgressReporter(this.node.name, redact);
    const record = (exitCode: number | null, stdout: string, stderr: string) => {
      if (opts.quiet) {
        const durationMs = Math.round(performance.now() - t0);
        const last = this.records[this.records.length - 1];
        if (last?.probe && last.command === shown && last.exitCode === exitCode) {
          last.repeated = (last.repeated ?? 1) + 1;
          last.durationMs += durationMs;
          return;
        }
        this.records.push({
          node: this.node.name,
          command: shown,
          exitCode,
          durationMs,
          stdoutTail: '',
          stderrTail: exitCode === 0 ? '' : redact(tail(stderr, 256)),
          startedAt: startedAt.toISOString(),
          probe: true,
        });
        return;
      }
      this.records.push({
        node: this.node.name,
        command: shown,
        exitCode,
        durationMs: Math.round(performance.now() - t0),
        stdoutTail: redact(tail(stdout)),
        stderrTail: redact(tail(stderr)),
        startedAt: startedAt.toISOString(),
      });
    };
    progress.start();
    try {
      const { conn, channel } = await this.pool.openChannel(this.node, this.trust, wrapForKill(line));
      const out = await runOnChannel({
        conn,
        channel,
        what: `${this.node.name}: ${shown}`,
        timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        sudo: line !== commandLine,
        stdin: opts.stdin,
        src: streams.src,
        dest: streams.dest,
        progress,
      });
      record(out.exitCode, out.stdout, out.stderr);
      return { ...out, durationMs: Math.round(performance.now() - t0) };
    } catch (e) {
      record(null, '', e instanceof Error ? e.message : String(e));
      throw scrub(e, redact);
    } finally {
      progress.stop();
    }
  }
}

/** Errors leave the layer redacted: messages may quote the command line. */
function scrub(e: unknown, redact: (s: string) => string): unknown {
  if (e instanceof ApplicationFailure) {
    const message = redact(e.message);
    if (message === e.message) return e;
    return ApplicationFailure.create({ message, type: e.type ?? undefined, nonRetryable: e.nonRetryable ?? undefined });
  }
  if (e instanceof Error) e.message = redact(e.message);
  return e;
}
