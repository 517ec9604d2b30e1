/**
 * Every remote command an activity runs belongs in its result: that is the audit trail `runbook history` reads.
 * Activities need not thread their sessions' records through by hand: the SSH pool registers each session created
 * inside an activity invocation here, and `withCommandAudit` adds the records to the result (`commands`) or, when
 * the activity fails, to the failure's details. Records are already redacted by the SSH layer.
 */
import { AsyncLocalStorage } from 'async_hooks';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { CommandRecord } from '../../common/audit';

const invocation = new AsyncLocalStorage<CommandRecord[][]>();

/** At most this many records are attached automatically; polling loops mark their probes `quiet`. */
const MAX_RECORDS = 400;

/** Called by the SSH pool for each new session. */
export function registerSessionRecords(records: CommandRecord[]): void {
  invocation.getStore()?.push(records);
}

/** Activities may return scrubbed copies of their records: compare by what was run, where and when. */
const key = (r: CommandRecord) => `${r.node}\u0000${r.startedAt}\u0000${r.command}`;

function collected(sessions: CommandRecord[][], already: CommandRecord[] = []): CommandRecord[] {
  const seen = new Set(already.map(key));
  const all = sessions.flat().filter((r) => !seen.has(key(r)));
  all.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  return [...already, ...all].slice(-MAX_RECORDS);
}

function withRecords<T>(result: T, sessions: CommandRecord[][]): T {
  if (!sessions.some((s) => s.length)) return result;
  if (result === undefined || result === null) return { commands: collected(sessions) } as T;
  if (typeof result !== 'object' || Array.isArray(result)) return result; // nowhere to put them without changing the type
  const own = (result as { commands?: unknown }).commands;
  return { ...result, commands: collected(sessions, Array.isArray(own) ? (own as CommandRecord[]) : []) };
}

function failureWithRecords(e: unknown, sessions: CommandRecord[][]): unknown {
  if (!sessions.some((s) => s.length) || e instanceof CancelledFailure || !(e instanceof Error)) return e;
  const details = e instanceof ApplicationFailure ? [...(e.details ?? [])] : [];
  const own = details.find((d): d is { commands: CommandRecord[] } => !!d && Array.isArray((d as { commands?: unknown }).commands));
  const commands = collected(sessions, own?.commands ?? []);
  const rest = details.filter((d) => d !== own);
  if (e instanceof ApplicationFailure) {
    return ApplicationFailure.create({
      message: e.message,
      type: e.type ?? undefined,
      nonRetryable: e.nonRetryable ?? undefined,
      nextRetryDelay: e.nextRetryDelay ?? undefined,
      category: e.category ?? undefined,
      details: [...rest, { commands }],
      cause: e.cause,
    });
  }
  return ApplicationFailure.create({ message: e.message, type: e.name, details: [{ commands }], cause: e });
}

/** Wrap every activity of a factory so its remote commands travel with its result or failure. */
export function withCommandAudit<A extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: A): A {
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    wrapped[name] = async (...args: never[]) => {
      const sessions: CommandRecord[][] = [];
      try {
        return withRecords(await invocation.run(sessions, () => fn(...args)), sessions);
      } catch (e) {
        throw failureWithRecords(e, sessions);
      }
    };
  }
  return wrapped as A;
}
