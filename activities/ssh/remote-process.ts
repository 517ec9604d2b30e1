/**
 * How a command runs on the node so it can be ended for sure. OpenSSH makes the shell of every exec session a
 * session and process-group leader (sshd calls setsid), and `channel.signal()` is ignored for non-pty sessions.
 * So the shell first reports its PID (= the group ID) on stderr, then `exec`s the command line under `sh -c`;
 * every process of the command stays in that group, and ending it is a separate `kill -- -<pgid>` over the same
 * connection. The builders and the parser of the PID report live side by side here.
 */
import { command, shellQuote } from '../../common/shell';

const PID_PREFIX = '__runbook_pgid=';
/** The report line on stderr, before any output of the command. */
const PID_LINE = new RegExp(`(^|\\n)${PID_PREFIX}(\\d+)\\n`);

/** The line actually sent to sshd: report the group ID, then become the command. */
export function wrapForKill(commandLine: string): string {
  return `${command('printf', `${PID_PREFIX}%s\\n`)} "$$" >&2; exec ${command('sh', '-c', commandLine)}`;
}

/**
 * Scans the start of stderr for the PID report and removes it. Feed chunks until `pgid` is set; after that,
 * `push` passes data through untouched.
 */
export class PidReportParser {
  pgid?: number;
  private pending = '';
  private done = false;

  /** Returns the stderr text that belongs to the command. */
  push(chunk: string): string {
    if (this.done) return chunk;
    this.pending += chunk;
    const m = PID_LINE.exec(this.pending);
    if (m) {
      this.pgid = Number(m[2]);
      this.done = true;
      const out = this.pending.slice(0, m.index + m[1].length) + this.pending.slice(m.index + m[0].length);
      this.pending = '';
      return out;
    }
    // Startup files may print first; hold back only what could still become the report line.
    if (this.pending.length > 64 * 1024) {
      this.done = true;
      const out = this.pending;
      this.pending = '';
      return out;
    }
    const lastNl = this.pending.lastIndexOf('\n');
    if (lastNl < 0) return '';
    const out = this.pending.slice(0, lastNl);
    this.pending = this.pending.slice(lastNl);
    return out;
  }

  /** Whatever is still held back when the stream ends. */
  flush(): string {
    const out = this.pending;
    this.pending = '';
    this.done = true;
    return out;
  }
}

/**
 * Signal the command's process group (falling back to the PID should the group be gone). Always exits 0:
 * a group that already ended is the goal, not an error. Waiting is done by the caller, on the command's
 * channel: it closes once the last process holding its output has exited (polling `kill -0` would also see
 * zombies that a slow init has not reaped yet).
 */
export function signalGroupLine(pgid: number, signal: 'TERM' | 'KILL'): string {
  if (!Number.isInteger(pgid) || pgid <= 1) throw new Error(`refusing to signal process group ${pgid}`);
  return `kill -${signal} -- ${shellQuote(`-${pgid}`)} 2>/dev/null || kill -${signal} ${shellQuote(pgid)} 2>/dev/null; exit 0`;
}

/** Is the line one simple command (no operators outside single quotes)? Then `sudo -n` can prefix it as is. */
function isSimpleCommand(line: string): boolean {
  let quoted = false;
  for (const ch of line) {
    if (ch === "'") quoted = !quoted;
    else if (!quoted && /[|&;<>()`$\n\\"]/.test(ch)) return false;
  }
  return !quoted;
}

/** `sudo -n <cmd>` for a simple command; `sudo -n sh -c '<line>'` so a pipeline or list runs as root as a whole. */
export function withSudo(line: string): string {
  return isSimpleCommand(line) ? `sudo -n ${line}` : `sudo -n ${command('sh', '-c', line)}`;
}
