/**
 * Event history → audit model, for one workflow run. Pure: payload codecs are undone beforehand
 * (codec/history.ts) and child histories are read by the caller and merged with mergeChildAudit.
 *
 * Where each part comes from:
 * - start: WorkflowExecutionStarted (identity, input with `requestedBy`, staticSummary in userMetadata);
 * - commands and file changes: ActivityTaskCompleted results (`commands`, `fileChanges`/`changes`), and failure
 *   details of failed activities when they carry them;
 * - operator actions: WorkflowExecutionUpdateAccepted/Completed (input `{id, by, reason}`, result ApprovalRecord),
 *   cancel requests and termination;
 * - the plan: a `plan` memo, a workflow result's `plan`, or the `plan`/`lines` of the last activity result before
 *   the first approval (the controller keeps the plan in its query state, which history does not hold);
 * - compensations: `compensations` in results and failure details, and rollback children's `actions`.
 */
import { defaultPayloadConverter, type PayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import type {
  AuditChild,
  AuditCommand,
  AuditFailure,
  AuditOperatorAction,
  AuditOrigin,
  AuditStatus,
  FailureSource,
  RunbookAudit,
} from './model';
import {
  decodePayload,
  decodePayloads,
  findCommands,
  findCompensations,
  findFileChanges,
  findPlan,
  redact,
  stringField,
} from './payload-values';

type IHistory = temporal.api.history.v1.IHistory;
type IHistoryEvent = temporal.api.history.v1.IHistoryEvent;
type IFailure = temporal.api.failure.v1.IFailure;

export interface AuditOptions {
  /** The client's payload converter when it has a custom one; default JSON. */
  payloadConverter?: PayloadConverter;
  /** Known from the server when fetching; a file holds only what the start event says. */
  workflowId?: string;
  runId?: string;
}

interface Scheduled {
  activity: string;
  summary?: string;
}

const ROLLBACK_CHILD = /rollback|revert|compensat/i;

/** Protobuf Longs, numbers and numeric strings (JSON form) as numbers. */
function num(value: unknown): number {
  return value === null || value === undefined ? 0 : Number(value);
}

/** Event time as ISO. Seconds are a Long from the server, a number or string after historyFromJSON. */
function timeOf(event: IHistoryEvent): string {
  const ts = event.eventTime;
  const ms = ts ? num(ts.seconds) * 1000 + Math.floor(num(ts.nanos) / 1e6) : 0;
  return new Date(ms).toISOString();
}

/** One line naming the failure and its causes, and the innermost application type. */
export function describeFailure(failure: IFailure | null | undefined): { message: string; type?: string } {
  const messages: string[] = [];
  let type: string | undefined;
  for (let f = failure; f; f = f.cause) {
    if (f.message && !messages.includes(f.message)) messages.push(f.message);
    type = f.applicationFailureInfo?.type || (f.timeoutFailureInfo ? 'Timeout' : f.canceledFailureInfo ? 'Cancelled' : type);
  }
  return { message: messages.join(': ') || 'no message', type: type || undefined };
}

/** Application failure details anywhere in the cause chain, decoded. */
function failureDetails(failure: IFailure | null | undefined, converter: PayloadConverter): unknown[] {
  const out: unknown[] = [];
  for (let f = failure; f; f = f.cause) out.push(...decodePayloads(f.applicationFailureInfo?.details, converter));
  return out;
}

function retryStateName(value: unknown): string | undefined {
  if (value === null || value === undefined || value === 0) return undefined;
  if (typeof value === 'string') return value.replace(/^RETRY_STATE_/, '').toLowerCase();
  const names = ['unspecified', 'in_progress', 'non_retryable_failure', 'timeout', 'maximum_attempts_reached', 'retry_policy_not_set', 'internal_server_error', 'cancel_requested'];
  return names[num(value)];
}

export function buildAudit(history: IHistory, options: AuditOptions = {}): RunbookAudit {
  const base = options.payloadConverter ?? defaultPayloadConverter;
  let undecodable = 0;
  const converter: PayloadConverter = {
    toPayload: (value) => base.toPayload(value),
    fromPayload: <T>(payload: temporal.api.common.v1.IPayload): T => {
      try {
        return base.fromPayload<T>(payload);
      } catch (err) {
        undecodable++;
        throw err;
      }
    },
  };
  const events = history.events ?? [];
  const start = events.find((e) => e.workflowExecutionStartedEventAttributes)?.workflowExecutionStartedEventAttributes;
  if (!start) throw new Error('not a workflow history: no WorkflowExecutionStarted event');
  const startEvent = events.find((e) => e.workflowExecutionStartedEventAttributes)!;
  const input = decodePayloads(start.input, converter);
  const workflowId = options.workflowId ?? start.workflowId ?? 'unknown';
  const here: AuditOrigin = { workflowId };

  const audit: RunbookAudit = {
    workflowId,
    runId: options.runId ?? start.originalExecutionRunId ?? start.firstExecutionRunId ?? undefined,
    workflowType: start.workflowType?.name ?? 'unknown',
    taskQueue: start.taskQueue?.name ?? undefined,
    summary: asText(decodePayload(startEvent.userMetadata?.summary, converter)),
    startedAt: timeOf(startEvent),
    startedBy: start.identity || undefined,
    requestedBy: stringField(input[0], 'requestedBy'),
    input: input.map(redact),
    status: 'running',
    operatorActions: [],
    commands: [],
    failures: [],
    compensations: [],
    fileChanges: [],
    children: [],
    warnings: [],
  };

  const scheduled = new Map<number, Scheduled>();
  const attempts = new Map<number, number>();
  const actionsByAccepted = new Map<number, AuditOperatorAction>();
  const childrenByInitiated = new Map<number, AuditChild>();
  let planCandidate: { lines: string[]; source: string } | undefined;
  let planDecided = false;

  const addCompensations = (lines: string[]) => {
    for (const line of lines) {
      if (!audit.compensations.some((c) => c.line === line)) audit.compensations.push({ ...here, line });
    }
  };
  const addFailure = (event: IHistoryEvent, source: FailureSource, name: string, failure: IFailure | null | undefined, extra: Partial<AuditFailure> = {}) => {
    audit.failures.push({ ...here, at: timeOf(event), source, name, ...describeFailure(failure), ...extra });
    addCompensations(failureDetails(failure, converter).flatMap(findCompensations));
  };
  const addActivityRecords = (event: IHistoryEvent, sched: Scheduled, value: unknown, completed: boolean) => {
    for (const c of findCommands(value)) {
      audit.commands.push({ ...c, ...here, activity: sched.activity, activitySummary: sched.summary, activityCompleted: completed } satisfies AuditCommand);
    }
    for (const f of findFileChanges(value)) audit.fileChanges.push({ ...f, ...here, activity: sched.activity, at: timeOf(event) });
    addCompensations(findCompensations(value));
  };
  const memoPlan = (memo: temporal.api.common.v1.IMemo | null | undefined) => {
    const plan = decodePayload(memo?.fields?.plan, converter);
    if (Array.isArray(plan) && plan.every((x) => typeof x === 'string')) audit.plan = { lines: plan, source: 'memo' };
  };
  memoPlan(start.memo);

  for (const event of events) {
    const id = num(event.eventId);
    if (event.activityTaskScheduledEventAttributes) {
      const a = event.activityTaskScheduledEventAttributes;
      scheduled.set(id, { activity: a.activityType?.name ?? 'unknown', summary: asText(decodePayload(event.userMetadata?.summary, converter)) });
    } else if (event.activityTaskStartedEventAttributes) {
      const a = event.activityTaskStartedEventAttributes;
      attempts.set(id, a.attempt ?? 1);
      if (a.lastFailure) {
        // The attempt before this one failed and was retried: its failure is only kept here.
        const sched = scheduled.get(num(a.scheduledEventId));
        addFailure(event, 'activity', sched?.activity ?? 'unknown', a.lastFailure, {
          summary: sched?.summary,
          attempt: Math.max(1, (a.attempt ?? 2) - 1),
          retryState: 'retried',
        });
        for (const detail of failureDetails(a.lastFailure, converter)) addActivityRecords(event, sched ?? { activity: 'unknown' }, detail, false);
      }
    } else if (event.activityTaskCompletedEventAttributes) {
      const a = event.activityTaskCompletedEventAttributes;
      const sched = scheduled.get(num(a.scheduledEventId)) ?? { activity: 'unknown' };
      const results = decodePayloads(a.result, converter);
      for (const result of results) {
        addActivityRecords(event, sched, result, true);
        if (!planDecided) {
          const lines = findPlan(result, ['plan', 'lines']);
          if (lines) planCandidate = { lines, source: `activity ${sched.activity}` };
        }
      }
    } else if (event.activityTaskFailedEventAttributes || event.activityTaskTimedOutEventAttributes) {
      const a = (event.activityTaskFailedEventAttributes ?? event.activityTaskTimedOutEventAttributes)!;
      const sched = scheduled.get(num(a.scheduledEventId)) ?? { activity: 'unknown' };
      addFailure(event, 'activity', sched.activity, a.failure, {
        summary: sched.summary,
        attempt: attempts.get(num(a.startedEventId)),
        retryState: retryStateName(a.retryState),
      });
      for (const detail of failureDetails(a.failure, converter)) addActivityRecords(event, sched, detail, false);
    } else if (event.workflowExecutionUpdateAcceptedEventAttributes) {
      const req = event.workflowExecutionUpdateAcceptedEventAttributes.acceptedRequest;
      const arg = decodePayloads(req?.input?.args, converter)[0];
      const action: AuditOperatorAction = {
        ...here,
        at: timeOf(event),
        action: req?.input?.name ?? 'update',
        id: stringField(arg, 'id'),
        by: stringField(arg, 'by'),
        reason: stringField(arg, 'reason'),
        decision: stringField(arg, 'decision'),
        identity: req?.meta?.identity || undefined,
        outcome: 'accepted',
      };
      actionsByAccepted.set(id, action);
      audit.operatorActions.push(action);
    } else if (event.workflowExecutionUpdateCompletedEventAttributes) {
      const c = event.workflowExecutionUpdateCompletedEventAttributes;
      const action = actionsByAccepted.get(num(c.acceptedEventId));
      if (!action) continue;
      action.at = timeOf(event);
      if (c.outcome?.failure) {
        action.outcome = 'failed';
        action.failure = describeFailure(c.outcome.failure).message;
        addFailure(event, 'update', action.action, c.outcome.failure);
        continue;
      }
      action.outcome = 'completed';
      const result = decodePayloads(c.outcome?.success, converter)[0];
      if (typeof result === 'string') action.decision = result;
      action.decision = stringField(result, 'decision') ?? action.decision;
      action.id = stringField(result, 'id') ?? action.id;
      action.summary = stringField(result, 'summary');
      if (isPlanApproval(action)) planDecided = true;
    } else if (event.workflowExecutionCancelRequestedEventAttributes) {
      const c = event.workflowExecutionCancelRequestedEventAttributes;
      audit.operatorActions.push({ ...here, at: timeOf(event), action: 'cancel', identity: c.identity || undefined, reason: c.cause || undefined, outcome: 'completed' });
    } else if (event.workflowPropertiesModifiedEventAttributes) {
      memoPlan(event.workflowPropertiesModifiedEventAttributes.upsertedMemo);
    } else if (event.startChildWorkflowExecutionInitiatedEventAttributes) {
      const c = event.startChildWorkflowExecutionInitiatedEventAttributes;
      const childInput = decodePayloads(c.input, converter)[0];
      const child: AuditChild = {
        workflowId: c.workflowId ?? 'unknown',
        workflowType: c.workflowType?.name ?? 'unknown',
        node: stringField(childInput, 'node'),
        summary: asText(decodePayload(event.userMetadata?.summary, converter)),
        status: 'initiated',
        included: false,
      };
      childrenByInitiated.set(id, child);
      audit.children.push(child);
    } else if (event.startChildWorkflowExecutionFailedEventAttributes) {
      const c = event.startChildWorkflowExecutionFailedEventAttributes;
      const child = childrenByInitiated.get(num(c.initiatedEventId));
      if (child) {
        child.status = 'start-failed';
        child.failure = String(c.cause ?? 'start failed');
      }
    } else if (event.childWorkflowExecutionStartedEventAttributes) {
      const c = event.childWorkflowExecutionStartedEventAttributes;
      const child = childrenByInitiated.get(num(c.initiatedEventId));
      if (child) {
        child.status = 'running';
        child.runId = c.workflowExecution?.runId ?? undefined;
        child.startedAt = timeOf(event);
      }
    } else {
      closeChild(event);
      closeWorkflow(event);
    }
  }

  function closeChild(event: IHistoryEvent): void {
    const done =
      event.childWorkflowExecutionCompletedEventAttributes ??
      event.childWorkflowExecutionFailedEventAttributes ??
      event.childWorkflowExecutionCanceledEventAttributes ??
      event.childWorkflowExecutionTimedOutEventAttributes ??
      event.childWorkflowExecutionTerminatedEventAttributes;
    if (!done) return;
    const child = childrenByInitiated.get(num(done.initiatedEventId));
    if (!child) return;
    child.endedAt = timeOf(event);
    const completed = event.childWorkflowExecutionCompletedEventAttributes;
    const failed = event.childWorkflowExecutionFailedEventAttributes;
    if (completed) {
      child.status = 'completed';
      const result = decodePayloads(completed.result, converter)[0];
      addCompensations(findCompensations(result));
      const actions = (result as { actions?: unknown })?.actions;
      if (ROLLBACK_CHILD.test(child.workflowType) && Array.isArray(actions)) {
        addCompensations(actions.filter((x): x is string => typeof x === 'string').map((a) => `${child.node ?? child.workflowId}: ${a}`));
      }
    } else if (failed) {
      child.status = 'failed';
      child.failure = describeFailure(failed.failure).message;
      addFailure(event, 'child-workflow', child.workflowId, failed.failure, { summary: child.summary });
    } else if (event.childWorkflowExecutionCanceledEventAttributes) {
      child.status = 'cancelled';
    } else if (event.childWorkflowExecutionTimedOutEventAttributes) {
      child.status = 'timed-out';
      addFailure(event, 'child-workflow', child.workflowId, { message: 'child workflow timed out', timeoutFailureInfo: {} }, { summary: child.summary });
    } else {
      child.status = 'terminated';
    }
  }

  function closeWorkflow(event: IHistoryEvent): void {
    const end = (status: AuditStatus) => {
      audit.status = status;
      audit.endedAt = timeOf(event);
    };
    const completed = event.workflowExecutionCompletedEventAttributes;
    const failed = event.workflowExecutionFailedEventAttributes;
    const terminated = event.workflowExecutionTerminatedEventAttributes;
    if (completed) {
      end('completed');
      const result = decodePayloads(completed.result, converter)[0];
      addCompensations(findCompensations(result));
      const plan = findPlan(result, ['plan']);
      if (plan && audit.plan?.source !== 'memo') audit.plan = { lines: plan, source: 'workflow result' };
      // Aggregated file changes (recover-quorum returns them all again): keep the ones no activity reported.
      for (const f of findFileChanges(result)) {
        if (!audit.fileChanges.some((x) => x.node === f.node && x.path === f.path && x.action === f.action && x.sha256 === f.sha256)) {
          audit.fileChanges.push({ ...f, ...here, activity: '(workflow result)', at: timeOf(event) });
        }
      }
    } else if (failed) {
      end('failed');
      audit.failure = describeFailure(failed.failure);
      addFailure(event, 'workflow', audit.workflowType, failed.failure);
    } else if (event.workflowExecutionCanceledEventAttributes) {
      end('cancelled');
    } else if (event.workflowExecutionTimedOutEventAttributes) {
      end('timed-out');
      audit.failure = { message: 'workflow timed out', type: 'Timeout' };
    } else if (terminated) {
      end('terminated');
      audit.failure = { message: `terminated: ${terminated.reason || 'no reason given'}`, type: 'Terminated' };
      audit.operatorActions.push({ ...here, at: timeOf(event), action: 'terminate', identity: terminated.identity || undefined, reason: terminated.reason || undefined, outcome: 'completed' });
    } else if (event.workflowExecutionContinuedAsNewEventAttributes) {
      end('continued-as-new');
    }
  }

  if (!audit.plan && planCandidate) audit.plan = planCandidate;
  if (audit.plan) {
    const approval = audit.operatorActions.find(isPlanApproval);
    if (approval) audit.plan.decision = { decision: approval.decision ?? approval.outcome, by: approval.by, at: approval.at, reason: approval.reason };
    else if ((input[0] as { yes?: unknown } | undefined)?.yes === true) audit.plan.decision = { decision: 'not asked (--yes)' };
  }
  if (undecodable > 0) {
    audit.warnings.push(`${undecodable} payload(s) could not be decoded (encrypted?): set the codec key the worker uses (RUNBOOK_CODEC_KEY_FILE)`);
  }
  return audit;
}

/** The controller asks for the plan's approval with the summary `start: <runbook summary>`. */
function isPlanApproval(action: AuditOperatorAction): boolean {
  return (action.action === 'approve' || action.action === 'reject') && action.outcome === 'completed' && (action.summary ?? '').startsWith('start:');
}

function asText(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/**
 * Fold a child workflow's audit (a per-node upgrade) into its parent's: commands, failures, compensations and file
 * changes, marked with the child's node. Keeps everything in time order.
 */
export function mergeChildAudit(parent: RunbookAudit, child: RunbookAudit): void {
  const entry = parent.children.find((c) => c.workflowId === child.workflowId);
  const childNode = entry?.node ?? child.workflowId;
  if (entry) entry.included = true;
  const mark = <T extends AuditOrigin>(x: T): T => ({ ...x, childNode: x.childNode ?? childNode });
  parent.commands.push(...child.commands.map(mark));
  parent.failures.push(...child.failures.map(mark));
  parent.operatorActions.push(...child.operatorActions.map(mark));
  for (const c of child.compensations) {
    if (!parent.compensations.some((p) => p.line === c.line)) parent.compensations.push(mark(c));
  }
  parent.fileChanges.push(...child.fileChanges.map(mark));
  parent.children.push(...child.children.filter((g) => !parent.children.some((c) => c.workflowId === g.workflowId)));
  parent.warnings.push(...child.warnings.filter((w) => !parent.warnings.includes(w)));
  parent.commands.sort((a, b) => String(a.startedAt ?? '').localeCompare(String(b.startedAt ?? '')));
  parent.failures.sort((a, b) => a.at.localeCompare(b.at));
  parent.operatorActions.sort((a, b) => a.at.localeCompare(b.at));
}
