/**
 * A webhook receiver on loopback, standing in for a chat service's incoming webhook: it records every POST (path and
 * JSON body) and answers 200, or 500 under /fail/, like a service that is down. Used by the notifications e2e test
 * and the replay fixture recorder.
 */
import * as http from 'http';
import type { AddressInfo } from 'net';

export interface ReceivedNotice {
  path: string;
  body: Record<string, unknown>;
}

export class WebhookReceiver {
  readonly got: ReceivedNotice[] = [];
  /** `http://127.0.0.1:<port>`, once started. */
  base = '';
  private readonly server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (c) => (text += c));
    req.on('end', () => {
      this.got.push({ path: req.url ?? '', body: JSON.parse(text) as Record<string, unknown> });
      res.writeHead(req.url?.startsWith('/fail/') ? 500 : 200).end('ok');
    });
  });

  static async start(): Promise<WebhookReceiver> {
    const r = new WebhookReceiver();
    await new Promise<void>((resolve) => r.server.listen(0, '127.0.0.1', resolve));
    r.base = `http://127.0.0.1:${(r.server.address() as AddressInfo).port}`;
    return r;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  /** What was POSTed to exactly this path. */
  on(path: string): ReceivedNotice[] {
    return this.got.filter((r) => r.path === path);
  }

  /** The `n`th notice on `path` that `matches` (1 = the first), waiting up to a minute for it. */
  async waitFor(path: string, matches: (body: Record<string, unknown>) => boolean, n = 1): Promise<ReceivedNotice> {
    for (const until = Date.now() + 60_000; Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
      const found = this.on(path).filter((r) => matches(r.body));
      if (found.length >= n) return found[n - 1];
    }
    throw new Error(`notice ${n} not received on ${path} within 60s; got ${this.got.length} notice(s) in all`);
  }
}
