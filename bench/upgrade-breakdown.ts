/**
 * Where the wall time of an upgrade benchmark goes, from timestamps: the lab journal (every command's run time and
 * each node's restart after a refresh) and the event histories of the parent and of every per-node child.
 * Each millisecond of the run gets the label of the highest-priority interval covering it:
 *   command (a simulated command running) > restart (a node restarting after its refresh) > the lab simulator's
 *   own process start-up before a command (journal `bootMs`: the lab's cost, not MicroK8s' or the engine's) > inside an activity
 *   but no command running (SSH, the lab's shim start-up, the activity's own code, a poll's sleep) > activity
 *   dispatch (scheduled → started) > child start/end hand-over > the child's workflow tasks > the parent's.
 * Meaningful for batch 1 (one node at a time); with batches the labels still add up to the wall time.
 */
import type { temporal } from '@temporalio/proto';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
export type Interval = [number, number];

interface Labelled {
  start: number;
  end: number;
  prio: number;
  label: string;
}

const PRIO = { command: 10, restart: 9, boot: 8, exec: 5, dispatch: 4, handover: 3, child: 2, parent: 1 };

export function eventMs(e: HistoryEvent): number {
  return Number(e.eventTime!.seconds) * 1000 + (e.eventTime!.nanos ?? 0) / 1e6;
}

/** Activity intervals of one history: type, scheduled, started, closed. */
export function activitySpans(events: HistoryEvent[]): Array<{ type: string; scheduled: number; started: number; closed: number }> {
  const byId = new Map<string, { type: string; scheduled: number; started?: number; closed?: number }>();
  for (const e of events) {
    const id = String(e.eventId);
    if (e.activityTaskScheduledEventAttributes) byId.set(id, { type: e.activityTaskScheduledEventAttributes.activityType?.name ?? '?', scheduled: eventMs(e) });
    const started = e.activityTaskStartedEventAttributes;
    if (started) byId.get(String(started.scheduledEventId))!.started = eventMs(e);
    const closed =
      e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes ?? e.activityTaskCanceledEventAttributes;
    if (closed) byId.get(String(closed.scheduledEventId))!.closed = eventMs(e);
  }
  return [...byId.values()]
    .filter((a) => a.closed !== undefined)
    .map((a) => ({ type: a.type, scheduled: a.scheduled, started: a.started ?? a.scheduled, closed: a.closed! }));
}

export interface BreakdownInput {
  from: number;
  to: number;
  commands: Interval[];
  restarts: Interval[];
  /** The lab simulator's process start-up before each command. */
  boots?: Interval[];
  parent: HistoryEvent[];
  children: HistoryEvent[][];
}

/** Milliseconds per label over [from, to]; `command` and `restart` are split by the activity they ran in. */
export function breakdown(input: BreakdownInput): Map<string, number> {
  const spans: Labelled[] = [];
  const add = (start: number, end: number, prio: number, label: string) => {
    if (end > start) spans.push({ start: Math.max(start, input.from), end: Math.min(end, input.to), prio, label });
  };
  for (const [s, e] of input.commands) add(s, e, PRIO.command, 'command');
  for (const [s, e] of input.restarts) add(s, e, PRIO.restart, 'restart');
  for (const [s, e] of input.boots ?? []) add(s, e, PRIO.boot, 'lab simulator start-up');
  add(input.from, input.to, PRIO.parent, 'parent workflow tasks');
  const histories = [input.parent, ...input.children];
  for (const [i, events] of histories.entries()) {
    for (const a of activitySpans(events)) {
      add(a.scheduled, a.started, PRIO.dispatch, 'activity dispatch');
      add(a.started, a.closed, PRIO.exec, `in ${a.type}`);
    }
    if (i === 0) continue;
    const startedAt = eventMs(events[0]);
    const closedAt = eventMs(events[events.length - 1]);
    add(startedAt, closedAt, PRIO.child, 'child workflow tasks');
  }
  // Hand-over between parent and child: initiated → child started, child closed → parent sees it.
  const childStart = new Map<string, number>();
  const childEnd = new Map<string, number>();
  const byInitiated = new Map<string, { initiated: number; started?: number; closed?: number }>();
  for (const e of input.parent) {
    const init = e.startChildWorkflowExecutionInitiatedEventAttributes;
    if (init) byInitiated.set(String(e.eventId), { initiated: eventMs(e) });
    const st = e.childWorkflowExecutionStartedEventAttributes;
    if (st) byInitiated.get(String(st.initiatedEventId))!.started = eventMs(e);
    const cl = e.childWorkflowExecutionCompletedEventAttributes ?? e.childWorkflowExecutionFailedEventAttributes;
    if (cl) byInitiated.get(String(cl.initiatedEventId))!.closed = eventMs(e);
  }
  for (const events of input.children) {
    const first = events[0];
    const last = events[events.length - 1];
    const initiated = String(first.workflowExecutionStartedEventAttributes?.parentInitiatedEventId ?? '');
    childStart.set(initiated, eventMs(first));
    childEnd.set(initiated, eventMs(last));
  }
  for (const [initiatedId, c] of byInitiated) {
    const firstChildEvent = childStart.get(initiatedId);
    add(c.initiated, firstChildEvent ?? c.started ?? c.initiated, PRIO.handover, 'child start hand-over');
    const lastChildEvent = childEnd.get(initiatedId);
    if (c.closed !== undefined && lastChildEvent !== undefined) add(lastChildEvent, c.closed, PRIO.handover, 'child end hand-over');
  }

  // Sweep: each elementary segment goes to the highest-priority label; commands/restarts also name their activity.
  const points = [...new Set(spans.flatMap((s) => [s.start, s.end]))].sort((a, b) => a - b);
  const totals = new Map<string, number>();
  for (let i = 0; i + 1 < points.length; i++) {
    const [a, b] = [points[i], points[i + 1]];
    const mid = (a + b) / 2;
    const covering = spans.filter((s) => s.start <= mid && s.end > mid);
    if (!covering.length) continue;
    covering.sort((x, y) => y.prio - x.prio);
    let label = covering[0].label;
    if (covering[0].prio >= PRIO.boot) {
      const inAct = covering.find((s) => s.prio === PRIO.exec);
      label = `${label}${inAct ? ` ${inAct.label}` : ' outside activities'}`;
    }
    totals.set(label, (totals.get(label) ?? 0) + (b - a));
  }
  return totals;
}

/** Per activity type: count and mean scheduled→started, started→closed, closed→next event of the same history. */
export function activityStats(histories: HistoryEvent[][]): Map<string, { n: number; dispatch: number; exec: number }> {
  const out = new Map<string, { n: number; dispatch: number; exec: number }>();
  for (const events of histories) {
    for (const a of activitySpans(events)) {
      const s = out.get(a.type) ?? { n: 0, dispatch: 0, exec: 0 };
      s.n++;
      s.dispatch += a.started - a.scheduled;
      s.exec += a.closed - a.started;
      out.set(a.type, s);
    }
  }
  return out;
}
