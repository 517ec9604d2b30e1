/**
 * Encryption keys for the payload codec, read from the environment. The current key encrypts; the keyring (current
 * plus old keys) decrypts, so a key can be rotated without losing access to histories written under the old one.
 *
 *   RUNBOOK_CODEC_KEY_FILE   file holding the current key (base64 of 32 bytes, or the 32 raw bytes)
 *   RUNBOOK_CODEC_KEY        the current key as base64 of 32 bytes (alternative to the file)
 *   RUNBOOK_CODEC_KEY_ID     id stored with each payload; default `sha256-` + 12 hex digits of the key's sha256
 *   RUNBOOK_CODEC_OLD_KEYS   comma-separated `[<id>=]<file>` entries, decode only
 *
 * Error messages name the variable and the fix, and never include key material.
 */
import { createHash } from 'node:crypto';
import { LocalFileError, readableByOthers, readLocalFileSync } from '../local/files';
import { runbookEnv } from '../local/environment';

export const KEY_BYTES = 32;
const KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
// Base64 (standard or URL-safe) of exactly 32 bytes: 43 significant characters plus optional padding.
const BASE64_KEY_PATTERN = /^[A-Za-z0-9+/_-]{43}=?$/;

/** Bad codec configuration: the CLI prints it and exits 2 before anything starts. */
export class CodecConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'CodecConfigError';
  }
}

export interface EncryptionKey {
  id: string;
  key: Buffer;
}

export interface Keyring {
  /** Encrypts every new payload. */
  current: EncryptionKey;
  /** Every key that may decrypt, by id; includes the current key. */
  byId: Map<string, EncryptionKey>;
}

type Env = Record<string, string | undefined>;

/** True when the environment asks for encryption (a key is configured). */
export function encryptionConfigured(env: Env = process.env): boolean {
  return Boolean(runbookEnv('RUNBOOK_CODEC_KEY_FILE', env) || runbookEnv('RUNBOOK_CODEC_KEY', env));
}

/** Default key id: a short sha256 prefix. It identifies the key without revealing anything usable about it. */
export function deriveKeyId(key: Buffer): string {
  return `sha256-${createHash('sha256').update(key).digest('hex').slice(0, 12)}`;
}

/** Reads the keyring from the environment; undefined when encryption is off. Throws CodecConfigError. */
export function loadKeyring(env: Env = process.env): Keyring | undefined {
  const keyFile = runbookEnv('RUNBOOK_CODEC_KEY_FILE', env);
  const keyText = runbookEnv('RUNBOOK_CODEC_KEY', env);
  const keyId = runbookEnv('RUNBOOK_CODEC_KEY_ID', env);
  const oldKeys = runbookEnv('RUNBOOK_CODEC_OLD_KEYS', env);
  if (!keyFile && !keyText) {
    if (oldKeys || keyId) {
      const variable = oldKeys ? 'RUNBOOK_CODEC_OLD_KEYS' : 'RUNBOOK_CODEC_KEY_ID';
      throw new CodecConfigError(variable, 'is set but no current key is: set RUNBOOK_CODEC_KEY_FILE or RUNBOOK_CODEC_KEY');
    }
    return undefined;
  }
  if (keyFile && keyText) {
    throw new CodecConfigError('RUNBOOK_CODEC_KEY', 'set either RUNBOOK_CODEC_KEY_FILE or RUNBOOK_CODEC_KEY, not both');
  }
  const key = keyFile ? readKeyFile(keyFile, 'RUNBOOK_CODEC_KEY_FILE') : parseBase64Key(keyText ?? '', 'RUNBOOK_CODEC_KEY');
  // Only the key that encrypts from now on must be real; an old weak key may still be needed to read old histories.
  checkKeyStrength(key, keyFile ? 'RUNBOOK_CODEC_KEY_FILE' : 'RUNBOOK_CODEC_KEY');
  const id = keyId ? checkKeyId(keyId, 'RUNBOOK_CODEC_KEY_ID') : deriveKeyId(key);
  return keyringOf({ id, key }, parseOldKeys(oldKeys));
}

/** Builds a keyring; an old key may not reuse the current key's id with different bytes. */
export function keyringOf(current: EncryptionKey, old: EncryptionKey[] = []): Keyring {
  const byId = new Map<string, EncryptionKey>();
  for (const k of old) byId.set(k.id, k);
  const clash = byId.get(current.id);
  if (clash && !clash.key.equals(current.key)) {
    throw new CodecConfigError('RUNBOOK_CODEC_OLD_KEYS', `an old key uses the current key id "${current.id}"; give the new key a new id`);
  }
  byId.set(current.id, current);
  return { current, byId };
}

function parseOldKeys(list: string | undefined): EncryptionKey[] {
  if (!list) return [];
  return list
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry, i) => {
      if (BASE64_KEY_PATTERN.test(entry)) {
        throw new CodecConfigError('RUNBOOK_CODEC_OLD_KEYS', `entry ${i + 1} looks like a key, not a file path; list [<id>=]<file> entries`);
      }
      const eq = entry.indexOf('=');
      const file = eq > 0 ? entry.slice(eq + 1).trim() : entry;
      if (!file) throw new CodecConfigError('RUNBOOK_CODEC_OLD_KEYS', `entry ${i + 1} names no file; list [<id>=]<file> entries`);
      const key = readKeyFile(file, 'RUNBOOK_CODEC_OLD_KEYS');
      const id = eq > 0 ? checkKeyId(entry.slice(0, eq), 'RUNBOOK_CODEC_OLD_KEYS') : deriveKeyId(key);
      return { id, key };
    });
}

function readKeyFile(file: string, variable: string): Buffer {
  // A key pasted where a path belongs must not be echoed back into logs.
  if (BASE64_KEY_PATTERN.test(file.trim())) {
    throw new CodecConfigError(variable, 'holds what looks like a key, not a file path; put the key in a file and name the file');
  }
  let raw: Buffer;
  let mode: number;
  try {
    ({ data: raw, mode } = readLocalFileSync(file, 'codec key file'));
  } catch (err) {
    if (!(err instanceof LocalFileError)) throw err;
    const fix = err.code === 'ENOENT' ? `create it with: (umask 077; openssl rand -base64 32 > ${file})` : 'name a regular file holding the key';
    throw new CodecConfigError(variable, `${err.message}; ${fix}`);
  }
  const text = raw.toString('latin1').trim();
  let key: Buffer;
  if (BASE64_KEY_PATTERN.test(text)) key = Buffer.from(text, 'base64');
  else if (raw.length === KEY_BYTES) key = raw;
  else throw new CodecConfigError(variable, `key file ${file} must hold base64 of ${KEY_BYTES} bytes (openssl rand -base64 32) or ${KEY_BYTES} raw bytes`);
  // Like OpenSSH with a private key: a key others can read protects nothing.
  if (readableByOthers(mode)) {
    throw new CodecConfigError(variable, `key file ${file} has mode 0${mode.toString(8)}: others can read it; run chmod 600 ${file}`);
  }
  return key;
}

/** A key of one repeated byte (all zeros, say) is a placeholder, not a key. */
function checkKeyStrength(key: Buffer, variable: string): void {
  if (key.every((b) => b === key[0])) {
    throw new CodecConfigError(variable, `the key is ${KEY_BYTES} copies of one byte, a placeholder; generate a real one with: openssl rand -base64 32`);
  }
}

function parseBase64Key(text: string, variable: string): Buffer {
  const trimmed = text.trim();
  if (!BASE64_KEY_PATTERN.test(trimmed)) {
    throw new CodecConfigError(variable, `must be base64 of ${KEY_BYTES} bytes; generate one with: openssl rand -base64 32`);
  }
  return Buffer.from(trimmed, 'base64');
}

function checkKeyId(id: string, variable: string): string {
  if (!KEY_ID_PATTERN.test(id)) {
    // The bad id is not echoed: a mistyped entry may be key material.
    throw new CodecConfigError(variable, 'a key id must be 1-64 characters of letters, digits, ".", "_" or "-"');
  }
  return id;
}
