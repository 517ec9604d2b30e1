/**
 * What every runbook workflow shares: progress for `runbook watch` and the UI, approvals, pause and resume,
 * and failure decisions. A runbook creates one controller at its top, before its first await, so queries
 * and updates work from the first workflow task. Its waits are told to the inventory's webhooks, if it names any
 * (workflows/notifications.ts).
 */
import {
  ApplicationFailure,
  condition,
  setCurrentDetails,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { answerCommands } from '../common/answer-commands';
import { FailureType, RunbookClusterKey, RunbookKindKey, RunbookNodeKey } from '../common/constants';
import { plainTextProblem } from '../common/text';
import {
  ApprovalInput,
  ApprovalRecord,
  approveUpdate,
  decideUpdate,
  FailureDecision,
  NodeState,
  pauseUpdate,
  PendingApproval,
  progressQuery,
  rejectUpdate,
  resumeUpdate,
  RunbookKind,
  RunbookProgress,
} from '../common/messages';
import { runbookNotifier } from './notifications';

export type ApprovalOutcome = 'approved' | 'rejected' | 'timed-out';

export class RunbookController {
  private readonly progress: RunbookProgress;
  private approvalSeq = 0;
  private decision?: { decision: FailureDecision; by: string; reason?: string };
  private awaitingDecision = false;
  /** Undefined unless the inventory names webhooks: then no notice is ever scheduled. */
  private readonly notifier = runbookNotifier();

  constructor(kind: RunbookKind, cluster: string, nodes: string[]) {
    this.progress = {
      kind,
      cluster,
      step: 'starting',
      startedAt: Date.now(), // workflow time: deterministic
      paused: false,
      approvals: [],
      nodes: nodes.map((name) => ({ name, state: 'pending', since: Date.now() })),
      notes: [],
    };
    setHandler(progressQuery, () => this.progress, { description: 'Current step, per-node states, approvals and notes.' });
    setHandler(approveUpdate, (input) => this.answer('approved', input), {
      validator: (input) => this.validateAnswer(input),
      description: 'Approve the pending step. Refused when nothing waits for approval.',
    });
    setHandler(rejectUpdate, (input) => this.answer('rejected', input), {
      validator: (input) => {
        this.validateAnswer(input);
        if (!input.reason) throw new Error('a rejection needs a reason (--reason)');
      },
      description: 'Reject the pending step; the runbook stops or rolls back as its policy says.',
    });
    setHandler(
      pauseUpdate,
      () => {
        this.progress.paused = true;
        this.publish();
        return true;
      },
      {
        validator: (input) => checkTypedText(input),
        description: 'Pause between steps (between nodes for upgrades).',
      },
    );
    setHandler(
      resumeUpdate,
      () => {
        const was = this.progress.paused;
        this.progress.paused = false;
        this.publish();
        return was;
      },
      {
        validator: (input) => {
          checkTypedText(input);
          if (!this.progress.paused) throw new Error('it is not paused; nothing to resume');
        },
        description: 'Resume a paused runbook.',
      },
    );
    setHandler(
      decideUpdate,
      (input) => {
        this.decision = input;
        return input.decision;
      },
      {
        validator: (input) => {
          checkTypedText(input);
          if (!this.awaitingDecision) throw new Error('no failure is waiting for an operator decision');
        },
        description: 'After a failure with --on-failure pause: retry, rollback or abort.',
      },
    );
    upsertSearchAttributes([
      { key: RunbookClusterKey, value: cluster },
      { key: RunbookKindKey, value: kind },
    ]);
    this.publish();
    this.notifier?.attach(this);
  }

  get snapshot(): RunbookProgress {
    return this.progress;
  }

  /** Name the step running now; it shows in `watch`, the query and the UI's current details. */
  step(name: string): void {
    this.progress.step = name;
    this.publish();
  }

  node(name: string, state: NodeState, detail?: string): void {
    let entry = this.progress.nodes.find((n) => n.name === name);
    if (!entry) {
      entry = { name, state, since: Date.now() };
      this.progress.nodes.push(entry);
    }
    if (entry.state !== state) entry.since = Date.now();
    entry.state = state;
    entry.detail = detail;
    this.publish();
  }

  /** Mark the node being worked on, for UI queries such as `RunbookNode="k8s-2"`. */
  focus(node: string | null): void {
    upsertSearchAttributes([{ key: RunbookNodeKey, value: node }]);
  }

  /** Record the plan; with `yes` unset, wait for its approval before anything changes. */
  async approvePlan(plan: string[], yes: boolean | undefined, summary: string): Promise<void> {
    this.progress.plan = plan;
    // The memo keeps the plan in history, so the audit shows what was approved even for failed runs.
    upsertMemo({ plan });
    this.publish();
    if (yes) return;
    const outcome = await this.requestApproval(`start: ${summary}`);
    if (outcome !== 'approved') this.fail('PlanNotApproved', `the plan was ${outcome}; nothing was changed`);
  }

  note(line: string): void {
    this.progress.notes.push(line);
    this.publish();
  }

  /**
   * Wait for a human. Never proceeds on its own: on timeout the runbook records it and returns
   * 'timed-out', and callers pause (or stop) rather than continue.
   */
  async requestApproval(summary: string, timeoutMs?: number): Promise<ApprovalOutcome> {
    const id = `approval-${++this.approvalSeq}`;
    const pending: PendingApproval = {
      id,
      summary,
      requestedAt: Date.now(),
      deadline: timeoutMs ? Date.now() + timeoutMs : undefined,
    };
    this.progress.pendingApproval = pending;
    this.publish();
    this.notifier?.approvalWaiting(summary);
    const answered = () => this.progress.approvals.some((a) => a.id === id);
    // With a timeout the wait is a timer, so the UI's history names it.
    const ok = timeoutMs
      ? await condition(answered, timeoutMs, { summary: `waiting for approval: ${summary}` })
      : await condition(answered).then(() => true);
    if (!ok) {
      this.progress.approvals.push({ id, summary, decision: 'timed-out', at: Date.now() });
      this.progress.pendingApproval = undefined;
      this.publish();
      return 'timed-out';
    }
    const record = this.progress.approvals.find((a) => a.id === id)!;
    return record.decision;
  }

  /** Wait while paused (takes effect between steps). */
  async checkpoint(): Promise<void> {
    if (!this.progress.paused) return;
    const before = this.progress.step;
    this.step(`paused before: ${before}`);
    this.notifier?.paused(before);
    await condition(() => !this.progress.paused);
  }

  /** Pause the runbook until an operator decides what to do about a failure. */
  async awaitDecision(failure: string): Promise<{ decision: FailureDecision; by: string; reason?: string }> {
    this.decision = undefined;
    this.awaitingDecision = true;
    this.note(`waiting for a decision: ${failure}`);
    this.step(`waiting for an operator decision (retry, rollback or abort): ${failure}`);
    this.notifier?.awaitingDecision(failure);
    await condition(() => this.decision !== undefined);
    this.awaitingDecision = false;
    return this.decision!;
  }

  /** Fail the runbook with a typed, non-retryable failure that names what happened. */
  fail(type: string, message: string): never {
    this.note(message);
    throw ApplicationFailure.create({ type, message, nonRetryable: true });
  }

  /** Refuse to start, naming each node the first read found silent (`unreachable`): nothing was changed yet. */
  refuseSilentNodes(reads: ReadonlyArray<{ node: string; unreachable?: string }>, why = ''): void {
    const silent = reads.filter((r) => r.unreachable);
    if (silent.length) this.fail(FailureType.PreconditionFailed, `not starting: ${silent.map((r) => `${r.node} does not answer (${r.unreachable})`).join('; ')}; nothing was changed${why}`);
  }

  private validateAnswer(input: ApprovalInput): void {
    checkTypedText(input);
    const pending = this.progress.pendingApproval;
    if (!pending) throw new Error('nothing is waiting for approval');
    if (input.id && input.id !== pending.id) {
      throw new Error(`approval ${input.id} is not pending; the pending one is ${pending.id} (${pending.summary})`);
    }
    if (!input.by) throw new Error('an approval must name who gives it');
  }

  private answer(decision: 'approved' | 'rejected', input: ApprovalInput): ApprovalRecord {
    const pending = this.progress.pendingApproval!;
    const record: ApprovalRecord = {
      id: pending.id,
      summary: pending.summary,
      decision,
      by: input.by,
      reason: input.reason,
      at: Date.now(),
    };
    this.progress.approvals.push(record);
    this.progress.pendingApproval = undefined;
    this.publish();
    return record;
  }

  /** A short markdown table in the UI's "current details". */
  private publish(): void {
    const p = this.progress;
    const rows = p.nodes.map((n) => `| ${n.name} | ${n.state} | ${n.detail ?? ''} |`);
    // The approval line goes first: the UI may cut off the end of a tall details frame.
    const approval = p.pendingApproval
      ? [`Waiting for approval: ${p.pendingApproval.summary} (\`${answerCommands(workflowInfo().workflowId).approve}\`)`, '']
      : [];
    const lines = [
      ...approval,
      `**${p.kind}** on \`${p.cluster}\`${p.paused ? ' (paused)' : ''}: ${p.step}`,
      '',
      '| node | state | detail |',
      '|---|---|---|',
      ...rows,
    ];
    setCurrentDetails(lines.join('\n'));
  }
}

/** Who and why end up on other operators' screens (watch, history): one printable line each, at most 1,000 characters. */
function checkTypedText(input: { by?: string; reason?: string }): void {
  for (const [field, text] of [['reason', input.reason], ['by', input.by]] as const) {
    if (text === undefined) continue;
    const problem = plainTextProblem(text) ?? (text.length > 1000 ? 'must be at most 1,000 characters' : undefined);
    if (problem) throw new Error(`--${field}: ${problem}`);
  }
}
