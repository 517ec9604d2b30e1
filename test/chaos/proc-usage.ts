/** RSS and CPU time of a process from /proc (Linux), sampled while a load runs. */
import * as fs from 'fs';

const TICK = 100; // USER_HZ on Linux

export interface Usage {
  rssKb: number;
  cpuMs: number;
}

export function usageOf(pid: number): Usage | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuMs = ((Number(fields[11]) + Number(fields[12])) * 1000) / TICK; // utime + stime
    const rss = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return { rssKb: rss ? Number(rss[1]) : 0, cpuMs };
  } catch {
    return undefined; // the process is gone
  }
}

/**
 * Samples every `everyMs` until stopped: peak RSS and CPU used meanwhile. The pid may change (a worker killed and
 * restarted): CPU is summed per process, each from its first sample (a restarted process counts from its start).
 */
export class UsageSampler {
  peakRssKb = 0;
  private readonly cpu = new Map<number, { first: number; last: number }>();
  private readonly t0 = Date.now();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: () => number | undefined, everyMs = 200) {
    this.timer = setInterval(() => this.sample(), everyMs);
    this.sample();
  }

  private sample(): void {
    const pid = this.pid();
    const u = pid ? usageOf(pid) : undefined;
    if (!u || !pid) return;
    const seen = this.cpu.get(pid);
    // A process first seen after the first sample started during the run: it counts from zero.
    this.cpu.set(pid, { first: seen?.first ?? (this.cpu.size ? 0 : u.cpuMs), last: u.cpuMs });
    this.peakRssKb = Math.max(this.peakRssKb, u.rssKb);
  }

  stop(): { peakRssMb: number; cpuSeconds: number; cpuPercent: number; wallSeconds: number } {
    this.sample();
    clearInterval(this.timer);
    const wall = (Date.now() - this.t0) / 1000;
    const cpu = [...this.cpu.values()].reduce((sum, c) => sum + c.last - c.first, 0) / 1000;
    return { peakRssMb: Math.round(this.peakRssKb / 102.4) / 10, cpuSeconds: Math.round(cpu * 10) / 10, cpuPercent: Math.round((cpu / wall) * 100), wallSeconds: Math.round(wall * 10) / 10 };
  }
}
