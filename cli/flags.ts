/**
 * The one flag parser: commander hands over strings, zod checks them, and a failure is exit 2 naming the flag
 * (`--worker-batch`, from the schema's key) and the fix. Numbers are plain decimal: `0x10`, `1e3` and `` are
 * refused rather than read as 16, 1000 and 0.
 */
import { z } from 'zod';
import type { CliContext } from './context';

/** `workerBatch` → `--worker-batch`. */
export function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** Parse with zod; on failure exit 2 naming the flag and the fix. */
export function parseFlags<T extends z.ZodType>(ctx: Pick<CliContext, 'badInput'>, schema: T, raw: unknown): z.infer<T> {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  return ctx.badInput(flagError(parsed.error));
}

/** The message for the first issue: `--flag: what is wrong and how to fix it`. */
export function flagError(error: z.ZodError): string {
  const issue = error.issues[0];
  return `${flagName(String(issue.path[0] ?? ''))}: ${issue.message}`;
}

const DECIMAL_INT = /^\d{1,9}$/;
const DECIMAL = /^\d{1,9}(\.\d{1,3})?$/;

/** A whole number written in decimal digits. */
export const wholeNumber = z
  .union([z.number(), z.string()])
  .transform((v, ctx) => {
    const s = String(v).trim();
    if (!DECIMAL_INT.test(s)) {
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(String(v))} is not a whole number; write it in decimal digits, e.g. 5` });
      return z.NEVER;
    }
    return Number(s);
  });

/** A number of seconds in decimal, at most millisecond precision (`0.0001` would round to nothing). */
export const secondsNumber = z
  .union([z.number(), z.string()])
  .transform((v, ctx) => {
    const s = String(v).trim();
    if (!DECIMAL.test(s)) {
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(String(v))} is not a number of seconds; write it in decimal, e.g. 2 or 0.5 (at most 3 decimals)` });
      return z.NEVER;
    }
    return Number(s);
  });

/** `90`, `90s`, `5m`, `2h`, `30d` → seconds. */
export function parseDuration(value: string): number | undefined {
  const m = /^(\d{1,9})(s|m|h|d)?$/.exec(value.trim());
  if (!m) return undefined;
  return Number(m[1]) * ({ s: 1, m: 60, h: 3600, d: 86_400 } as const)[(m[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
}

export const duration = (example: string) =>
  z.string().transform((v, ctx) => {
    const s = parseDuration(v);
    if (s === undefined) {
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} is not a duration; use e.g. ${example} (s, m, h or d)` });
      return z.NEVER;
    }
    return s;
  });

/** A comma-separated list of distinct names, e.g. `--lost k8s-2,k8s-3`. */
export const nameList = (item: z.ZodString, example: string, what = 'name them') =>
  z
    .string({ error: `is required: ${what}, e.g. ${example}` })
    .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
    .pipe(z.array(item).min(1, { error: `name at least one, e.g. ${example}` }))
    .refine((names) => new Set(names).size === names.length, {
      error: (iss) => {
        const names = iss.input as string[];
        const dup = names.find((n, i) => names.indexOf(n) !== i);
        return `${JSON.stringify(dup)} is listed twice; name each node once, e.g. ${example}`;
      },
    });

/** A TCP port flag (1-65535), or exit 2 naming it. */
export function parsePort(flag: string, value: string, badInput: (m: string) => never): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) badInput(`${flag}: ${JSON.stringify(value)} is not a TCP port (1-65535)`);
  return n;
}
