/**
 * Register the runbook search attributes on a namespace, idempotently: a dev server started on an existing
 * SQLite file already has them, and two engines may race to add them ("already exists" counts as done).
 */
import type { NativeConnection } from '@temporalio/worker';
import type { Connection } from '@temporalio/client';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { SEARCH_ATTRIBUTES } from '../common/constants';

// gRPC status codes (grpc-js `status`), without importing grpc-js.
const ALREADY_EXISTS = 6;
const PERMISSION_DENIED = 7;
const UNIMPLEMENTED = 12;

export type RegisterOutcome = { added: string[]; present: string[] } | { skipped: string };

export async function registerSearchAttributes(
  connection: NativeConnection | Connection,
  namespace: string,
): Promise<RegisterOutcome> {
  const operator = connection.operatorService;
  try {
    const existing = await operator.listSearchAttributes({ namespace });
    const known = new Set(Object.keys(existing.customAttributes ?? {}));
    const missing = SEARCH_ATTRIBUTES.filter((k) => !known.has(k.name));
    const present = SEARCH_ATTRIBUTES.filter((k) => known.has(k.name)).map((k) => k.name);
    if (missing.length === 0) return { added: [], present };
    await operator.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((k) => [k.name, encodeSearchAttributeIndexedValueType(k.type)!])),
    });
    return { added: missing.map((k) => k.name), present };
  } catch (e) {
    const code = (e as { code?: number }).code;
    if (code === ALREADY_EXISTS) return { added: [], present: SEARCH_ATTRIBUTES.map((k) => k.name) };
    // Temporal Cloud and locked-down servers refuse operator calls: an admin registers them instead.
    if (code === PERMISSION_DENIED || code === UNIMPLEMENTED) {
      return { skipped: `not permitted to register search attributes (${(e as Error).message}); ask an admin to run: ${manualCommand()}` };
    }
    throw e;
  }
}

/** The Temporal CLI commands that register the attributes by hand. */
export function manualCommand(): string {
  return SEARCH_ATTRIBUTES.map((k) => `temporal operator search-attribute create --name ${k.name} --type Keyword`).join(' && ');
}
