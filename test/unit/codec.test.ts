import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { webcrypto } from 'node:crypto';
import { defaultPayloadConverter, METADATA_ENCODING_KEY, type Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { AesGcmPayloadCodec, ENCRYPTED_ENCODING, METADATA_KEY_ID } from '../../codec/encryption';
import { CodecConfigError, deriveKeyId, keyringOf, loadKeyring } from '../../codec/keys';
import { failureConverter, failureConverterPath, loadDataConverter } from '../../codec/data-converter';

const MARKER = 'secret-join-token-4f1c';
const keyA = Buffer.from(Array.from({ length: 32 }, (_, i) => (0xa1 + i * 7) & 0xff));
const keyB = Buffer.from(Array.from({ length: 32 }, (_, i) => (0xb2 + i * 11) & 0xff));
const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? new Uint8Array()).toString('utf8');
const plainPayload = (): Payload => defaultPayloadConverter.toPayload({ token: MARKER, node: 'k8s-1' });

describe('AesGcmPayloadCodec', () => {
  const codecA = new AesGcmPayloadCodec(keyringOf({ id: 'key-a', key: keyA }));

  it('encrypts the whole payload and decodes it back to the same metadata and data', async () => {
    const original = plainPayload();
    const [encoded] = await codecA.encode([original]);
    expect(text(encoded.metadata?.[METADATA_ENCODING_KEY])).toBe(ENCRYPTED_ENCODING);
    expect(text(encoded.metadata?.[METADATA_KEY_ID])).toBe('key-a');
    expect(Object.keys(encoded.metadata ?? {}).sort()).toEqual([METADATA_ENCODING_KEY, METADATA_KEY_ID].sort());
    expect(Buffer.from(encoded.data!).includes(MARKER)).toBe(false);
    expect(Buffer.from(encoded.data!).includes('json/plain')).toBe(false);

    const [decoded] = await codecA.decode([encoded]);
    expect(text(decoded.metadata?.[METADATA_ENCODING_KEY])).toBe('json/plain');
    expect(defaultPayloadConverter.fromPayload(decoded)).toEqual({ token: MARKER, node: 'k8s-1' });
  });

  it('uses a fresh IV each time, so equal payloads give different ciphertexts', async () => {
    const [one, two] = await codecA.encode([plainPayload(), plainPayload()]);
    expect(Buffer.from(one.data!).equals(Buffer.from(two.data!))).toBe(false);
  });

  it('writes the samples-typescript layout: 12-byte IV prefix, then WebCrypto AES-GCM ciphertext+tag of the delimited proto', async () => {
    const [encoded] = await codecA.encode([plainPayload()]);
    const data = Buffer.from(encoded.data!);
    const key = await webcrypto.subtle.importKey('raw', keyA, 'AES-GCM', false, ['decrypt']);
    const plain = await webcrypto.subtle.decrypt({ name: 'AES-GCM', iv: data.subarray(0, 12) }, key, data.subarray(12));
    const inner = temporal.api.common.v1.Payload.decodeDelimited(new Uint8Array(plain));
    expect(defaultPayloadConverter.fromPayload(inner)).toEqual({ token: MARKER, node: 'k8s-1' });
  });

  it('passes payloads that are not marked encrypted through untouched', async () => {
    const plain = plainPayload();
    const binary: Payload = { metadata: { [METADATA_ENCODING_KEY]: Buffer.from('binary/plain') }, data: Buffer.from(MARKER) };
    const [a, b] = await codecA.decode([plain, binary]);
    expect(a).toBe(plain);
    expect(b).toBe(binary);
  });

  it('rejects a ciphertext with any byte changed', async () => {
    const [encoded] = await codecA.encode([plainPayload()]);
    for (const index of [0, 20, encoded.data!.length - 1]) {
      const data = Buffer.from(encoded.data!);
      data[index] ^= 0x01;
      await expect(codecA.decode([{ ...encoded, data }])).rejects.toThrow(/\(key id "key-a"\) failed authentication/);
    }
  });

  it('rejects a ciphertext decrypted with a different key under the same id', async () => {
    const [encoded] = await codecA.encode([plainPayload()]);
    const impostor = new AesGcmPayloadCodec(keyringOf({ id: 'key-a', key: keyB }));
    await expect(impostor.decode([encoded])).rejects.toThrow(/failed authentication/);
  });

  it('after rotation encodes with the new key and still decodes payloads written under the old one', async () => {
    const [underA] = await codecA.encode([plainPayload()]);
    const rotated = new AesGcmPayloadCodec(keyringOf({ id: 'key-b', key: keyB }, [{ id: 'key-a', key: keyA }]));

    const [fromOld] = await rotated.decode([underA]);
    expect(defaultPayloadConverter.fromPayload(fromOld)).toEqual({ token: MARKER, node: 'k8s-1' });

    const [underB] = await rotated.encode([plainPayload()]);
    expect(text(underB.metadata?.[METADATA_KEY_ID])).toBe('key-b');
    await expect(codecA.decode([underB])).rejects.toThrow(/key id "key-b", which is not in the keyring; add that key to RUNBOOK_CODEC_OLD_KEYS/);
  });

  it('encoded failures keep only "Encoded failure" in the clear', async () => {
    expect((await import(failureConverterPath)).failureConverter).toBe(failureConverter);
    const failure = failureConverter.errorToFailure(new Error(`join failed for ${MARKER}`), defaultPayloadConverter);
    expect(failure.message).toBe('Encoded failure');
    expect(failure.stackTrace ?? '').not.toContain(MARKER);
    const [encrypted] = await codecA.encode([failure.encodedAttributes!]);
    expect(Buffer.from(encrypted.data!).includes(MARKER)).toBe(false);
    const [decrypted] = await codecA.decode([encrypted]);
    const roundTrip = failureConverter.failureToError({ ...failure, encodedAttributes: decrypted }, defaultPayloadConverter);
    expect(roundTrip.message).toBe(`join failed for ${MARKER}`);
  });
});

describe('codec keys from the environment', () => {
  let dir: string;
  const base64A = keyA.toString('base64');
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'codec-keys-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const file = (name: string, content: string | Buffer) => {
    const path = join(dir, name);
    writeFileSync(path, content, { mode: 0o600 });
    return path;
  };
  const configError = (fn: () => unknown): CodecConfigError => {
    try {
      fn();
    } catch (err) {
      if (err instanceof CodecConfigError) return err;
      throw err;
    }
    throw new Error('expected a CodecConfigError');
  };

  it('is off, and loadDataConverter gives undefined, when no key is set', async () => {
    expect(loadKeyring({})).toBeUndefined();
    await expect(loadDataConverter({})).resolves.toBeUndefined();
  });

  it('reads a base64 key file (openssl rand -base64 32) and derives the key id from its sha256', () => {
    const ring = loadKeyring({ RUNBOOK_CODEC_KEY_FILE: file('k', `${base64A}\n`) })!;
    expect(ring.current.key.equals(keyA)).toBe(true);
    expect(ring.current.id).toBe(deriveKeyId(keyA));
    expect(ring.current.id).toMatch(/^sha256-[0-9a-f]{12}$/);
    expect(deriveKeyId(keyB)).not.toBe(ring.current.id);
  });

  it('reads a raw 32-byte key file, and a base64 key from RUNBOOK_CODEC_KEY with an explicit id', () => {
    expect(loadKeyring({ RUNBOOK_CODEC_KEY_FILE: file('raw', keyB) })!.current.key.equals(keyB)).toBe(true);
    const ring = loadKeyring({ RUNBOOK_CODEC_KEY: base64A, RUNBOOK_CODEC_KEY_ID: '2025-q3' })!;
    expect(ring.current).toEqual({ id: '2025-q3', key: keyA });
  });

  it('adds RUNBOOK_CODEC_OLD_KEYS (explicit or derived ids) to the decode keyring only', () => {
    const ring = loadKeyring({
      RUNBOOK_CODEC_KEY: keyB.toString('base64'),
      RUNBOOK_CODEC_OLD_KEYS: `2024-q1=${file('old1', base64A)}, ${file('old2', Buffer.alloc(32, 7))}`,
    })!;
    expect(ring.current.key.equals(keyB)).toBe(true);
    expect([...ring.byId.keys()].sort()).toEqual(['2024-q1', deriveKeyId(Buffer.alloc(32, 7)), deriveKeyId(keyB)].sort());
  });

  it('names the variable and the fix on bad input, without echoing key material', () => {
    const short = Buffer.alloc(16, 1).toString('base64');
    const cases: [Record<string, string>, string, RegExp][] = [
      [{ RUNBOOK_CODEC_KEY: short }, 'RUNBOOK_CODEC_KEY', /openssl rand -base64 32/],
      [{ RUNBOOK_CODEC_KEY: base64A, RUNBOOK_CODEC_KEY_FILE: '/x' }, 'RUNBOOK_CODEC_KEY', /not both/],
      [{ RUNBOOK_CODEC_KEY_FILE: join(dir, 'missing') }, 'RUNBOOK_CODEC_KEY_FILE', /ENOENT.*openssl rand/],
      [{ RUNBOOK_CODEC_KEY_FILE: base64A }, 'RUNBOOK_CODEC_KEY_FILE', /looks like a key, not a file path/],
      [{ RUNBOOK_CODEC_KEY: base64A, RUNBOOK_CODEC_KEY_ID: 'has space' }, 'RUNBOOK_CODEC_KEY_ID', /letters, digits/],
      [{ RUNBOOK_CODEC_KEY: base64A, RUNBOOK_CODEC_OLD_KEYS: `${base64A}` }, 'RUNBOOK_CODEC_OLD_KEYS', /not a file path/],
      [{ RUNBOOK_CODEC_OLD_KEYS: '/old.key' }, 'RUNBOOK_CODEC_OLD_KEYS', /no current key/],
    ];
    for (const [env, variable, fix] of cases) {
      const err = configError(() => loadKeyring(env));
      expect(err.variable).toBe(variable);
      expect(err.message).toMatch(fix);
      expect(err.message).not.toContain(base64A);
      expect(err.message).not.toContain(short);
    }
    const badFile = file('bad', 'not a key');
    expect(configError(() => loadKeyring({ RUNBOOK_CODEC_KEY_FILE: badFile })).message).toMatch(/must hold base64 of 32 bytes/);
  });

  it('refuses an old key that reuses the current id with different bytes', () => {
    const err = configError(() =>
      loadKeyring({ RUNBOOK_CODEC_KEY: base64A, RUNBOOK_CODEC_KEY_ID: 'prod', RUNBOOK_CODEC_OLD_KEYS: `prod=${file('o', keyB)}` }),
    );
    expect(err.message).toMatch(/give the new key a new id/);
  });

  it('loadDataConverter wires the codec and the failure converter path', async () => {
    const dc = (await loadDataConverter({ RUNBOOK_CODEC_KEY: base64A }))!;
    expect(dc.failureConverterPath).toBe(failureConverterPath);
    expect(dc.payloadCodecs).toHaveLength(1);
    const [encoded] = await dc.payloadCodecs![0].encode([plainPayload()]);
    expect(text(encoded.metadata?.[METADATA_KEY_ID])).toBe(deriveKeyId(keyA));
  });
});
