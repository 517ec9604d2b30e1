/**
 * One runbook per cluster: the workflow ID is derived from the cluster and started with conflict policy FAIL.
 * When a start is refused, tell the user which runbook holds the cluster, who started it, when, and how to watch it.
 */
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { RunbookKindKey } from '../common/constants';
import { printable } from '../common/text';

export interface LockHolder {
  workflowId: string;
  runId: string;
  kind: string;
  startedBy: string;
  startedAt: Date;
  summary?: string;
}

/** The identity on the start event, or the `requestedBy` of the input when the client left none. */
async function starterOf(client: Client, workflowId: string, runId: string): Promise<string | undefined> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  const payload = started?.input?.payloads?.[0];
  if (payload) {
    try {
      const input = defaultPayloadConverter.fromPayload<{ requestedBy?: string }>(payload);
      if (input?.requestedBy) return input.requestedBy;
    } catch {
      /* encoded by a codec we do not have: fall back to the identity */
    }
  }
  return started?.identity ?? undefined;
}

export async function describeHolder(client: Client, workflowId: string): Promise<LockHolder> {
  const desc = await client.workflow.getHandle(workflowId).describe();
  const startedBy = await starterOf(client, workflowId, desc.runId).catch(() => undefined);
  return {
    workflowId,
    runId: desc.runId,
    kind: desc.typedSearchAttributes.get(RunbookKindKey) ?? desc.type,
    startedBy: startedBy ?? 'unknown',
    startedAt: desc.startTime,
    summary: await desc.staticSummary().catch(() => undefined),
  };
}

function ago(from: Date, now: Date): string {
  const s = Math.max(0, Math.round((now.getTime() - from.getTime()) / 1000));
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

export function lockMessage(cluster: string, h: LockHolder, uiLink: string, now = new Date()): string {
  return [
    `cluster "${cluster}" is busy: the ${printable(h.kind)} runbook holds it${h.summary ? ` (${printable(h.summary)})` : ''}.`,
    `  started by ${printable(h.startedBy)} at ${h.startedAt.toISOString()} (${ago(h.startedAt, now)})`,
    `  held by:   workflow ${h.workflowId}, run ${h.runId}`,
    `  watch it:  runbook watch ${h.workflowId}`,
    `  UI:        ${uiLink}`,
    'One runbook runs per cluster at a time: start this one when it has ended (or stop it: runbook cancel ' + h.workflowId + ').',
  ].join('\n');
}
