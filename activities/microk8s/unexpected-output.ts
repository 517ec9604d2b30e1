/**
 * Thrown by a parser when a command's output matches none of the variants the behaviour reference lists.
 * Activities let it propagate (Temporal records the type `UnexpectedOutput`); the excerpt shows what came back.
 * The outputs parsed here never carry secrets (no join tokens), so quoting them is safe.
 */
export class UnexpectedOutputError extends Error {
  override readonly name = 'UnexpectedOutput';
  constructor(
    readonly what: string,
    readonly output: string,
    readonly reason?: string,
  ) {
    super(`unexpected output from ${what}${reason ? ` (${reason})` : ''}: ${excerpt(output)}`);
  }
}

/** The first few lines of an output, for an error message. */
export function excerpt(text: string, maxLines = 4, maxChars = 300): string {
  const lines = text.trim().split('\n').slice(0, maxLines).join(' / ');
  const short = lines.length > maxChars ? `${lines.slice(0, maxChars)}…` : lines;
  return short ? JSON.stringify(short) : '(empty)';
}

/** Lines with trailing CR and whitespace removed, blank lines dropped. */
export function nonBlankLines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.replace(/\s+$/, ''))
    .filter((l) => l.length > 0);
}
