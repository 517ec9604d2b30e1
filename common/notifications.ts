/**
 * Webhook notifications (README "Notifications"): what a runbook tells people who are not watching it, and the two
 * bodies that carry it. A notice is made in the workflow (its time is workflow time) and holds no secret: the URL it
 * goes to is resolved by the worker at delivery (activities/notifications.ts) and never enters history.
 * Workflow-safe.
 */
import { answerCommands } from './answer-commands';
import type { NotificationEvent, NotificationFormat, NotificationTarget } from './inventory';
import type { RunbookKind } from './messages';

export type { NotificationEvent, NotificationTarget } from './inventory';

/** What a notice is about, as the workflow knows it. */
export interface NoticeSubject {
  runbook: RunbookKind;
  cluster: string;
  workflowId: string;
}

/** One event, as both formats render it. `command` is the exact command that answers it (or shows the run). */
export interface Notice extends NoticeSubject {
  event: NotificationEvent;
  /** For `end`: how the runbook ended. */
  outcome?: 'succeeded' | 'cancelled';
  message: string;
  command?: string;
  /** ISO 8601, workflow time. */
  at: string;
}

/** The delivery activity's input: the target by reference (index and urlEnv/urlFile), never a URL. */
export interface DeliverNotificationInput {
  target: NotificationTarget;
  /** Its position in the inventory's `notifications`, to name it in messages. */
  index: number;
  notice: Notice;
}

/** A delivery that cannot work however often it is tried (no URL, a refused request) is a result, not a failure. */
export type DeliveryResult = { delivered: true; status: number } | { delivered: false; problem: string };

/** Slack's limit for `text` is 40,000 characters; a notice is a message, not a log. */
export const MAX_MESSAGE_CHARS = 3_000;

function clip(text: string): string {
  return text.length > MAX_MESSAGE_CHARS ? `${text.slice(0, MAX_MESSAGE_CHARS - 1)}…` : text;
}

function notice(s: NoticeSubject, at: Date, event: NotificationEvent, message: string, command?: string, outcome?: Notice['outcome']): Notice {
  return { ...s, event, ...(outcome ? { outcome } : {}), message: clip(message), ...(command ? { command } : {}), at: at.toISOString() };
}

function who(s: NoticeSubject): string {
  return `${s.runbook} on cluster ${s.cluster} (${s.workflowId})`;
}

export function approvalNotice(s: NoticeSubject, at: Date, summary: string): Notice {
  const c = answerCommands(s.workflowId);
  return notice(s, at, 'approval', `${who(s)} waits for approval: ${summary}. Approve: ${c.approve}; reject: ${c.reject}`, c.approve);
}

/** Paused after a failure, until `runbook decide`. */
export function decisionNotice(s: NoticeSubject, at: Date, failure: string): Notice {
  const c = answerCommands(s.workflowId);
  return notice(s, at, 'pause', `${who(s)} is paused after a failure and waits for a decision: ${failure}. Answer: ${c.decide}`, c.decide);
}

/** Paused by `runbook pause`, until `runbook resume`. */
export function pausedNotice(s: NoticeSubject, at: Date, before: string): Notice {
  const c = answerCommands(s.workflowId);
  return notice(s, at, 'pause', `${who(s)} is paused before: ${before}. Resume: ${c.resume}`, c.resume);
}

export function failureNotice(s: NoticeSubject, at: Date, failure: string): Notice {
  const c = answerCommands(s.workflowId);
  return notice(s, at, 'failure', `${who(s)} failed: ${failure}. Details: ${c.status}`, c.status);
}

/** `summary`: how a run that succeeded ended; for a cancelled one, what it was doing ("at step …"). */
export function endNotice(s: NoticeSubject, at: Date, outcome: 'succeeded' | 'cancelled', summary: string): Notice {
  const c = answerCommands(s.workflowId);
  const message = outcome === 'succeeded' ? `${who(s)} succeeded: ${summary}` : `${who(s)} was cancelled; it was ${summary}`;
  return notice(s, at, 'end', message, c.status, outcome);
}

/** The generic webhook body: the notice as JSON, fields in a fixed order. */
export function webhookBody(n: Notice): Record<string, unknown> {
  return {
    event: n.event,
    runbook: n.runbook,
    cluster: n.cluster,
    workflowId: n.workflowId,
    ...(n.outcome ? { outcome: n.outcome } : {}),
    message: n.message,
    ...(n.command ? { command: n.command } : {}),
    at: n.at,
  };
}

const SLACK_ICON: Record<string, string> = {
  approval: ':raised_hand:',
  pause: ':double_vertical_bar:',
  failure: ':x:',
  succeeded: ':white_check_mark:',
  cancelled: ':no_entry_sign:',
};

/** Slack reads `&`, `<` and `>` as markup (links, mentions): escaped as its docs say, so a message is shown as written. */
function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Slack's incoming-webhook body: one `text`, the command on a line of its own as code, ready to copy. */
export function slackBody(n: Notice): { text: string } {
  const icon = SLACK_ICON[n.event === 'end' ? (n.outcome ?? 'succeeded') : n.event];
  const lines = [`${icon} ${slackEscape(n.message)}`];
  if (n.command) lines.push(`\`${slackEscape(n.command)}\``);
  return { text: lines.join('\n') };
}

export function renderBody(format: NotificationFormat, n: Notice): unknown {
  return format === 'slack' ? slackBody(n) : webhookBody(n);
}

/** How a target is named in messages and notes: its place and its reference, never the URL. */
export function describeTarget(t: NotificationTarget, index: number): string {
  return `notifications[${index}] (${t.format}, ${t.urlEnv !== undefined ? `urlEnv ${t.urlEnv}` : `urlFile ${t.urlFile}`})`;
}
