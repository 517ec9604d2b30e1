/**
 * Progress and cancellation of one remote command inside a Temporal activity. Outside an activity (CLI,
 * benchmarks) both are no-ops. Heartbeats also keep a silent command alive under a heartbeat timeout, so they
 * run on a timer rather than on output; and Temporal only delivers cancellation to activities that heartbeat.
 */
import { Context } from '@temporalio/activity';

export interface CommandProgress {
  node: string;
  bytes: number;
  lastLine: string;
}

const HEARTBEAT_EVERY_MS = 1000;
const LAST_LINE_MAX = 200;
/** Raw text kept for the last line; redaction runs on this before truncating, so no secret is cut in half. */
const LAST_LINE_KEEP = 4096;

function currentActivity(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined; // not inside an activity
  }
}

export class ProgressReporter {
  private readonly ctx = currentActivity();
  private timer?: NodeJS.Timeout;
  private bytes = 0;
  private lastLine = '';
  private partial = '';

  constructor(
    private readonly node: string,
    private readonly redact: (s: string) => string,
  ) {}

  /** The activity's cancellation signal, if any. */
  get signal(): AbortSignal | undefined {
    return this.ctx?.cancellationSignal;
  }

  start(): void {
    if (!this.ctx) return;
    this.beat();
    this.timer = setInterval(() => this.beat(), HEARTBEAT_EVERY_MS);
    this.timer.unref();
  }

  /** Count bytes moved; with text, also track the last complete non-empty line. */
  add(bytes: number, text?: string): void {
    this.bytes += bytes;
    if (text === undefined) return;
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop()!.slice(-LAST_LINE_KEEP);
    const last = lines.reverse().find((l) => l.trim() !== '');
    if (last !== undefined) this.lastLine = last.slice(-LAST_LINE_KEEP);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private beat(): void {
    const details: CommandProgress = { node: this.node, bytes: this.bytes, lastLine: this.redact(this.lastLine).slice(-LAST_LINE_MAX) };
    this.ctx?.heartbeat(details);
  }
}
