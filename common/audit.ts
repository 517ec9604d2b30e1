/** What activities return about the remote commands they ran: the audit trail in workflow history. */

/** Output tails kept in history are bounded. */
export const OUTPUT_TAIL_BYTES = 2048;

export interface CommandRecord {
  node: string;
  /** The command line as run, with secrets replaced by `<redacted>`. */
  command: string;
  exitCode: number | null;
  durationMs: number;
  stdoutTail: string;
  stderrTail: string;
  /** ISO time the command started (activity clock). */
  startedAt: string;
  /** A read-only probe (polling, state checks): kept for the audit without its output. */
  probe?: boolean;
  /** Consecutive identical probes with the same exit code are one record; this counts them (durationMs is their sum). */
  repeated?: number;
}

/** A file a runbook deleted, copied or rewrote on a node (for recovery audits). */
export interface FileChange {
  node: string;
  path: string;
  action: 'deleted' | 'copied' | 'rewritten' | 'created';
  size: number;
  sha256: string;
}

/**
 * The last `max` characters, cut at a line start when the window holds one: a line cut in half misleads an audit
 * (half a sha256 reads as another value) and half a hash looks like a join token to the history scan.
 */
export function tail(text: string, max = OUTPUT_TAIL_BYTES): string {
  if (text.length <= max) return text;
  const window = text.slice(text.length - max);
  const firstBreak = text[text.length - max - 1] === '\n' ? -1 : window.indexOf('\n');
  return `…${firstBreak >= 0 && firstBreak < window.length - 1 ? window.slice(firstBreak + 1) : window}`;
}
