/**
 * Connections pooled per worker process, keyed by node identity (address, port, user, credentials, jump, trust).
 * A connection serves every command and activity for its node, closes after an idle timeout, and is replaced
 * when it dies: a closed connection is dropped at once, and a channel that cannot open on a connection that just
 * died is retried on a fresh one (the command never started, so retrying it is safe).
 */
import type { ClientChannel } from 'ssh2';
import type { NodeSpec } from '../../common/inventory';
import { openConnection, type ConnectOptions } from './connect';
import { connectionFailed } from './failures';
import { PooledConnection } from './connection';
import { registerSessionRecords } from './audit';
import { NodeSessionImpl } from './session';
import type { ChannelOpener, NodeSession, SshPoolOptions, TrustSettings } from './types';

const DEFAULTS = { idleTimeoutMs: 60_000, connectTimeoutMs: 15_000, keepaliveIntervalMs: 15_000, maxChannelsPerConnection: 8 };

export class SshPool implements ChannelOpener {
  private readonly opts: Required<SshPoolOptions> & ConnectOptions;
  private readonly connections = new Map<string, Promise<PooledConnection>>();
  /** Connections opened so far (for tests and benchmarks: reuse means this stays small). */
  connectCount = 0;

  constructor(options: SshPoolOptions = {}) {
    this.opts = { ...DEFAULTS, ...options } as Required<SshPoolOptions> & ConnectOptions;
  }

  session(node: NodeSpec, trust: TrustSettings): NodeSession {
    const session = new NodeSessionImpl(node, trust, this);
    registerSessionRecords(session.records); // the activity's audit trail (./audit.ts)
    return session;
  }

  /**
   * Open the node's pooled connection in the background, if it is not open yet, so that the next command on it
   * does not wait for the handshake (an activity about to need the node calls this while it works elsewhere).
   * A failure here is dropped: the command that needs the connection reconnects and reports it.
   */
  warm(node: NodeSpec, trust: TrustSettings): void {
    this.connection(node, trust).catch(() => undefined);
  }

  /** An exec channel on a live connection to the node, reconnecting once if the pooled one turns out dead. */
  async openChannel(node: NodeSpec, trust: TrustSettings, line: string): Promise<{ conn: PooledConnection; channel: ClientChannel }> {
    for (let attempt = 1; ; attempt++) {
      const conn = await this.connection(node, trust);
      try {
        return { conn, channel: await conn.exec(line) };
      } catch (e) {
        const err = e as Error & { notStarted?: boolean };
        // Retry the connection, not the command: only when the command surely never started.
        if (err.notStarted && attempt === 1 && (conn.dead || /not connected|no response/i.test(err.message))) {
          this.drop(node, trust, conn);
          continue;
        }
        throw connectionFailed(`${node.name}: cannot start a command over SSH: ${err.message}`);
      }
    }
  }

  async close(): Promise<void> {
    const all = [...this.connections.values()];
    this.connections.clear();
    for (const p of all) {
      const conn = await p.catch(() => undefined);
      conn?.end();
    }
  }

  private key(node: NodeSpec, trust: TrustSettings): string {
    const { address, port, user, identityFile, agent, jump, hostKey } = node;
    return JSON.stringify([address, port, user, identityFile, agent, jump, hostKey, trust.knownHosts, trust.hostKeyPolicy]);
  }

  private connection(node: NodeSpec, trust: TrustSettings): Promise<PooledConnection> {
    const key = this.key(node, trust);
    const existing = this.connections.get(key);
    if (existing) return existing.then((c) => (c.dead ? this.reconnect(key, node, trust, existing) : c));
    return this.reconnect(key, node, trust, undefined);
  }

  private reconnect(key: string, node: NodeSpec, trust: TrustSettings, stale: Promise<PooledConnection> | undefined): Promise<PooledConnection> {
    const current = this.connections.get(key);
    if (current && current !== stale) return current; // someone else is already reconnecting
    const opening = openConnection(node, trust, this.opts).then(({ client }) => {
      this.connectCount++;
      const conn: PooledConnection = new PooledConnection(client, this.opts.maxChannelsPerConnection, this.opts.idleTimeoutMs, this.opts.connectTimeoutMs, () => {
        if (this.connections.get(key) === opening) this.connections.delete(key);
      });
      return conn;
    });
    this.connections.set(key, opening);
    opening.catch(() => {
      if (this.connections.get(key) === opening) this.connections.delete(key);
    });
    return opening;
  }

  private drop(node: NodeSpec, trust: TrustSettings, conn: PooledConnection): void {
    const key = this.key(node, trust);
    const current = this.connections.get(key);
    void current?.then((c) => {
      if (c === conn && this.connections.get(key) === current) this.connections.delete(key);
    });
    conn.end();
  }
}
