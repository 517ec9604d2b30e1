/**
 * The codec server under hostile requests: a DNS-rebinding Host, a foreign Origin, too many payloads. Each is
 * refused before the key is used, and the refusal carries no plaintext. Real HTTP over loopback.
 */
import * as http from 'http';
import { defaultPayloadConverter } from '@temporalio/common';
import { AesGcmPayloadCodec } from '../../codec/encryption';
import { keyringOf } from '../../codec/keys';
import { hostAllowed, startCodecServer, type RunningCodecServer } from '../../codec/server';

const MARKER = 'plaintext-marker-9f3a';
const key = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 29 + 5) & 0xff));
const codec = new AesGcmPayloadCodec(keyringOf({ id: 'k', key }));

let server: RunningCodecServer;
let cipher: unknown;

beforeAll(async () => {
  server = await startCodecServer({ codec, port: 0, allowHosts: ['codec.internal'] });
  const [p] = await codec.encode([defaultPayloadConverter.toPayload({ secret: MARKER })]);
  cipher = {
    metadata: Object.fromEntries(Object.entries(p.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')])),
    data: Buffer.from(p.data!).toString('base64'),
  };
});
afterAll(() => server.close());

/** POST with exactly these headers (fetch may not set Host). */
function post(path: string, body: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const url = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, path, method: 'POST', headers: { 'content-type': 'application/json', ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const port = () => new URL(server.url).port;

describe('codec server: hostile requests are refused before decrypting', () => {
  test.each([
    ['a DNS-rebinding name', () => `attacker.example:${port()}`, 403],
    ['a name on another port', () => `localhost:1`, 403],
    ['no port for a non-80 server', () => 'localhost', 403],
    ['garbage', () => 'a b c', 403],
  ])('Host: %s → %d, no plaintext', async (_what, host, status) => {
    const res = await post('/decode', JSON.stringify({ payloads: [cipher] }), { host: host() });
    expect(res.status).toBe(status);
    expect(res.body).not.toContain(MARKER);
    expect(res.body).toMatch(/Host not allowed/);
  });

  test.each([
    ['localhost', () => `localhost:${port()}`],
    ['127.0.0.1', () => `127.0.0.1:${port()}`],
    ['a name given with --allow-host', () => `codec.internal:${port()}`],
  ])('Host: %s is served', async (_what, host) => {
    const res = await post('/decode', JSON.stringify({ payloads: [cipher] }), { host: host() });
    expect(res.status).toBe(200);
    expect(res.body).toContain(Buffer.from(JSON.stringify({ secret: MARKER })).toString('base64'));
  });

  test('a foreign Origin gets 403 and no plaintext, not just a missing CORS header', async () => {
    const res = await post('/decode', JSON.stringify({ payloads: [cipher] }), { host: `localhost:${port()}`, origin: 'http://evil.example' });
    expect(res.status).toBe(403);
    expect(res.body).toMatch(/Origin not allowed: add the Web UI with --allow-origin/);
    expect(res.body).not.toContain(Buffer.from(JSON.stringify({ secret: MARKER })).toString('base64'));
  });

  test('the default UI origin is served', async () => {
    const res = await post('/decode', JSON.stringify({ payloads: [cipher] }), { host: `localhost:${port()}`, origin: 'http://localhost:8233' });
    expect(res.status).toBe(200);
  });

  test('more than 1000 payloads in one request is 413', async () => {
    const res = await post('/decode', JSON.stringify({ payloads: Array(1001).fill(cipher) }), { host: `localhost:${port()}` });
    expect(res.status).toBe(413);
    expect(res.body).toMatch(/at most 1000 payloads per request/);
  });

  test('hostAllowed: IPv6 literal and port rules', () => {
    expect(hostAllowed('[::1]:8888', 8888)).toBe(true);
    expect(hostAllowed('[::1]:8889', 8888)).toBe(false);
    expect(hostAllowed('example.com', 80)).toBe(false);
    expect(hostAllowed('10.1.2.3:8888', 8888)).toBe(true);
    expect(hostAllowed(undefined, 8888)).toBe(false);
  });
});
