/**
 * Text that people type (reasons, labels) and text that comes back from nodes or history reaches other operators'
 * terminals. Control characters there can clear or forge a screen, so they are refused on input and escaped on
 * output. Workflow-safe.
 */

// C0 controls except tab and newline, DEL, and C1 controls (0x80-0x9f: a lone 0x9b is a CSI on many terminals).
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;
// Newline too: a one-line field must not start a forged line.
const CONTROL_OR_NEWLINE = /[\u0000-\u0008\n-\u001f\u007f-\u009f]/;
// Unicode line/paragraph separators and bidi overrides, which reorder what a reader sees.
const DECEPTIVE = /[\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Why a one-line text typed by a user cannot be kept, or undefined when it can. */
export function plainTextProblem(text: string): string | undefined {
  if (CONTROL_OR_NEWLINE.test(text) || new RegExp(DECEPTIVE.source).test(text)) {
    return 'must be one line of printable text (no control characters, escape sequences or bidi overrides)';
  }
  return undefined;
}

function escape(ch: string): string {
  const code = ch.codePointAt(0)!;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** `text` safe to print: control characters (but tab and newline) and bidi overrides shown as `\xNN` / `\uNNNN`. */
export function printable(text: string): string {
  return text.replace(CONTROL, escape).replace(DECEPTIVE, escape);
}

/** Every string inside `value` (objects, arrays) made printable; other values unchanged. */
export function printableDeep<T>(value: T): T {
  if (typeof value === 'string') return printable(value) as T;
  if (Array.isArray(value)) return value.map((v) => printableDeep(v)) as T;
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [printable(k), printableDeep(v)])) as T;
  }
  return value;
}
