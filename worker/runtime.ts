/**
 * The one Temporal Runtime of a process: logger and metrics. `Runtime.install` must run before any Worker or
 * NativeConnection exists, and only once, so every entry point (worker, dev, tests) calls `installRuntime` first.
 */
import { DefaultLogger, LogLevel, Runtime, type LogEntry } from '@temporalio/worker';

export interface RuntimeSettings {
  level?: LogLevel;
  /** One JSON object per line (the worker's structured logs); otherwise the SDK's text format. */
  json?: boolean;
  /** Prometheus scrape address, e.g. ":9464" or "127.0.0.1:9464". */
  metricsAddress?: string;
  /** Signals that start a graceful worker shutdown (the SDK default covers SIGINT/SIGTERM). */
  shutdownSignals?: NodeJS.Signals[];
}

let installed = false;

/** A log line for machines: time, level, message and the SDK's metadata (workflow and activity ids). */
export function jsonLogLine(entry: LogEntry): string {
  const { timestampNanos, level, message, meta } = entry;
  return JSON.stringify({
    time: new Date(Number(timestampNanos / 1_000_000n)).toISOString(),
    level,
    msg: message,
    ...meta,
  }, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
}

/** `:9464` → `0.0.0.0:9464`; a bare port is accepted too. */
export function metricsBindAddress(address: string): string {
  if (/^\d+$/.test(address)) return `0.0.0.0:${address}`;
  if (address.startsWith(':')) return `0.0.0.0${address}`;
  return address;
}

/** Install the Runtime once per process. Later calls are no-ops (tests may call it per file). */
export function installRuntime(settings: RuntimeSettings = {}): void {
  if (installed) return;
  installed = true;
  const level = settings.level ?? 'INFO';
  const logger = settings.json
    ? new DefaultLogger(level, (entry) => process.stderr.write(`${jsonLogLine(entry)}\n`))
    : new DefaultLogger(level);
  try {
    Runtime.install({
      logger,
      shutdownSignals: settings.shutdownSignals,
      telemetryOptions: settings.metricsAddress
        ? { metrics: { prometheus: { bindAddress: metricsBindAddress(settings.metricsAddress) } } }
        : undefined,
    });
  } catch (e) {
    // Already instantiated by someone else in this process (e.g. a test helper): keep theirs.
    if (!/already instantiated/i.test((e as Error).message)) throw e;
  }
}
