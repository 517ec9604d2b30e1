/**
 * The one entry point the worker, the CLI and tests use to turn on payload encryption. With no key configured,
 * loadDataConverter returns undefined and Temporal's default (plain JSON) converter applies.
 */
import type { DataConverter } from '@temporalio/common';
import { AesGcmPayloadCodec, KeylessPayloadCodec, type MissingKeyListener } from './encryption';
import { loadKeyring, type Keyring } from './keys';

// Re-exported so the converter module is compiled into dist/ beside this file (it is otherwise only loaded by path).
export { failureConverter } from './failure-converter';

/** For `dataConverter.failureConverterPath` and `bundleWorkflowCode({ failureConverterPath })`. */
export const failureConverterPath = require.resolve('./failure-converter');

export function createDataConverter(keyring: Keyring): DataConverter {
  return { payloadCodecs: [new AesGcmPayloadCodec(keyring)], failureConverterPath };
}

/**
 * The data converter the environment asks for, or undefined when encryption is off. Throws CodecConfigError (naming
 * the variable and the fix) on a bad configuration; callers exit 2 on it. Async so a KMS lookup can slot in later.
 */
export async function loadDataConverter(env: Record<string, string | undefined> = process.env): Promise<DataConverter | undefined> {
  const keyring = loadKeyring(env);
  return keyring ? createDataConverter(keyring) : undefined;
}

/**
 * The worker's data converter: always a codec, so that a payload encrypted under a key the worker lacks (or any
 * key, when it has none) names that key id in the worker's log instead of failing its workflow task in a loop
 * with "unknown encoding". Plain payloads are untouched without a key.
 */
export async function loadWorkerDataConverter(
  onMissingKey: MissingKeyListener,
  env: Record<string, string | undefined> = process.env,
): Promise<DataConverter> {
  const keyring = loadKeyring(env);
  if (!keyring) return { payloadCodecs: [new KeylessPayloadCodec(onMissingKey)] };
  return { payloadCodecs: [new AesGcmPayloadCodec(keyring, onMissingKey)], failureConverterPath };
}
