/**
 * Maintenance windows: `Mon-Fri 02:00-05:00 UTC`, `Sat,Sun 22:00-04:00 +02:00`, `daily 01:00-03:00 UTC`. Days name
 * the day a window opens (a window may cross midnight); the zone is `UTC` or a fixed offset (no zone database in
 * workflow code, so no daylight saving). Pure functions on milliseconds: workflow-safe.
 */
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const DAY_MS = 86_400_000;

export interface MaintenanceWindow {
  /** 0 = Sunday … 6 = Saturday: the days the window opens. */
  days: number[];
  /** Minutes after local midnight. */
  startMin: number;
  endMin: number;
  /** Local time minus UTC, in minutes. */
  offsetMin: number;
  text: string;
}

export const WINDOW_EXAMPLE = "'Mon-Fri 02:00-05:00 UTC'";

/** The window, or why the text is not one (a sentence that names the fix). */
export function parseWindow(text: string): MaintenanceWindow | string {
  const m = /^\s*(\S+)\s+(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})\s+(UTC|[+-]\d{2}:\d{2})\s*$/i.exec(text);
  if (!m) return `${JSON.stringify(text)} is not a window; use DAYS HH:MM-HH:MM ZONE, e.g. ${WINDOW_EXAMPLE} (days: Mon-Fri, Sat,Sun or daily; zone: UTC or +HH:MM)`;
  const days = parseDays(m[1]);
  if (typeof days === 'string') return days;
  const [sh, sm, eh, em] = [m[2], m[3], m[4], m[5]].map(Number);
  if (sh > 23 || eh > 23 || sm > 59 || em > 59) return `${JSON.stringify(text)}: times are HH:MM from 00:00 to 23:59`;
  const startMin = sh * 60 + sm;
  const endMin = eh * 60 + em;
  if (startMin === endMin) return `${JSON.stringify(text)}: the window opens and closes at the same time; for all day leave --window out`;
  let offsetMin = 0;
  if (m[6].toUpperCase() !== 'UTC') {
    const [oh, om] = m[6].slice(1).split(':').map(Number);
    if (oh > 14 || om > 59) return `${JSON.stringify(text)}: ${m[6]} is not a UTC offset (-12:00 to +14:00)`;
    offsetMin = (m[6][0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  return { days, startMin, endMin, offsetMin, text: text.trim() };
}

function parseDays(spec: string): number[] | string {
  const s = spec.toLowerCase();
  if (s === 'daily' || s === '*') return [0, 1, 2, 3, 4, 5, 6];
  const out = new Set<number>();
  for (const part of s.split(',')) {
    const [a, b] = part.split('-');
    const from = DAYS.indexOf(a.slice(0, 3));
    const to = b === undefined ? from : DAYS.indexOf(b.slice(0, 3));
    if (from < 0 || to < 0 || a.length < 3 || (b !== undefined && b.length < 3)) return `${JSON.stringify(spec)} is not a list of days; use e.g. Mon-Fri, Sat,Sun or daily`;
    for (let d = from; ; d = (d + 1) % 7) {
      out.add(d);
      if (d === to) break;
    }
  }
  return [...out].sort();
}

/** How long one opening of the window lasts. */
export function windowLengthMs(w: MaintenanceWindow): number {
  return (((w.endMin - w.startMin + 1440) % 1440) || 1440) * 60_000;
}

/**
 * Milliseconds to wait until a stretch of `needMs` fits in the window: 0 when it fits now, undefined when it never
 * fits (longer than the window). Looks at openings from yesterday (one still open) to a week ahead.
 */
export function msUntilFits(w: MaintenanceWindow, nowMs: number, needMs: number): number | undefined {
  const length = windowLengthMs(w);
  if (needMs > length) return undefined;
  const localNow = nowMs + w.offsetMin * 60_000;
  const localMidnight = localNow - (((localNow % DAY_MS) + DAY_MS) % DAY_MS);
  for (let d = -1; d <= 8; d++) {
    const dayStart = localMidnight + d * DAY_MS;
    const weekday = (((Math.floor(dayStart / DAY_MS) + 4) % 7) + 7) % 7; // 1970-01-01 was a Thursday
    if (!w.days.includes(weekday)) continue;
    const open = dayStart + w.startMin * 60_000 - w.offsetMin * 60_000;
    const close = open + length;
    const start = Math.max(nowMs, open);
    if (start + needMs <= close) return start - nowMs;
  }
  return undefined;
}
