/**
 * snapd's refresh control (behaviour reference §14): `snap refresh --hold[=D] [microk8s]` / `--unhold`, per-snap and
 * system-wide holds, `snap refresh --time`, `snap get|set system refresh.*`, and how holds read back in
 * `snap info` and `snap list`. snapd 2.63 (the lab's `snap version`): `--hold` exists, Notes show `held`.
 */
import type { Sim } from './context';
import type { NodeState } from './model';

export type Hold = number | 'forever' | null;
const HUNDRED_YEARS_MS = 100 * 365.25 * 86_400_000;
export const DEFAULT_TIMER = '00:00~24:00/4';

const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go's time.ParseDuration, in ms, or the error text Go gives (`time: unknown unit "d" in duration "2d"`). */
export function parseGoDuration(text: string): number | string {
  const bad = `time: invalid duration "${text}"`;
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    sign = rest[0] === '-' ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') return bad;
  let total = 0;
  while (rest) {
    const num = /^(\d*)(\.\d*)?/.exec(rest)!;
    if (!num[0] || num[0] === '.') return bad;
    rest = rest.slice(num[0].length);
    const unit = /^[^\d.]*/.exec(rest)![0];
    if (!unit) return `time: missing unit in duration "${text}"`;
    if (!(unit in UNITS)) return `time: unknown unit "${unit}" in duration "${text}"`;
    rest = rest.slice(unit.length);
    total += Number(num[0]) * UNITS[unit];
  }
  return sign * total;
}

/** `--hold[=D]`: forever (no value or "forever"), or now + D; or the refusal snap prints. */
export function holdUntil(value: string, now: number): Hold | { error: string } {
  if (value === '' || value === 'forever') return 'forever';
  const d = parseGoDuration(value);
  if (typeof d === 'string') return { error: `error: hold value must be a number of hours, minutes or seconds, or "forever": ${d}` };
  if (d < 1000) return { error: `error: cannot hold refreshes for less than a second: ${value}` };
  return now + d;
}

export const rfc3339 = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

/** A time as snap prints it: RFC3339 with `--abs-time`, else snapd's human form. */
export const formatTime = (at: number, now: number, abs: boolean) => (abs ? rfc3339(at) : humanTime(at, now));

/** The hold as snap prints it: `forever` past 100 years, else RFC3339 (`--abs-time`) or snapd's human time. */
export function formatHold(h: Exclude<Hold, null>, now: number, abs: boolean): string {
  if (h === 'forever' || h - now > HUNDRED_YEARS_MS) return 'forever';
  return formatTime(h, now, abs);
}

/** snapd's timeutil.Human in UTC: today/tomorrow/yesterday at HH:MM, in N days, or the date. */
export function humanTime(at: number, now: number): string {
  const day = (ms: number) => Math.floor(ms / 86_400_000);
  const diff = day(at) - day(now);
  const hhmm = new Date(at).toISOString().slice(11, 16);
  if (diff === 0) return `today at ${hhmm} UTC`;
  if (diff === 1) return `tomorrow at ${hhmm} UTC`;
  if (diff === -1) return `yesterday at ${hhmm} UTC`;
  if (diff > 1 && diff < 7) return `in ${diff} days, at ${hhmm} UTC`;
  return new Date(at).toISOString().slice(0, 10);
}

/** A hold still in force. */
export const holding = (h: Hold | undefined, now: number): boolean => h === 'forever' || (typeof h === 'number' && h > now);

/** Whether an unattended refresh may run now: past both the system-wide and the snap's own hold. */
export function autoRefreshHeldBy(n: NodeState, now: number): string | undefined {
  if (holding(n.snap.hold, now)) return n.snap.hold === 'forever' ? 'forever' : rfc3339(n.snap.hold as number);
  const sys = n.snap.systemHold ?? null;
  if (holding(sys, now)) return sys === 'forever' ? 'forever' : rfc3339(sys as number);
  return undefined;
}

export interface HoldRequest {
  hold?: string;
  unhold: boolean;
  names: string[];
  otherFlags: boolean;
}

/** `snap refresh --hold …` / `--unhold …`: the texts of §14's table. */
export function refreshHold(sim: Sim, req: HoldRequest): number {
  if (req.otherFlags) {
    sim.err(`error: cannot use --${req.hold !== undefined ? 'hold' : 'unhold'} with other flags`);
    return 1;
  }
  const systemWide = req.names.length === 0;
  const quoted = req.names.map((x) => `"${x}"`).join(', ');
  if (req.hold !== undefined) {
    const until = holdUntil(req.hold, Date.now());
    if (until !== null && typeof until === 'object') {
      sim.err(until.error);
      return 1;
    }
    sim.state((_s, _now, n) => {
      if (systemWide) n.snap.systemHold = until;
      else n.snap.hold = until;
      sim.event('held', { scope: systemWide ? 'system' : 'microk8s', until: until === 'forever' ? 'forever' : rfc3339(until as number) });
    });
    const when = until === 'forever' ? 'indefinitely' : `until ${rfc3339(until as number)}`;
    sim.out(systemWide ? `Auto-refresh of all snaps held ${when}` : `General refreshes of ${quoted} held ${when}`);
    return 0;
  }
  sim.state((_s, _now, n) => {
    if (systemWide) n.snap.systemHold = null;
    else n.snap.hold = null;
    sim.event('unheld', { scope: systemWide ? 'system' : 'microk8s' });
  });
  sim.out(systemWide ? 'Removed auto-refresh hold on all snaps' : `Removed general refresh hold of ${quoted}`);
  return 0;
}

/** `snap refresh --time`: the timer, last and next refresh, and a system-wide hold (per-snap holds are not shown). */
export function refreshTime(sim: Sim, abs: boolean): number {
  const n = sim.peek().nodes[sim.node];
  const now = Date.now();
  const timer = n.snap.timer ?? DEFAULT_TIMER;
  const next = nextRefresh(n, now);
  const sys = n.snap.systemHold ?? null;
  const held = holding(sys, now) && (sys === 'forever' || next <= (sys as number));
  const fmt = (ms: number) => formatTime(ms, now, abs);
  sim.out(
    [
      `timer: ${timer}`,
      `last: ${n.snap.lastRefresh ? fmt(n.snap.lastRefresh) : 'n/a'}`,
      ...(holding(sys, now) ? [`hold: ${formatHold(sys as Exclude<Hold, null>, now, abs)}`] : []),
      `next: ${fmt(next)}${held ? ' (but held)' : ''}`,
    ].join('\n'),
  );
  return 0;
}

/** Four windows a day by default: the next six-hour boundary (the lab does not randomise within the window). */
function nextRefresh(n: NodeState, now: number): number {
  const base = n.snap.lastRefresh ?? now;
  const six = 6 * 3_600_000;
  return Math.max(now, Math.ceil((base + 1) / six) * six);
}

const CORE_OPTIONS = ['refresh.hold', 'refresh.timer', 'refresh.metered'];

/** `snap get system <key>`: set values only; an unset key is snapd's error (exit 1). */
export function getSystem(sim: Sim, keys: string[]): number {
  const n = sim.peek().nodes[sim.node];
  const values: Record<string, string | undefined> = {
    'refresh.hold': n.snap.systemHold == null ? undefined : n.snap.systemHold === 'forever' ? 'forever' : rfc3339(n.snap.systemHold),
    'refresh.timer': n.snap.timer,
    'refresh.metered': n.snap.metered,
  };
  for (const k of keys) {
    if (values[k] === undefined) {
      sim.err(`error: snap "core" has no "${k}" configuration option`);
      return 1;
    }
  }
  sim.out(keys.map((k) => values[k]).join('\n'));
  return 0;
}

/** `snap set system key=value …`, validated as snapd's core configuration does; nothing changes on a refusal. */
export function setSystem(sim: Sim, pairs: string[]): number {
  const changes: Array<[string, string]> = [];
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) {
      sim.err(`error: invalid configuration: "${p}" (want key=value)`);
      return 1;
    }
    changes.push([p.slice(0, eq), p.slice(eq + 1)]);
  }
  const refuse = (why: string) => {
    sim.err(`error: cannot perform the following tasks:\n- Run configure hook of "core" snap (${why})`);
    return 1;
  };
  for (const [k, v] of changes) {
    if (!CORE_OPTIONS.includes(k)) continue; // other core options are not modelled: accepted, unused
    if (k === 'refresh.hold' && v !== '' && v !== 'forever' && Number.isNaN(Date.parse(v))) return refuse(`refresh.hold cannot be parsed: parsing time "${v}" as "2006-01-02T15:04:05Z07:00": cannot parse "${v}" as "2006"`);
    if (k === 'refresh.metered' && v !== '' && v !== 'hold') return refuse(`refresh.metered value "${v}" is invalid`);
    if (k === 'refresh.timer' && v !== '' && !/^[\w:~/,.-]+$/.test(v)) return refuse(`cannot parse "${v}": not a valid schedule`);
  }
  sim.state((_s, _now, n) => {
    for (const [k, v] of changes) {
      if (k === 'refresh.hold') n.snap.systemHold = v === '' ? null : v === 'forever' ? 'forever' : Date.parse(v);
      if (k === 'refresh.timer') n.snap.timer = v === '' ? undefined : v;
      if (k === 'refresh.metered') n.snap.metered = v === '' ? undefined : v;
    }
    sim.event('snap-set', { system: Object.fromEntries(changes) });
  });
  return 0;
}
