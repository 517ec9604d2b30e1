/**
 * Riding out Temporal: a server restart, a failover or a dropped connection is not the runbook's failure. Commands
 * that follow or read a runbook retry through it, say "reconnecting" once, and give up with exit 3 only when the
 * server stays away longer than the bound (RUNBOOK_RECONNECT_TIMEOUT, default 120 s).
 */
import { WorkflowFailedError } from '@temporalio/client';
import { ExitCode } from '../common/constants';
import { CliExit, connectionReason } from '../local/exit';
import { runbookEnv } from '../local/environment';
import { parseDuration } from './flags';

const UNAVAILABLE = 14;

/** The bound, from RUNBOOK_RECONNECT_TIMEOUT (`90`, `90s`, `2m`: the CLI's one duration grammar); 120 s by default. */
export function reconnectBoundMs(env: NodeJS.ProcessEnv = process.env): number {
  const seconds = parseDuration(runbookEnv('RUNBOOK_RECONNECT_TIMEOUT', env) ?? '');
  return seconds === undefined ? 120_000 : seconds * 1000;
}

/** Whether an error means "the server did not answer", as opposed to an answer (a failed runbook, a refusal). */
export function isConnectionLoss(e: unknown): boolean {
  if (e instanceof WorkflowFailedError) return false;
  for (let c = e as { code?: unknown; cause?: unknown; message?: unknown } | undefined, depth = 0; c && depth < 6; c = c.cause as typeof c, depth++) {
    if (c.code === UNAVAILABLE) return true;
    const msg = typeof c.message === 'string' ? c.message : '';
    if (/ECONNREFUSED|ECONNRESET|EPIPE|UNAVAILABLE|transport is closing|Connection dropped|No connection established|tcp connect error/i.test(msg)) return true;
  }
  return false;
}

/** Tracks one outage: when it began, and whether the bound has passed. */
export class Outage {
  private since?: number;
  private reason = '';

  constructor(
    private readonly say: (line: string) => void,
    private readonly boundMs = reconnectBoundMs(),
    private readonly now: () => number = Date.now,
  ) {}

  get active(): boolean {
    return this.since !== undefined;
  }

  /** A connection loss: announce it once; throw exit 3 once the bound has passed. */
  lost(e: unknown): void {
    this.reason = connectionReason(e);
    if (this.since === undefined) {
      this.since = this.now();
      this.say(`reconnecting: lost Temporal (${this.reason}); retrying for up to ${Math.round(this.boundMs / 1000)} s`);
    }
    if (this.now() - this.since > this.boundMs) {
      throw new CliExit(
        ExitCode.TEMPORAL_UNREACHABLE,
        `Temporal unreachable for more than ${Math.round(this.boundMs / 1000)} s (${this.reason}); the runbook itself may still be running: look again with runbook status once the server is back`,
      );
    }
  }

  /** The server answered again. */
  back(): void {
    if (this.since === undefined) return;
    this.say(`reconnected after ${Math.round((this.now() - this.since) / 1000)} s`);
    this.since = undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Run `call`, retrying through connection losses (1 s apart) until it answers or the bound passes (exit 3). */
export async function withReconnect<T>(call: () => Promise<T>, say: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<T> {
  const outage = new Outage(say);
  for (;;) {
    try {
      const value = await call();
      outage.back();
      return value;
    } catch (e) {
      if (!isConnectionLoss(e)) throw e;
      outage.lost(e);
      await sleep(1000);
    }
  }
}
