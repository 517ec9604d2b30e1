/**
 * The chaos schedule: while a runbook is in flight, wait a seeded random gap, then SIGKILL the worker (and
 * restart it), K times; one of the events, drawn from the seed, restarts the Temporal dev server instead.
 * Gaps are drawn whether or not a runbook runs, so a seed always gives the same sequence of gaps.
 */
import type { Rng } from './rng';
import type { DevServer } from './temporal-server';
import type { ChaosWorker } from './worker-process';

export interface ChaosEvent {
  t: string;
  what: 'worker SIGKILL' | 'server restart';
  phase: string;
  /** The runbook's step when it happened (progress query, best effort). */
  step?: string;
  /** Time until the replacement was up, ms. */
  recoveryMs: number;
}

export interface ChaosOptions {
  rng: Rng;
  kills: number;
  minGapMs: number;
  maxGapMs: number;
  worker: ChaosWorker;
  server: DevServer;
  serverSignal: NodeJS.Signals;
  /** The phase in flight, or undefined between runbooks. */
  phase: () => string | undefined;
  step: () => Promise<string | undefined>;
  log: (line: string) => void;
}

export class ChaosSchedule {
  readonly events: ChaosEvent[] = [];
  private stopped = false;
  private readonly done: Promise<void>;
  /** 1-based index of the event that restarts the server. */
  readonly serverAt: number;

  constructor(private readonly o: ChaosOptions) {
    this.serverAt = o.rng.int(1, Math.max(1, o.kills));
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    let n = 0;
    while (!this.stopped && (this.o.worker.kills < this.o.kills || this.o.server.restarts < 1)) {
      const gap = this.o.minGapMs + Math.floor(this.o.rng.next() * (this.o.maxGapMs - this.o.minGapMs));
      await new Promise((r) => setTimeout(r, gap));
      const phase = this.o.phase();
      if (this.stopped || !phase) continue;
      n++;
      const step = await Promise.race([this.o.step().catch(() => undefined), new Promise<undefined>((r) => setTimeout(() => r(undefined), 1500))]);
      const t0 = Date.now();
      const t = new Date(t0).toISOString();
      if ((n >= this.serverAt && this.o.server.restarts < 1) || this.o.worker.kills >= this.o.kills) {
        this.o.log(`chaos #${n}: restarting the Temporal dev server (${this.o.serverSignal}, same port and SQLite file) during ${phase}${step ? ` / ${step}` : ''}`);
        await this.o.server.restart(this.o.serverSignal);
        this.events.push({ t, what: 'server restart', phase, step, recoveryMs: Date.now() - t0 });
      } else {
        this.o.log(`chaos #${n}: SIGKILL worker pid ${this.o.worker.pid} during ${phase}${step ? ` / ${step}` : ''}`);
        await this.o.worker.killAndRestart();
        this.events.push({ t, what: 'worker SIGKILL', phase, step, recoveryMs: Date.now() - t0 });
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}
