/**
 * Process trees from /proc: sshd forks every connection with setsid, so killing the listener's process group is
 * not enough to end a node's live sessions. We find them as descendants of the listener instead.
 */
import * as fs from 'fs';

export function parentOf(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces and parentheses: the fields after the last ")" are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[1]);
  } catch {
    return undefined;
  }
}

export function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const ppid = parentOf(pid);
    if (ppid === undefined) continue;
    if (!children.has(ppid)) children.set(ppid, []);
    children.get(ppid)!.push(pid);
  }
  const out: number[] = [];
  const stack = [...(children.get(root) ?? [])];
  while (stack.length) {
    const pid = stack.pop()!;
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

export function signal(pids: number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      /* gone already */
    }
  }
}

/** The per-connection sshd process this process runs under (its ancestor whose parent is the listener). */
export function connectionOf(pid: number, listener: number): number | undefined {
  let cur: number | undefined = pid;
  for (let i = 0; i < 64 && cur && cur > 1; i++) {
    const ppid = parentOf(cur);
    if (ppid === listener) return cur;
    cur = ppid;
  }
  return undefined;
}

/**
 * Processes still working for a lab after its nodes were killed: simulator commands orphaned when their session
 * ended (they carry LAB_DIR in their environment) and its boot processes (the lab directory in their arguments).
 */
export function labProcesses(labDir: string): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const env = fs.readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (env.includes(`LAB_DIR=${labDir}`) || (argv.some((a) => a.endsWith('/lab/boot.js')) && argv.includes(labDir))) out.push(Number(entry));
    } catch {
      /* gone, or not ours to read */
    }
  }
  return out;
}
