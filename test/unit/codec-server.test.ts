import { Command, CommanderError } from 'commander';
import { defaultPayloadConverter, METADATA_ENCODING_KEY } from '@temporalio/common';
import { AesGcmPayloadCodec, ENCRYPTED_ENCODING, METADATA_KEY_ID } from '../../codec/encryption';
import { CodecConfigError, keyringOf } from '../../codec/keys';
import { startCodecServer, type RunningCodecServer } from '../../codec/server';
import { registerCodecServerCommands, runCodecServer } from '../../cli/commands/codec-server';

const MARKER = 'kubeadm-token-7b2e';
const key = Buffer.from(Array.from({ length: 32 }, (_, i) => (0x5c + i * 13) & 0xff));
const codec = new AesGcmPayloadCodec(keyringOf({ id: 'ui-key', key }));
const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');

interface JsonPayload {
  metadata: Record<string, string>;
  data: string;
}

async function post(server: RunningCodecServer, path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-namespace': 'default', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as { payloads?: JsonPayload[]; error?: string } };
}

describe('codec server over HTTP', () => {
  let server: RunningCodecServer;
  beforeAll(async () => {
    server = await startCodecServer({ codec, port: 0 });
  });
  afterAll(() => server.close());

  it('binds to 127.0.0.1 by default', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('POST /encode encrypts and POST /decode gives back the original payload', async () => {
    const plain = { metadata: { encoding: b64('json/plain') }, data: b64(JSON.stringify({ token: MARKER })) };
    const encoded = await post(server, '/encode', { payloads: [plain] });
    expect(encoded.status).toBe(200);
    const [cipher] = encoded.json.payloads!;
    expect(unb64(cipher.metadata.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(unb64(cipher.metadata[METADATA_KEY_ID])).toBe('ui-key');
    expect(unb64(cipher.data)).not.toContain(MARKER);

    const decoded = await post(server, '/decode', { payloads: [cipher] });
    expect(decoded.status).toBe(200);
    expect(decoded.json.payloads).toEqual([plain]);
  });

  it('decodes payloads the worker encrypted, and passes plain ones through', async () => {
    const [workerCipher] = await codec.encode([defaultPayloadConverter.toPayload({ token: MARKER })]);
    const asJson = {
      metadata: Object.fromEntries(Object.entries(workerCipher.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')])),
      data: Buffer.from(workerCipher.data!).toString('base64'),
    };
    const plain = { metadata: { encoding: b64('json/plain') }, data: b64('"hello"') };
    const res = await post(server, '/decode', { payloads: [asJson, plain] });
    expect(res.status).toBe(200);
    const [first, second] = res.json.payloads!;
    expect(JSON.parse(unb64(first.data))).toEqual({ token: MARKER });
    expect(unb64(first.metadata[METADATA_ENCODING_KEY])).toBe('json/plain');
    expect(second).toEqual(plain);
  });

  /** The CORS preflight a browser sends before the UI's POST /decode (UI 2.42: content-type and x-namespace). */
  const preflight = (origin: string) =>
    fetch(`${server.url}/decode`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace' },
    });

  it.each(['http://localhost:8233', 'http://127.0.0.1:8233'])('answers the preflight of the dev server UI (%s) by default', async (origin) => {
    const res = await preflight(origin);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(origin);
    expect(res.headers.get('vary')).toBe('Origin');
    expect(res.headers.get('access-control-allow-headers')).toBe('x-namespace, content-type, authorization');
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
  });

  it('does not allow other origins by default: a web page elsewhere cannot use it to decrypt', async () => {
    for (const origin of ['http://localhost:8080', 'https://evil.example', 'http://localhost:8233.evil.example']) {
      const res = await preflight(origin);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
    }
    // A POST from such a page is answered, but without the header the browser does not hand the body to the page.
    const res = await post(server, '/encode', { payloads: [] }, { origin: 'https://evil.example' });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('reports bad requests and tampered ciphertext as errors, never as plaintext', async () => {
    const [cipher] = (await post(server, '/encode', { payloads: [{ metadata: { encoding: b64('json/plain') }, data: b64(`"${MARKER}"`) }] })).json.payloads!;
    const tampered = Buffer.from(cipher.data, 'base64');
    tampered[tampered.length - 1] ^= 0xff;
    const bad = await post(server, '/decode', { payloads: [{ ...cipher, data: tampered.toString('base64') }] });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatch(/failed authentication/);
    expect(JSON.stringify(bad.json)).not.toContain(MARKER);

    expect((await post(server, '/decode', 'not json')).json.error).toMatch(/body must be JSON/);
    expect((await post(server, '/decode', { payloads: [{ data: 5 }] })).json.error).toMatch(/payloads\[0\] must be/);
    expect((await post(server, '/decode', {})).status).toBe(400);
    expect((await post(server, '/elsewhere', { payloads: [] })).status).toBe(404);
    expect((await fetch(`${server.url}/decode`)).status).toBe(405);
  });
});

describe('codec server options', () => {
  it('requires the configured Authorization header', async () => {
    const server = await startCodecServer({ codec, port: 0, authorization: 'Bearer s3cret' });
    try {
      expect((await post(server, '/encode', { payloads: [] })).status).toBe(401);
      expect((await post(server, '/encode', { payloads: [] }, { authorization: 'Bearer wrong' })).status).toBe(401);
      const ok = await post(server, '/encode', { payloads: [] }, { authorization: 'Bearer s3cret' });
      expect(ok.status).toBe(200);
      expect(ok.json).toEqual({ payloads: [] });
    } finally {
      await server.close();
    }
  });

  it('allows any origin with "*"', async () => {
    const server = await startCodecServer({ codec, port: 0, allowOrigins: ['*'] });
    try {
      const res = await post(server, '/encode', { payloads: [] }, { origin: 'http://ui.example:8080' });
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
    } finally {
      await server.close();
    }
  });

  it('allows only the listed origins, and refuses oversized bodies', async () => {
    const server = await startCodecServer({ codec, port: 0, allowOrigins: ['http://ui.example:8080'], maxBodyBytes: 1024 });
    try {
      const allowed = await post(server, '/encode', { payloads: [] }, { origin: 'http://ui.example:8080' });
      expect(allowed.headers.get('access-control-allow-origin')).toBe('http://ui.example:8080');
      const other = await post(server, '/encode', { payloads: [] }, { origin: 'http://evil.example' });
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
      const huge = await post(server, '/encode', { payloads: [{ data: b64('x'.repeat(4096)) }] });
      expect(huge.status).toBe(413);
    } finally {
      await server.close();
    }
  });
});

describe('runbook codec-server', () => {
  it('starts with the key from the environment', async () => {
    const server = await runCodecServer({ port: '0', host: '127.0.0.1' }, { RUNBOOK_CODEC_KEY: key.toString('base64'), RUNBOOK_CODEC_KEY_ID: 'ui-key' });
    try {
      const [cipher] = await codec.encode([defaultPayloadConverter.toPayload(MARKER)]);
      const res = await post(server, '/decode', {
        payloads: [{ metadata: { encoding: b64(ENCRYPTED_ENCODING), [METADATA_KEY_ID]: b64('ui-key') }, data: Buffer.from(cipher.data!).toString('base64') }],
      });
      expect(JSON.parse(unb64(res.json.payloads![0].data))).toBe(MARKER);
    } finally {
      await server.close();
    }
  });

  it('names the flag or variable to fix on bad input', async () => {
    await expect(runCodecServer({ port: '0', host: '127.0.0.1' }, {})).rejects.toMatchObject({ variable: 'RUNBOOK_CODEC_KEY_FILE' });
    await expect(runCodecServer({ port: '70000', host: '127.0.0.1' }, {})).rejects.toMatchObject({ variable: '--port' });
    const env = { RUNBOOK_CODEC_KEY: key.toString('base64') };
    await expect(runCodecServer({ port: '0', host: '127.0.0.1', authFile: '/nonexistent/auth' }, env)).rejects.toBeInstanceOf(CodecConfigError);
  });

  it('takes --allow-origin, repeatable, and refuses what is not an origin', async () => {
    const env = { RUNBOOK_CODEC_KEY: key.toString('base64') };
    const server = await runCodecServer({ port: '0', host: '127.0.0.1', allowOrigin: ['http://localhost:8080', 'https://temporal.example.com'] }, env);
    try {
      for (const origin of ['http://localhost:8080', 'https://temporal.example.com']) {
        expect((await post(server, '/encode', { payloads: [] }, { origin })).headers.get('access-control-allow-origin')).toBe(origin);
      }
      expect((await post(server, '/encode', { payloads: [] }, { origin: 'http://localhost:8233' })).headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await server.close();
    }
    for (const bad of ['http://localhost:8080/', 'localhost:8080', 'http://ui.example/path']) {
      await expect(runCodecServer({ port: '0', host: '127.0.0.1', allowOrigin: [bad] }, env)).rejects.toMatchObject({ variable: '--allow-origin' });
    }
  });

  it('refuses an --allow-host that is not a host name, and serves one that is', async () => {
    const env = { RUNBOOK_CODEC_KEY: key.toString('base64') };
    for (const bad of ['codec internal', 'evil.example:8888', '', 'a/b']) {
      await expect(runCodecServer({ port: '0', host: '127.0.0.1', allowHost: [bad] }, env)).rejects.toMatchObject({ variable: '--allow-host' });
    }
    const server = await runCodecServer({ port: '0', host: '127.0.0.1', allowHost: ['codec.internal'] }, env);
    await server.close();
  });

  it('collects repeated --allow-origin flags', async () => {
    const program = new Command('runbook').exitOverride();
    registerCodecServerCommands(program);
    const cmd = program.commands.find((c) => c.name() === 'codec-server')!;
    cmd.exitOverride();
    // Parse only: a bad --port stops the action before it listens, after commander has collected the options.
    program.configureOutput({ writeErr: () => undefined });
    cmd.configureOutput({ writeErr: () => undefined });
    await program
      .parseAsync(['node', 'runbook', 'codec-server', '--port', 'x', '--allow-origin', 'http://a.example', '--allow-origin', 'http://b.example'])
      .catch(() => undefined);
    expect(cmd.opts().allowOrigin).toEqual(['http://a.example', 'http://b.example']);
  });

  it('exits 2 on a bad --port before listening', async () => {
    const program = new Command('runbook').exitOverride();
    let stderr = '';
    program.configureOutput({ writeErr: (s) => (stderr += s) });
    registerCodecServerCommands(program);
    program.commands.forEach((c) => c.exitOverride().configureOutput({ writeErr: (s) => (stderr += s) }));
    const err = await program.parseAsync(['node', 'runbook', 'codec-server', '--port', 'eighty']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommanderError);
    expect((err as CommanderError).exitCode).toBe(2);
    expect(stderr).toMatch(/--port: "eighty" is not a port/);
  });
});
