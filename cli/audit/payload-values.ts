/**
 * Reading values out of history payloads for the audit: decode (codecs already undone by codec/history.ts),
 * redact fields named like secrets, and find the audit records (`commands`, `fileChanges`) activities return.
 */
import { defaultPayloadConverter, type PayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import type { CommandRecord, FileChange } from '../../common/audit';

type IPayload = temporal.api.common.v1.IPayload;

export const REDACTED = '<redacted>';

/** A payload that cannot be read: still encrypted (no codec or no key) or in a format we do not know. */
export class UndecodablePayload {
  constructor(readonly encoding: string) {}
  toJSON(): string {
    return `<undecodable payload: ${this.encoding}>`;
  }
}

export function decodePayload(payload: IPayload | null | undefined, converter: PayloadConverter = defaultPayloadConverter): unknown {
  if (!payload) return undefined;
  try {
    return converter.fromPayload(payload);
  } catch {
    const encoding = payload.metadata?.encoding;
    return new UndecodablePayload(encoding ? Buffer.from(encoding).toString() : 'unknown');
  }
}

export function decodePayloads(payloads: { payloads?: IPayload[] | null } | null | undefined, converter?: PayloadConverter): unknown[] {
  return (payloads?.payloads ?? []).map((p) => decodePayload(p, converter));
}

/**
 * Secret-looking field names: token, password, passphrase, secret, credential, and names ending in "key" (apiKey,
 * privateKey). References such as keyFile or hostKeyPolicy are kept. Inputs carry no secrets by design; this is a
 * second line of defence for what the audit prints.
 */
const SECRET_NAME = /token|passw|passphrase|secret|credential|key$/i;

export function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value === null || typeof value !== 'object' || value instanceof UndecodablePayload) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_NAME.test(k) && v !== undefined && v !== null ? REDACTED : redact(v);
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCommandRecord(value: unknown): value is CommandRecord {
  return isRecord(value) && typeof value.node === 'string' && typeof value.command === 'string' && 'exitCode' in value;
}

function isFileChange(value: unknown): value is FileChange {
  return isRecord(value) && typeof value.node === 'string' && typeof value.path === 'string' && typeof value.action === 'string';
}

/**
 * The objects to look in: the value itself and, to be tolerant of wrappers ({ result: { commands } } or an array of
 * per-node results), its direct children.
 */
function candidates(value: unknown): Record<string, unknown>[] {
  const top = Array.isArray(value) ? value : [value];
  const out: Record<string, unknown>[] = [];
  for (const item of top) {
    if (!isRecord(item)) continue;
    out.push(item);
    for (const child of Object.values(item)) {
      if (isRecord(child)) out.push(child);
      else if (Array.isArray(child)) out.push(...child.filter(isRecord));
    }
  }
  return out;
}

/** `commands: CommandRecord[]` at the top of a result, or one level down. */
export function findCommands(value: unknown): CommandRecord[] {
  return candidates(value).flatMap((c) => (Array.isArray(c.commands) ? c.commands.filter(isCommandRecord) : []));
}

/** `fileChanges: FileChange[]` (or `changes`, as backup and recovery name them) at the top or one level down. */
export function findFileChanges(value: unknown): FileChange[] {
  return candidates(value).flatMap((c) =>
    [c.fileChanges, c.changes].flatMap((list) => (Array.isArray(list) ? list.filter(isFileChange) : [])),
  );
}

/** `compensations: string[]` (the upgrade runbook's record of what it undid) at the top or one level down. */
export function findCompensations(value: unknown): string[] {
  return candidates(value).flatMap((c) =>
    Array.isArray(c.compensations) ? c.compensations.filter((x): x is string => typeof x === 'string') : [],
  );
}

/** A `plan: string[]` (workflow results) or `lines: string[]` (plan/survey activity results) at the top level. */
export function findPlan(value: unknown, fields: string[]): string[] | undefined {
  if (!isRecord(value)) return undefined;
  for (const field of fields) {
    const list = value[field];
    if (Array.isArray(list) && list.length > 0 && list.every((x) => typeof x === 'string')) return list as string[];
  }
  return undefined;
}

export function stringField(value: unknown, field: string): string | undefined {
  return isRecord(value) && typeof value[field] === 'string' ? (value[field] as string) : undefined;
}
