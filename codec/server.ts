/**
 * Codec server for the Temporal Web UI and `temporal --codec-endpoint`: `POST /decode` and `POST /encode` take and
 * return `{ payloads: [{ metadata: { key: base64 }, data: base64 }] }` and run the same codec as the worker.
 * Plain node:http, bound to 127.0.0.1 by default: whoever can reach it can read every payload, so keep it local or
 * behind authentication (`authorization`).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PayloadCodec } from '@temporalio/common';
import { payloadFromJson, payloadToJson, type JsonPayload } from './json-payload';

export const DEFAULT_CODEC_HOST = '127.0.0.1';
export const DEFAULT_CODEC_PORT = 8888;
/**
 * Browsers may call the codec server only from these origins unless told otherwise: the Web UI of `runbook dev`
 * (`temporal server start-dev`). Allowing any origin would let every web page the operator visits use the server to
 * decrypt (or encrypt) with the key.
 */
export const DEFAULT_ALLOW_ORIGINS: readonly string[] = ['http://localhost:8233', 'http://127.0.0.1:8233'];
const ALLOWED_HEADERS = 'x-namespace, content-type, authorization';
// The UI posts one event's payloads at a time; Temporal's own blob limit is 2 MiB per payload.
const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;
// One event carries a handful of payloads; thousands in one request is someone using the key as an oracle.
const DEFAULT_MAX_PAYLOADS = 1000;

export interface CodecServerOptions {
  codec: PayloadCodec;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Origins allowed by CORS (`'*'`: any); default DEFAULT_ALLOW_ORIGINS. */
  allowOrigins?: readonly string[];
  /** When set, requests must carry exactly this `Authorization` header value. */
  authorization?: string;
  maxBodyBytes?: number;
  maxPayloads?: number;
  /**
   * Host names (besides localhost and IP literals) that requests may name in their Host header. Anything else is
   * refused, so a web page cannot reach the server through a DNS-rebinding name that resolves to 127.0.0.1.
   */
  allowHosts?: readonly string[];
}

/** Whether a request's Host header names this server: localhost, an IP literal, or an allowed name; on its port. */
export function hostAllowed(hostHeader: string | undefined, port: number, allowHosts: readonly string[] = []): boolean {
  if (!hostHeader) return false;
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:]+)(?::(\d+))?$/.exec(hostHeader.trim());
  if (!m) return false;
  const name = m[1].toLowerCase();
  if (m[2] !== undefined && Number(m[2]) !== port) return false;
  if (m[2] === undefined && port !== 80) return false;
  const ipLiteral = /^\d{1,3}(\.\d{1,3}){3}$/.test(name) || name.startsWith('[');
  return ipLiteral || name === 'localhost' || allowHosts.map((h) => h.toLowerCase()).includes(name);
}

export interface RunningCodecServer {
  server: Server;
  /** e.g. http://127.0.0.1:8888, for `--ui-codec-endpoint` and `--codec-endpoint`. */
  url: string;
  close(): Promise<void>;
}

export function createCodecServer(options: CodecServerOptions): Server {
  const allowOrigins = options.allowOrigins ?? DEFAULT_ALLOW_ORIGINS;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const maxPayloads = options.maxPayloads ?? DEFAULT_MAX_PAYLOADS;
  const expectedAuth = options.authorization === undefined ? undefined : digest(options.authorization);

  const server = createServer((req, res) => {
    // Refuse before anything else: a rebinding name or a foreign page gets no answer it could read.
    const port = (server.address() as AddressInfo | null)?.port ?? 0;
    if (!hostAllowed(req.headers.host, port, options.allowHosts)) {
      return reply(res, 403, { error: 'Host not allowed: call the codec server by localhost, an IP address, or a name given with --allow-host' });
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !allowOrigins.includes('*') && !allowOrigins.includes(origin)) {
      return reply(res, 403, { error: 'Origin not allowed: add the Web UI with --allow-origin' });
    }
    setCorsHeaders(req, res, allowOrigins);
    if (req.method === 'OPTIONS') return reply(res, 204);
    const route = (req.url ?? '').split('?')[0];
    if (route !== '/decode' && route !== '/encode') return reply(res, 404, { error: 'use POST /decode or POST /encode' });
    if (req.method !== 'POST') return reply(res, 405, { error: `${route} takes POST` });
    if (expectedAuth && !timingSafeEqual(digest(req.headers.authorization ?? ''), expectedAuth)) {
      return reply(res, 401, { error: 'missing or wrong Authorization header' });
    }
    readBody(req, maxBodyBytes)
      .then(async (body) => {
        const payloads = parseRequest(body, maxPayloads).map(payloadFromJson);
        const out = route === '/decode' ? await options.codec.decode(payloads) : await options.codec.encode(payloads);
        reply(res, 200, { payloads: out.map(payloadToJson) });
      })
      .catch((err: unknown) => {
        const status = err instanceof HttpError ? err.status : 400;
        reply(res, status, { error: err instanceof Error ? err.message : String(err) });
      });
  });
  return server;
}

/** Starts listening; resolves once the port is bound. */
export async function startCodecServer(options: CodecServerOptions): Promise<RunningCodecServer> {
  const server = createCodecServer(options);
  const host = options.host ?? DEFAULT_CODEC_HOST;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? DEFAULT_CODEC_PORT, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    server,
    url: `http://${urlHost}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function setCorsHeaders(req: IncomingMessage, res: ServerResponse, allowOrigins: readonly string[]): void {
  const origin = req.headers.origin;
  if (allowOrigins.includes('*')) {
    res.setHeader('Access-Control-Allow-Origin', '*');
  } else if (origin && allowOrigins.includes(origin)) {
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Vary', 'Origin');
  }
  res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
  res.setHeader('Access-Control-Allow-Headers', ALLOWED_HEADERS);
}

function reply(res: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (status === 413) headers.Connection = 'close';
  res.writeHead(status, headers).end(JSON.stringify(body));
}

function readBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        // Answer now and discard the rest; destroying the socket would lose the 413 itself.
        req.removeAllListeners('data');
        req.resume();
        reject(new HttpError(413, `request body is larger than ${maxBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseRequest(body: string, maxPayloads: number): JsonPayload[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new HttpError(400, 'body must be JSON: { "payloads": [{ "metadata": { "key": "<base64>" }, "data": "<base64>" }] }');
  }
  const payloads = (parsed as { payloads?: unknown } | null)?.payloads;
  if (!Array.isArray(payloads)) throw new HttpError(400, 'body must have a "payloads" array');
  if (payloads.length > maxPayloads) throw new HttpError(413, `at most ${maxPayloads} payloads per request`);
  for (const [i, p] of payloads.entries()) {
    const ok =
      typeof p === 'object' &&
      p !== null &&
      (p.data === undefined || p.data === null || typeof p.data === 'string') &&
      (p.metadata === undefined || p.metadata === null || (typeof p.metadata === 'object' && Object.values(p.metadata).every((v) => typeof v === 'string')));
    if (!ok) throw new HttpError(400, `payloads[${i}] must be { metadata: { key: base64 string }, data: base64 string }`);
  }
  return payloads as JsonPayload[];
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
