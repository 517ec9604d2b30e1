/**
 * The one quoting function. Every value that reaches a remote shell passes through `shellQuote`,
 * usually by way of `command(...)`. Workflow-safe: pure string code.
 */

/** POSIX single-quote a value: the result is always exactly one shell word, whatever the input. */
export function shellQuote(value: string | number): string {
  const s = String(value);
  if (s.includes('\0')) throw new Error('a NUL byte cannot be passed to a remote shell');
  // Plain words need no quotes; keeping them bare makes audit lines readable. A bare `NAME=value` would be an
  // environment assignment in a command's first position (and to sudo), so that shape is always quoted.
  if (/^[A-Za-z0-9_./:=@%+,-]+$/.test(s) && !/^[A-Za-z_][A-Za-z0-9_]*=/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A quoted command line from argv. */
export function command(...argv: Array<string | number>): string {
  if (argv.length === 0) throw new Error('empty command');
  return argv.map(shellQuote).join(' ');
}

/** Join already-quoted command lines with `|`. */
export function pipeline(...lines: string[]): string {
  return lines.join(' | ');
}

/** Join already-quoted command lines with `&&`. */
export function andThen(...lines: string[]): string {
  return lines.join(' && ');
}

/** Characters that must never appear in an inventory value that reaches a shell, even quoted. */
export const SHELL_META = /[\s;&|`$(){}<>\\'"*?[\]!#~\n\r\0]/;
