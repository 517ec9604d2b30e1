/**
 * `fetchHistory()` and `temporal workflow show` return payloads as stored, so with encryption on an audit built from
 * history (`runbook history`) must decode them first. decodeHistory runs every payload in the history through the
 * codecs and puts encoded failure messages back in place, so the rest of the code reads history as if unencrypted.
 */
import { defaultPayloadConverter, type DataConverter, type Payload } from '@temporalio/common';
import { isJsonPayload, payloadFromJson, payloadToJson } from './json-payload';

/**
 * Decodes, in place, every payload in `history` with the data converter's codecs, and restores failure messages and
 * stack traces that `encodeCommonAttributes` moved into a payload. Takes a History proto (`handle.fetchHistory()`) or
 * the parsed JSON of `temporal workflow show --output json` (payloads stay in their base64 JSON form there).
 * Without codecs (encryption off) it returns the history unchanged.
 */
export async function decodeHistory<H extends object>(history: H, dataConverter?: DataConverter): Promise<H> {
  const codecs = [...(dataConverter?.payloadCodecs ?? [])].reverse();
  if (codecs.length === 0) return history;
  const decode = async (payload: Payload): Promise<Payload> => {
    let out = [payload];
    for (const codec of codecs) out = await codec.decode(out);
    return out[0];
  };
  await visit(history, decode);
  return history;
}

function isPayload(value: unknown): value is Payload {
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array) return false;
  const { metadata, data } = value as { metadata?: unknown; data?: unknown };
  return typeof metadata === 'object' && metadata !== null && data instanceof Uint8Array;
}

async function visit(node: unknown, decode: (p: Payload) => Promise<Payload>): Promise<void> {
  if (typeof node !== 'object' || node === null || node instanceof Uint8Array) return;
  const record = node as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    const child = record[key];
    if (isPayload(child)) record[key] = await decode(child);
    else if (isJsonPayload(child)) record[key] = payloadToJson(await decode(payloadFromJson(child)));
    else await visit(child, decode);
  }
  restoreEncodedFailure(record);
}

/** Undo `encodeCommonAttributes` on a decoded Failure: message and stack trace live in `encodedAttributes`. */
function restoreEncodedFailure(record: Record<string, unknown>): void {
  const attrs = record.encodedAttributes;
  const payload = isPayload(attrs) ? attrs : isJsonPayload(attrs) ? payloadFromJson(attrs) : undefined;
  if (!payload || !('message' in record)) return;
  let decoded: unknown;
  try {
    decoded = defaultPayloadConverter.fromPayload(payload);
  } catch {
    return; // still encrypted (no key for it) or not ours: leave the failure as stored
  }
  const { message, stack_trace: stackTrace } = (decoded ?? {}) as { message?: unknown; stack_trace?: unknown };
  if (typeof message === 'string') record.message = message;
  if (typeof stackTrace === 'string') record.stackTrace = stackTrace;
}
