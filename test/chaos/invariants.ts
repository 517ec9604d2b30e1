/**
 * The chaos suite's journal invariants (issue 8 §1), judged on the lab's own journal: what the nodes saw, not what
 * the runbooks say they did. Each check returns its violations as sentences naming the time and the nodes; an
 * empty list is a pass. Windows are the wall-clock spans of the runbooks the driver ran (journal `t` is the same
 * machine's clock), so that faults and operator actions between runbooks are not held against the engine.
 */
import type { JournalEntry } from '../../lab';

export interface RunbookWindow {
  kind: 'form' | 'upgrade' | 'recover-quorum' | string;
  startMs: number;
  endMs: number;
}

export interface InvariantContext {
  windows: RunbookWindow[];
  /** dqlite voters while the upgrades run. */
  voters: string[];
  /** Control-plane nodes of the upgraded cluster. */
  controlPlanes: string[];
  /** Minor every node ran when the lab came up (e.g. 28). */
  initialMinor: number;
  /** Control-plane nodes that survive a quorum loss: each must be backed up before any `.reconfigure`. */
  survivors: string[];
}

export type InvariantName =
  | 'two voters out of service during an upgrade'
  | 'worker refreshed before every control plane'
  | 'reconfigure without a backup first'
  | 'uncordoned a node the engine did not cordon'
  | 'node joined twice'
  | 'reconfigure after files were distributed';

const at = (e: JournalEntry) => Date.parse(e.t);
const within = (e: JournalEntry, w: RunbookWindow) => at(e) >= w.startMs && at(e) <= w.endMs;
const windowOf = (e: JournalEntry, ws: RunbookWindow[]) => ws.find((w) => within(e, w));

/** `v1.29.3`, `1.29/stable` → 29. */
export function minorOf(v: unknown): number | undefined {
  const m = /^v?1\.(\d+)/.exec(String(v));
  return m ? Number(m[1]) : undefined;
}

/** Out of service = cordoned, or its dqlite member down (refresh, stop, crash) until it is back in service. */
export function votersOutTogether(journal: JournalEntry[], ctx: InvariantContext): string[] {
  const upgrades = ctx.windows.filter((w) => w.kind === 'upgrade');
  const cordoned = new Set<string>();
  const down = new Set<string>();
  const problems = new Set<string>();
  for (const e of journal) {
    if (e.event === 'cordoned') cordoned.add(e.node);
    if (e.event === 'uncordoned') cordoned.delete(e.node);
    if (e.event === 'out-of-service') down.add(e.node);
    if (e.event === 'in-service') down.delete(e.node);
    if (!windowOf(e, upgrades)) continue;
    const out = ctx.voters.filter((n) => cordoned.has(n) || down.has(n));
    if (out.length > 1) problems.add(`${e.t}: voters out of service together: ${out.join(', ')} (after ${e.event ?? e.argv?.join(' ')} on ${e.node})`);
  }
  return [...problems];
}

/** A worker may move to minor M only when every control plane runs M or newer. */
export function workerBeforeControlPlanes(journal: JournalEntry[], ctx: InvariantContext): string[] {
  const upgrades = ctx.windows.filter((w) => w.kind === 'upgrade');
  const cpMinor: Record<string, number> = Object.fromEntries(ctx.controlPlanes.map((n) => [n, ctx.initialMinor]));
  const problems: string[] = [];
  for (const e of journal) {
    if (e.event !== 'refreshed' && e.event !== 'reverted') continue;
    const to = minorOf(e.to);
    if (to === undefined) continue;
    if (ctx.controlPlanes.includes(e.node)) cpMinor[e.node] = to;
    else if (e.event === 'refreshed' && !e.auto && windowOf(e, upgrades)) {
      const behind = ctx.controlPlanes.filter((cp) => cpMinor[cp] < to);
      if (behind.length) problems.push(`${e.t}: worker ${e.node} refreshed to ${String(e.to)} while ${behind.map((cp) => `${cp} ran 1.${cpMinor[cp]}`).join(', ')}`);
    }
  }
  return problems;
}

const isTarCreate = (e: JournalEntry) => !!e.argv && e.argv.some((a) => a === 'tar' || a.endsWith('/tar')) && e.argv.some((a) => /^-[A-Za-z]*c[A-Za-z]*f?$/.test(a)) && e.exit === 0;

/** Every surviving control plane has a complete `tar -c` of its backend, in this recovery, before `.reconfigure`. */
export function backupBeforeReconfigure(journal: JournalEntry[], ctx: InvariantContext): string[] {
  const problems: string[] = [];
  for (const e of journal) {
    if (e.event !== 'reconfigured') continue;
    const w = windowOf(e, ctx.windows.filter((x) => x.kind === 'recover-quorum'));
    const from = w?.startMs ?? 0;
    for (const s of ctx.survivors) {
      const backedUp = journal.some((b) => b.node === s && isTarCreate(b) && at(b) >= from && at(b) <= at(e));
      if (!backedUp) problems.push(`${e.t}: .reconfigure on ${e.node} before any backup of ${s}`);
    }
  }
  return problems;
}

/** Nodes cordoned outside every runbook (an operator's cordon) must stay cordoned while runbooks run. */
export function uncordonedForeign(journal: JournalEntry[], ctx: InvariantContext): string[] {
  const by = new Map<string, 'engine' | 'operator'>();
  const problems: string[] = [];
  for (const e of journal) {
    if (e.event === 'cordoned') by.set(e.node, windowOf(e, ctx.windows) ? 'engine' : 'operator');
    if (e.event === 'uncordoned') {
      const w = windowOf(e, ctx.windows);
      if (w && by.get(e.node) === 'operator') problems.push(`${e.t}: ${w.kind} uncordoned ${e.node}, which an operator had cordoned`);
      by.delete(e.node);
    }
  }
  return problems;
}

export function joinedTwice(journal: JournalEntry[]): string[] {
  const joins = new Map<string, string[]>();
  for (const e of journal) if (e.event === 'joined') joins.set(e.node, [...(joins.get(e.node) ?? []), e.t]);
  return [...joins].filter(([, ts]) => ts.length > 1).map(([n, ts]) => `${n} joined ${ts.length} times (${ts.join(', ')})`);
}

/** Commands that write into a dqlite backend directory (cp, mv, tar -x): how recovery distributes raft files. */
const writesBackend = (e: JournalEntry) =>
  !!e.argv &&
  (['cp', 'mv'].includes(e.argv[0]) || (e.argv[0] === 'tar' && e.argv.some((a) => /^-[A-Za-z]*x/.test(a)))) &&
  e.argv.some((a) => a.includes('/var/kubernetes/backend'));

/**
 * In a recovery: one `.reconfigure` at most, and none once raft files went to a survivor other than the template
 * (the files it would read have then changed: reference §7).
 */
export function reconfigureAfterDistribution(journal: JournalEntry[], ctx: InvariantContext): string[] {
  const problems: string[] = [];
  for (const w of ctx.windows.filter((x) => x.kind === 'recover-quorum')) {
    const inside = journal.filter((e) => within(e, w));
    const reconfigs = inside.filter((e) => e.event === 'reconfigured');
    if (reconfigs.length > 1) problems.push(`${reconfigs.length} .reconfigure runs in one recovery (${reconfigs.map((e) => `${e.node}@${e.t}`).join(', ')})`);
    const template = reconfigs[0]?.node;
    const firstCopy = inside.find((e) => writesBackend(e) && template !== undefined && e.node !== template);
    if (!firstCopy) continue;
    for (const r of reconfigs) if (at(r) > at(firstCopy)) problems.push(`${r.t}: .reconfigure on ${r.node} after raft files were copied to ${firstCopy.node} (${firstCopy.t})`);
  }
  return problems;
}

export function checkInvariants(journal: JournalEntry[], ctx: InvariantContext): Record<InvariantName, string[]> {
  return {
    'two voters out of service during an upgrade': votersOutTogether(journal, ctx),
    'worker refreshed before every control plane': workerBeforeControlPlanes(journal, ctx),
    'reconfigure without a backup first': backupBeforeReconfigure(journal, ctx),
    'uncordoned a node the engine did not cordon': uncordonedForeign(journal, ctx),
    'node joined twice': joinedTwice(journal),
    'reconfigure after files were distributed': reconfigureAfterDistribution(journal, ctx),
  };
}
