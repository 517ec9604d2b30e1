/**
 * The chaos schedule: K worker SIGKILLs (each followed by a restart) and one restart of the Temporal dev server,
 * spread over the scenario's runbooks: each kill is assigned to a runbook by the seed (so short runbooks get their
 * share), and within a runbook the moments are seeded random gaps. Kills a runbook could not take before it ended
 * carry over to the next one. Gaps are drawn whether or not a runbook runs, so a seed gives the same sequence.
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
  /** The scenario's runbooks, in order (the phases kills are assigned to). */
  phases: string[];
  /** The phase in flight, or undefined between runbooks. */
  phase: () => string | undefined;
  step: () => Promise<string | undefined>;
  log: (line: string) => void;
}

export class ChaosSchedule {
  readonly events: ChaosEvent[] = [];
  private stopped = false;
  private readonly done: Promise<void>;
  /** Kills assigned to each phase. */
  readonly quota: number[];
  /** The phase whose run the server restart hits, after this many of its kills. */
  readonly server: { phase: number; afterKills: number };

  constructor(private readonly o: ChaosOptions) {
    this.quota = o.phases.map(() => 0);
    for (let i = 0; i < o.kills; i++) this.quota[o.rng.int(0, o.phases.length - 1)]++;
    // The server restart needs a runbook after it to prove the resumption, and the last one may be over in 2 s:
    // it goes to any runbook but the last (a draw of the last moves it to the first).
    const drawnPhase = o.rng.int(0, o.phases.length - 1);
    const phase = drawnPhase === o.phases.length - 1 ? 0 : drawnPhase;
    this.server = { phase, afterKills: o.rng.int(0, this.quota[phase]) };
    this.done = this.loop();
  }

  /** Kills assigned to the phases before `end` that have not happened yet. */
  private killsOwedBefore(end: number): number {
    return this.quota.slice(0, end).reduce((a, b) => a + b, 0) - this.o.worker.kills;
  }

  /** Whether, in phase `idx`, a kill or the server restart meant for an earlier phase is still to come. */
  private overdue(idx: number): boolean {
    if (idx <= 0) return false;
    return this.killsOwedBefore(idx) > 0 || (this.o.server.restarts < 1 && idx > this.server.phase);
  }

  private async loop(): Promise<void> {
    const killsIn = this.o.phases.map(() => 0);
    let n = 0;
    while (!this.stopped && (this.o.worker.kills < this.o.kills || this.o.server.restarts < 1)) {
      const drawn = this.o.minGapMs + Math.floor(this.o.rng.next() * (this.o.maxGapMs - this.o.minGapMs));
      // What an earlier runbook ended owing is overdue: the shortest gap, so short runbooks (2–5 s) still take it
      // (the seeded sequence of gaps is drawn all the same).
      const gap = this.overdue(this.o.phases.indexOf(this.o.phase() ?? '')) ? this.o.minGapMs : drawn;
      await new Promise((r) => setTimeout(r, gap));
      const phase = this.o.phase();
      const idx = phase === undefined ? -1 : this.o.phases.indexOf(phase);
      if (this.stopped || phase === undefined || idx < 0) continue;
      const serverDue = this.o.server.restarts < 1 && (idx > this.server.phase || (idx === this.server.phase && killsIn[idx] >= this.server.afterKills));
      const killsDue = this.killsOwedBefore(idx + 1);
      if (!serverDue && killsDue <= 0) continue;
      n++;
      // The query may outlive the race (it retries while the server restarts): keep it, so stop() waits for it and no
      // call is still retrying when the driver closes its connection (grpc-js then throws from a timer).
      const query = this.o.step().catch(() => undefined);
      this.pending.add(query);
      void query.finally(() => this.pending.delete(query));
      const step = await Promise.race([query, new Promise<undefined>((r) => setTimeout(() => r(undefined), 700))]);
      const t0 = Date.now();
      const t = new Date(t0).toISOString();
      if (serverDue) {
        this.o.log(`chaos #${n}: restarting the Temporal dev server (${this.o.serverSignal}, same port and SQLite file) during ${phase}${step ? ` / ${step}` : ''}`);
        await this.o.server.restart(this.o.serverSignal);
        this.events.push({ t, what: 'server restart', phase, step, recoveryMs: Date.now() - t0 });
      } else {
        this.o.log(`chaos #${n}: SIGKILL worker pid ${this.o.worker.pid} during ${phase}${step ? ` / ${step}` : ''}`);
        await this.o.worker.killAndRestart();
        killsIn[idx]++;
        this.events.push({ t, what: 'worker SIGKILL', phase, step, recoveryMs: Date.now() - t0 });
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
    await Promise.all(this.pending);
  }

  private readonly pending = new Set<Promise<unknown>>();
}
