/**
 * One pooled SSH connection: a bounded number of exec channels at a time (OpenSSH's MaxSessions), an idle timer,
 * and the exit status of each channel it opened, kept as soon as sshd reports it.
 */
import type { ClientChannel } from 'ssh2';

/** OpenSSH allows 10 sessions per connection (MaxSessions); commands beyond the limit wait for a free one,
 * and the spare sessions are left for `kill` so ending a command never queues. */

const exitStatus = new WeakMap<ClientChannel, { code: number | null; signal?: string }>();

/** The exit status sshd reported for a channel opened by the pool, if it has arrived. */
export function exitStatusOf(channel: ClientChannel): { code: number | null; signal?: string } | undefined {
  return exitStatus.get(channel);
}

export class PooledConnection {
  dead = false;
  private active = 0;
  private waiting: Array<() => void> = [];
  private idleTimer?: NodeJS.Timeout;

  constructor(
    readonly client: import('ssh2').Client,
    private readonly maxChannels: number,
    private readonly idleTimeoutMs: number,
    /** A channel that does not open within this means a half-open connection: it is destroyed and replaced. */
    private readonly openTimeoutMs: number,
    onDead: () => void,
  ) {
    const die = () => {
      if (this.dead) return;
      this.dead = true;
      if (this.idleTimer) clearTimeout(this.idleTimer);
      this.waiting.splice(0).forEach((wake) => wake());
      onDead();
    };
    client.on('close', die);
    client.on('end', die);
    client.on('error', die);
    this.armIdle();
  }

  /** Open an exec channel (its exit status, once known, is in `exitStatusOf(channel)`); `notStarted` on the error says the command surely did not run. */
  async exec(line: string, bypassLimit = false): Promise<ClientChannel> {
    if (!bypassLimit) await this.slot();
    if (this.dead) {
      if (!bypassLimit) this.release();
      throw Object.assign(new Error('connection closed'), { notStarted: true });
    }
    return new Promise<ClientChannel>((resolve, reject) => {
      const fail = (err: Error) => {
        if (!bypassLimit) this.release();
        reject(Object.assign(err, { notStarted: true }));
      };
      const stalled = setTimeout(() => this.client.destroy(), this.openTimeoutMs); // fails the open below
      try {
        this.client.exec(line, (err, channel) => {
          clearTimeout(stalled);
          if (err) return fail(err);
          if (!bypassLimit) channel.once('close', () => this.release());
          // ssh2 may emit 'exit' in the same tick as this callback, before the caller's listeners exist
          // (output is buffered by the stream; the exit status is not): keep it on the channel.
          channel.once('exit', (code: number | null, signal?: string) => {
            exitStatus.set(channel, { code, signal: signal ?? undefined });
          });
          resolve(channel);
        });
      } catch (e) {
        clearTimeout(stalled);
        fail(e as Error); // "Not connected": the socket is gone
      }
    });
  }

  /** Last resort when a channel cannot be closed: drop the connection, which closes every channel on it. */
  destroy(): void {
    this.client.destroy();
  }

  end(): void {
    this.dead = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.client.end();
  }

  private async slot(): Promise<void> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    while (this.active >= this.maxChannels && !this.dead) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
  }

  private release(): void {
    this.active--;
    this.waiting.shift()?.();
    this.armIdle();
  }

  private armIdle(): void {
    if (this.active > 0 || this.dead) return;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.end(), this.idleTimeoutMs);
    this.idleTimer.unref();
  }
}
