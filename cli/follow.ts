/**
 * Follow a running runbook from the terminal: poll its `progress` query about once a second, print step and
 * node state changes as plain lines, answer the plan approval when the user confirms, until it ends.
 */
import * as readline from 'readline';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { approveUpdate, progressQuery, rejectUpdate, type RunbookProgress } from '../common/messages';

export interface FollowOptions {
  /** Where progress lines go (stderr when stdout carries --json). */
  say: (line: string) => void;
  identity: string;
  /** Ask y/N for the plan (stdin and stdout are terminals). */
  interactive: boolean;
  pollMs?: number;
}

export type FollowOutcome = { ok: true; result: unknown } | { ok: false; message: string };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function askYesNo(question: string): Promise<boolean> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await new Promise<string>((resolve) => rl.question(`${question} [y/N] `, resolve));
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

/** Prints what changed between two progress snapshots. */
export class ProgressPrinter {
  private step?: string;
  private states = new Map<string, string>();
  private notes = 0;
  private announcedApproval?: string;

  constructor(private readonly say: (line: string) => void) {}

  print(p: RunbookProgress): void {
    if (p.step !== this.step) {
      this.step = p.step;
      this.say(`step: ${p.step}`);
    }
    for (const n of p.nodes) {
      const line = `${n.state}${n.detail ? ` (${n.detail})` : ''}`;
      if (this.states.get(n.name) !== line) {
        this.states.set(n.name, line);
        this.say(`  ${n.name}: ${line}`);
      }
    }
    for (const note of p.notes.slice(this.notes)) this.say(`  note: ${note}`);
    this.notes = p.notes.length;
  }

  /** True once per approval id. */
  firstSight(approvalId: string): boolean {
    if (this.announcedApproval === approvalId) return false;
    this.announcedApproval = approvalId;
    return true;
  }
}

async function queryProgress(handle: WorkflowHandle): Promise<RunbookProgress | undefined> {
  try {
    return await handle.query(progressQuery);
  } catch {
    return undefined; // no worker yet, or the run just closed: try again next tick
  }
}

async function answerPlan(handle: WorkflowHandle, p: RunbookProgress, o: FollowOptions, printer: ProgressPrinter): Promise<void> {
  const pending = p.pendingApproval;
  if (!pending || !printer.firstSight(pending.id)) return;
  if (p.plan?.length) {
    o.say('plan:');
    for (const line of p.plan) o.say(`  ${line}`);
  }
  if (!pending.summary.startsWith('start:') || !o.interactive) {
    o.say(`waiting for approval: ${pending.summary}`);
    o.say(`  approve: runbook approve ${handle.workflowId}    reject: runbook reject ${handle.workflowId} --reason "..."`);
    return;
  }
  const yes = await askYesNo(`${pending.summary.replace(/^start:\s*/, 'Start ')}?`);
  if (yes) {
    await handle.executeUpdate(approveUpdate, { args: [{ id: pending.id, by: o.identity }] });
    o.say(`approved by ${o.identity}`);
  } else {
    await handle.executeUpdate(rejectUpdate, { args: [{ id: pending.id, by: o.identity, reason: 'declined at the prompt' }] });
    o.say('rejected; nothing was changed');
  }
}

export async function followRunbook(handle: WorkflowHandle, o: FollowOptions): Promise<FollowOutcome> {
  const printer = new ProgressPrinter(o.say);
  let finished: FollowOutcome | undefined;
  const done = handle.result().then(
    (result): FollowOutcome => ({ ok: true, result }),
    (e): FollowOutcome => ({ ok: false, message: failureMessage(e) }),
  );
  void done.then((outcome) => (finished = outcome));
  while (!finished) {
    const p = await queryProgress(handle);
    if (p) {
      printer.print(p);
      await answerPlan(handle, p, o, printer).catch((e) => o.say(`could not answer the approval: ${(e as Error).message}`));
    }
    await Promise.race([done, sleep(o.pollMs ?? 1000)]);
  }
  const last = await queryProgress(handle);
  if (last) printer.print(last);
  return finished;
}

/** The innermost cause is the useful line ("node k8s-2: host key mismatch ..."). */
export function failureMessage(e: unknown): string {
  if (e instanceof WorkflowFailedError) {
    let cause: Error | undefined = e.cause;
    while (cause && (cause as { cause?: Error }).cause) cause = (cause as { cause?: Error }).cause;
    return cause?.message ?? e.message;
  }
  return (e as Error).message;
}
