/**
 * AES-256-GCM payload codec, in the shape of the samples-typescript `encryption` sample so other Temporal tooling
 * built from it interoperates: the whole Payload proto (metadata included) is serialised length-delimited and
 * encrypted, the result is `iv (12 bytes) || ciphertext || tag (16 bytes)`, and the outer payload's metadata says
 * `encoding: binary/encrypted` and `encryption-key-id: <id>`. Decoding picks the key by id, so old keys keep working
 * after a rotation; payloads not marked encrypted pass through untouched.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, ValueError, type Payload, type PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { Keyring } from './keys';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const METADATA_KEY_ID = 'encryption-key-id';
const IV_BYTES = 12;
const TAG_BYTES = 16;

const ProtoPayload = temporal.api.common.v1.Payload;

/** Told the id of a key a payload needs and this process lacks (the worker logs it in clear text). */
export type MissingKeyListener = (keyId: string) => void;

function keyIdOf(payload: Payload): string {
  const keyIdBytes = payload.metadata?.[METADATA_KEY_ID];
  if (!keyIdBytes) throw new ValueError('Encrypted payload has no encryption-key-id metadata');
  return Buffer.from(keyIdBytes).toString('utf8');
}

/**
 * The worker's codec when no key is configured: plain payloads pass through both ways, and an encrypted one (a CLI
 * with a key, a worker without) fails with the key id it needs instead of "unknown encoding".
 */
export class KeylessPayloadCodec implements PayloadCodec {
  constructor(private readonly onMissingKey?: MissingKeyListener) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads;
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    for (const payload of payloads) {
      if (!isEncrypted(payload)) continue;
      const keyId = keyIdOf(payload);
      this.onMissingKey?.(keyId);
      throw new ValueError(
        `Payload was encrypted with key id "${keyId}", but this worker has no codec key; start it with RUNBOOK_CODEC_KEY_FILE set to the key the CLI uses`,
      );
    }
    return payloads;
  }
}

export class AesGcmPayloadCodec implements PayloadCodec {
  constructor(
    private readonly keyring: Keyring,
    private readonly onMissingKey?: MissingKeyListener,
  ) {}

  /** Id of the key new payloads are encrypted with. */
  get currentKeyId(): string {
    return this.keyring.current.id;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const { id, key } = this.keyring.current;
    return payloads.map((payload) => ({
      metadata: {
        [METADATA_ENCODING_KEY]: Buffer.from(ENCRYPTED_ENCODING),
        [METADATA_KEY_ID]: Buffer.from(id),
      },
      data: encrypt(ProtoPayload.encodeDelimited(payload).finish(), key),
    }));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (!isEncrypted(payload)) return payload;
      const keyId = keyIdOf(payload);
      const entry = this.keyring.byId.get(keyId);
      if (!entry) {
        this.onMissingKey?.(keyId);
        throw new ValueError(`Payload was encrypted with key id "${keyId}", which is not in the keyring; add that key to RUNBOOK_CODEC_OLD_KEYS`);
      }
      if (!payload.data) throw new ValueError('Encrypted payload has no data');
      return ProtoPayload.decodeDelimited(decrypt(payload.data, entry.key, keyId));
    });
  }
}

export function isEncrypted(payload: Payload): boolean {
  const encoding = payload.metadata?.[METADATA_ENCODING_KEY];
  return encoding !== undefined && encoding !== null && Buffer.from(encoding).toString('utf8') === ENCRYPTED_ENCODING;
}

/** iv || ciphertext || tag, the layout WebCrypto's AES-GCM produces with the IV prefixed (as in the sample). */
export function encrypt(plaintext: Uint8Array, key: Buffer): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  return Buffer.concat([iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

/** Inverse of encrypt; a modified byte anywhere, or the wrong key, fails authentication. */
export function decrypt(blob: Uint8Array, key: Buffer, keyId: string): Buffer {
  const bytes = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  if (bytes.length < IV_BYTES + TAG_BYTES) {
    throw new ValueError(`Encrypted payload (key id "${keyId}") is too short to be AES-GCM ciphertext`);
  }
  const iv = bytes.subarray(0, IV_BYTES);
  const tag = bytes.subarray(bytes.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()]);
  } catch {
    throw new ValueError(`Encrypted payload (key id "${keyId}") failed authentication: it was modified, or the key with that id is not the one that encrypted it`);
  }
}
