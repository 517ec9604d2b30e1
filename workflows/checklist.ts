/**
 * A runbook as its checklist: named steps shown in progress (`runbook watch`, the UI), and the steps that leave
 * something to put back (a snap hold, a stopped node) on a compensation stack, undone newest first (the saga of
 * samples-typescript, the phases of k0sctl). Workflow code: deterministic.
 */
import type { RunbookController } from './runbook-controller';

/** What puts a step back. It must be safe after a partial or failed step, and safe to run twice. */
export type Undo = () => Promise<void>;

export class Checklist {
  private readonly undos: Undo[] = [];

  constructor(private readonly rb: RunbookController) {}

  /**
   * Run one step of the procedure under its title. Its undo is registered before it runs: a step that half
   * succeeded (a hold taken on some nodes) is still put back.
   */
  async step<T>(title: string, run: () => Promise<T>, opts: { undo?: Undo } = {}): Promise<T> {
    this.rb.step(title);
    if (opts.undo) this.undos.push(opts.undo);
    return run();
  }

  /**
   * Put back what the steps left, newest first. An undo is dropped only once it succeeded, so an undo that
   * failed is tried again by the next call (the failure path after the end of the procedure, say). Runs in the
   * caller's cancellation scope: wrap it in `CancellationScope.nonCancellable` where a cancel must not cut it.
   */
  async undo(): Promise<void> {
    while (this.undos.length) {
      await this.undos[this.undos.length - 1]();
      this.undos.pop();
    }
  }
}
