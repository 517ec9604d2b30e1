/** What every simulated command gets: its node, output that goes out in order, the state, timing and the journal. */
import * as fs from 'fs';
import * as path from 'path';
import type { LabState, NodeState } from './model';
import { journal, readState, sleepSync, withState } from './store';
import { type Timing, timingFor } from '../timing';

export class Sim {
  private buffered: Array<[1 | 2, string]> | null = null;
  private timingCache?: Timing;
  /** Simulated time this command spent waiting (the journal's `simMs`): what a real MicroK8s would have taken. */
  simMs = 0;
  private rootCache?: boolean;

  /**
   * Whether the command runs as root, judged like MicroK8s judges it: by identity (uid 0, `ssh root@…` or the real
   * sudo). In a lab run without root (`privilege: marker`), the lab's `sudo` shim stands in for sudo and marks what it
   * runs the way sudo does (SUDO_UID set, USER=root).
   */
  get root(): boolean {
    if (this.rootCache === undefined) {
      const marked = process.env.SUDO_UID !== undefined && process.env.USER === 'root';
      this.rootCache = process.getuid?.() === 0 || (marked && this.peek().privilege !== 'uid');
    }
    return this.rootCache;
  }

  constructor(
    readonly labDir: string,
    readonly node: string,
  ) {}

  /** Like Python's print(): always adds a newline (so "text\n" prints a blank line after it). */
  out(text: string): void {
    this.write(1, text + '\n');
  }
  /** Output without a newline (progress dots). */
  print(text: string): void {
    this.write(1, text);
  }
  err(text: string): void {
    this.write(2, text.endsWith('\n') ? text : text + '\n');
  }

  private write(fd: 1 | 2, text: string): void {
    if (this.buffered) {
      this.buffered.push([fd, text]);
      return;
    }
    writeAll(fd, text);
  }

  /** Keep output back (drop-ssh: the connection is cut before all of it is delivered). */
  hold(): void {
    this.buffered = [];
  }
  releaseHalf(): void {
    const parts = this.buffered ?? [];
    this.buffered = null;
    for (const [fd, text] of parts.slice(0, Math.ceil(parts.length / 2))) writeAll(fd, text);
  }

  state<T>(fn: (s: LabState, now: number, self: NodeState) => T): T {
    return withState(this.labDir, (s, now) => fn(s, now, s.nodes[this.node]));
  }
  peek(): LabState {
    return readState(this.labDir);
  }
  get timing(): Timing {
    if (!this.timingCache) {
      const s = this.peek();
      this.timingCache = timingFor(s.profile, s.timeScale);
    }
    return this.timingCache;
  }
  /**
   * Simulated waiting. Asynchronous on purpose: the event loop stays free, so a SIGTERM from the engine's cancel
   * (or a dropped connection's SIGHUP) ends the command at once and still journals it (sim/main.ts).
   */
  sleep(ms: number): Promise<void> {
    const d = Math.max(0, Math.round(ms));
    this.simMs += d;
    return d > 0 ? new Promise((resolve) => setTimeout(resolve, d)) : Promise.resolve();
  }
  event(event: string, details: Record<string, unknown> = {}, node = this.node): void {
    journal(this.labDir, node, event, details);
  }
  pidFile(node = this.node): string {
    return path.join(this.labDir, 'nodes', node, 'sshd', 'sshd.pid');
  }
}

function writeAll(fd: number, text: string): void {
  const buf = Buffer.from(text);
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') sleepSync(2);
      else if (code === 'EPIPE') return;
      else throw e;
    }
  }
}

/** A usage-level failure inside a command: message already chosen, exit code attached. */
export class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}
