/** What every simulated command gets: its node, output that goes out in order, the state, timing and the journal. */
import * as fs from 'fs';
import * as path from 'path';
import type { LabState, NodeState } from './model';
import { journal, readState, sleepSync, withState } from './store';
import { type Timing, timingFor } from '../timing';

export class Sim {
  private buffered: Array<[1 | 2, string]> | null = null;
  private timingCache?: Timing;

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
  sleep(ms: number): void {
    sleepSync(ms);
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
