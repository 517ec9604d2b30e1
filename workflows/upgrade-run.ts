/**
 * One rolling upgrade in progress: what it knows (the live observation, where each pass started, what it upgraded)
 * and what it does to one node (upgrade it, roll it back, ask whether it answers), each node step as a child
 * workflow (workflows/upgrade-node.ts). workflows/upgrade.ts reads these as the procedure; failure handling is in
 * workflows/upgrade-failure.ts. Workflow code: deterministic.
 */
import { CancellationScope, executeChild, isCancellation, patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { CHILD_ID_PATCH, legacyNodeWorkflowId, nodeWorkflowId } from '../common/constants';
import { innermostMessage } from '../common/failures';
import type { Inventory } from '../common/inventory';
import type { ClusterObservation, NodeStep, UpgradeOptions, UpgradePlan } from '../common/upgrade';
import type { BackupNodeResult } from '../common/backup';
import type { RollbackNodeResult, UpgradeNodeResult } from '../common/upgrade-reports';
import { minorOf } from '../common/versions';
import { Checklist } from './checklist';
import type { RunbookController } from './runbook-controller';
import { mayBeUnreachable, stepOptions } from './step-options';
import { rollbackNode, upgradeNode } from './upgrade-node';

/** How long a node whose step ran out of its deadline (or lost it) is given to answer before its rollback is skipped. */
const REACH_TIMEOUT_MS = 2 * 60_000;

export type UpgradeActivities = ReturnType<typeof proxyActivities<Activities>>;

/** The activity proxies of a rolling upgrade, from its options. */
export function upgradeActivities(opts: UpgradeOptions): { act: UpgradeActivities; reach: UpgradeActivities } {
  // No attempt cap: a lost worker is retried however often it happens; each step ends by --step-timeout at the
  // latest, and real failures end it at once (workflows/step-options.ts).
  const stepMs = opts.stepTimeoutSeconds * 1000;
  const heartbeat = opts.heartbeatTimeoutSeconds * 1000;
  return {
    act: proxyActivities<Activities>(stepOptions({ startToClose: '5m', scheduleToClose: stepMs, heartbeat })),
    // "Does the node answer?", asked of a node whose step ran out of its deadline: a short deadline, not a full step's.
    reach: proxyActivities<Activities>(stepOptions({ startToClose: '1m', scheduleToClose: Math.min(stepMs, REACH_TIMEOUT_MS), heartbeat })),
  };
}

export class UpgradeRun {
  readonly checklist: Checklist;
  /** Every compensation, in order: the run's result and its failure details carry them. */
  readonly compensations: string[] = [];
  /** Nodes this pass upgraded, in order (rollback --all reverts them newest first), and all passes'. */
  upgradedThisHop: string[] = [];
  readonly upgradedAll: string[] = [];
  /** Where each node started the current pass: what a rollback returns it to. */
  hopStart: Record<string, { revision: string; version: string }> = {};
  /** Nodes whose child workflow is running: a cancel reports how each ended. */
  readonly inFlight = new Set<string>();
  /** Nodes whose last rollback failed (its verification, say), with why: the final message must not say "rolled back". */
  readonly rollbackErrors = new Map<string, string>();
  /** Nodes whose step or rollback ran out of its deadline or lost the node: asked briefly, never for a full step. */
  readonly doubtful = new Set<string>();
  /** Nodes asked whether they answer that did not. */
  readonly unreachable = new Set<string>();
  /** Cordoned before this run: an operator's cordon is left in place. */
  readonly wasCordoned: Record<string, boolean>;
  /** Auto-refresh held before this run (`refresh-policy --hold`): the hold is left in place at the end. */
  private readonly heldBefore: string[];
  private readonly attempts = new Map<string, number>();
  private readonly parentId = workflowInfo().workflowId;

  constructor(
    readonly rb: RunbookController,
    readonly inventory: Inventory,
    readonly opts: UpgradeOptions,
    readonly plan: UpgradePlan,
    public obs: ClusterObservation,
    readonly act: UpgradeActivities,
    readonly reach: UpgradeActivities,
  ) {
    this.checklist = new Checklist(rb);
    this.wasCordoned = Object.fromEntries(obs.nodes.map((n) => [n.name, n.unschedulable]));
    this.heldBefore = obs.nodes.filter((n) => n.held).map((n) => n.name);
  }

  compensate(line: string): void {
    this.compensations.push(line);
    this.rb.note(`compensation: ${line}`);
  }

  /** A new pass starts from the live observation. */
  startPass(): void {
    this.hopStart = Object.fromEntries(this.obs.nodes.map((n) => [n.name, { revision: n.revision, version: n.version }]));
    this.upgradedThisHop = [];
  }

  /** The node and the control planes kubectl can run on: never the whole inventory (history size). */
  childInventory(node: string): Inventory {
    return { ...this.inventory, nodes: this.inventory.nodes.filter((n) => n.name === node || n.role === 'controlplane') };
  }

  private childId(what: string, node: string): string {
    const key = `${what}-${node}`;
    const n = (this.attempts.get(key) ?? 0) + 1;
    this.attempts.set(key, n);
    const step = n > 1 ? `${what}-${n}` : what;
    return patched(CHILD_ID_PATCH) ? nodeWorkflowId(this.parentId, step, node) : legacyNodeWorkflowId(this.parentId, step, node);
  }

  private get timeouts() {
    const o = this.opts;
    return {
      drainTimeoutSeconds: o.drainTimeoutSeconds,
      readyTimeoutSeconds: o.readyTimeoutSeconds,
      readyPollMs: o.readyPollMs,
      heartbeatTimeoutSeconds: o.heartbeatTimeoutSeconds,
      stepTimeoutSeconds: o.stepTimeoutSeconds,
    };
  }

  /** The plan's sentence for backupDatastore. */
  static describeBackup(): string {
    return 'Back up the dqlite datastore from a voter (tarball off the node, sha256 recorded).';
  }

  /** A tarball of the dqlite backend on a voter (not the leader, when there is one), off the node, sha256 recorded. */
  async backupDatastore(): Promise<BackupNodeResult> {
    const voter = this.obs.nodes.find((n) => n.dqliteRole === 'voter' && !n.leader) ?? this.obs.nodes.find((n) => n.controlPlane)!;
    const backup = await this.act.backupNode.executeWithOptions(
      { summary: `back up dqlite on ${voter.name}`, startToCloseTimeout: '30m', scheduleToCloseTimeout: 30 * 60_000 + this.opts.stepTimeoutSeconds * 1000 },
      [{ inventory: this.inventory, node: voter.name, id: `pre-upgrade-${workflowInfo().runId.slice(0, 8)}`, label: `before upgrade to ${this.plan.target}` }],
    );
    this.rb.note(`backup ${backup.id} of ${voter.name}: ${backup.path} (${backup.size} bytes, sha256 ${backup.sha256})`);
    return backup;
  }

  /** The plan's sentence for holdRefreshes and its undo. */
  static describeHold(): string {
    return 'Hold snap auto-refresh of microk8s on every node; released at the end, on failure and on cancel.';
  }

  async holdRefreshes(): Promise<void> {
    await this.act.holdRefreshes.executeWithOptions({ summary: 'hold snap auto-refresh on every node' }, [
      { inventory: this.inventory, nodes: this.inventory.nodes.map((n) => n.name), release: false },
    ]);
  }

  /**
   * The undo of holdRefreshes, on the nodes this run held: a hold set before it stays. A node where the release
   * failed is named with the command that releases it.
   */
  async releaseHolds(): Promise<void> {
    this.rb.step('releaseRefreshHolds');
    const nodes = this.inventory.nodes.map((n) => n.name).filter((n) => !this.heldBefore.includes(n));
    const r = await this.act.holdRefreshes.executeWithOptions({ summary: 'release snap refresh holds' }, [{ inventory: this.inventory, nodes, release: true }]);
    const kept = this.heldBefore.length ? `; left in place the holds set before this run on ${this.heldBefore.join(', ')}` : '';
    if (r.failed.length) this.compensate(`refresh holds NOT released on: ${r.failed.join('; ')} (run: snap refresh --unhold microk8s)${kept}`);
    else this.rb.note(`snap refresh holds released on ${this.heldBefore.length ? nodes.join(', ') || 'no node' : 'every node'}${kept}`);
  }

  /** Ask a human; a timeout pauses (never proceeds) and asks again after `runbook resume`. */
  async approval(summary: string): Promise<'approved' | 'rejected'> {
    for (;;) {
      this.rb.step(`waiting for approval: ${summary}`);
      const outcome = await this.rb.requestApproval(summary, this.opts.approvalTimeoutSeconds * 1000);
      if (outcome !== 'timed-out') return outcome;
      this.rb.note(`approval "${summary}" timed out after ${this.opts.approvalTimeoutSeconds}s: paused; run \`runbook resume\` to ask again`);
      this.rb.snapshot.paused = true; // the controller's own pause flag: checkpoint() waits on it like a `runbook pause`
      await this.rb.checkpoint();
    }
  }

  /** drainNode, refreshSnap, waitNodeReady, verify, uncordonNode: one node, as a child workflow. */
  async upgradeNode(hopIndex: number, step: NodeStep): Promise<UpgradeNodeResult> {
    const before = this.obs.nodes.find((n) => n.name === step.node)!;
    this.rb.node(step.node, 'draining', `${before.version} → ${step.channel}`);
    this.inFlight.add(step.node);
    try {
      const result = await executeChild(upgradeNode, {
        workflowId: this.childId(`hop${hopIndex + 1}-upgrade`, step.node),
        staticSummary: `upgrade ${step.node} to ${step.channel}`,
        staticDetails: `Hop ${hopIndex + 1} of the rolling upgrade of \`${this.inventory.cluster}\` to ${this.plan.target}.`,
        parentClosePolicy: 'REQUEST_CANCEL',
        args: [
          {
            ...this.timeouts,
            inventory: this.childInventory(step.node),
            node: step.node,
            controlPlane: step.controlPlane,
            channel: step.channel,
            minor: step.minor,
            fromVersion: before.version,
            expect: { ha: this.obs.ha, voters: this.obs.voters },
            baseline: this.plan.baseline,
            soakSeconds: this.opts.soakSeconds,
            wasCordoned: this.wasCordoned[step.node],
          },
        ],
      });
      this.inFlight.delete(step.node);
      return result;
    } catch (err) {
      if (!isCancellation(err)) this.inFlight.delete(step.node); // cancelled: reportAfterCancel says how it ended
      throw err;
    }
  }

  /** The node is done: recorded first, so a `--rollback all` triggered by a sibling's failure reverts it too. */
  done(r: UpgradeNodeResult): void {
    if (r.outcome === 'upgraded') {
      this.upgradedThisHop.push(r.node);
      this.upgradedAll.push(r.node);
    }
    this.rb.node(r.node, 'done', `${r.after.version}${r.outcome === 'already-on-target' ? ' (already there)' : ''}`);
  }

  /** snap revert to where the pass started, as a child workflow; a failure is recorded, never thrown. */
  async rollbackNode(node: string, reason: string): Promise<RollbackNodeResult | undefined> {
    const start = this.hopStart[node];
    this.rb.node(node, 'reverting', reason);
    try {
      // A rollback runs to its end even when the runbook is cancelled meanwhile: half a revert is worse than none.
      const r = await CancellationScope.nonCancellable(() =>
        executeChild(rollbackNode, {
          workflowId: this.childId('rollback', node),
          staticSummary: `roll back ${node} to revision ${start.revision} (${start.version})`,
          parentClosePolicy: 'REQUEST_CANCEL',
          args: [{ ...this.timeouts, inventory: this.childInventory(node), node, revision: start.revision, minor: minorString(start.version), wasCordoned: this.wasCordoned[node], reason }],
        }),
      );
      for (const a of r.actions) this.compensate(a);
      this.rb.node(node, 'reverted', `${r.version} (rev ${r.revision})`);
      this.rollbackErrors.delete(node);
      return r;
    } catch (err) {
      const message = innermostMessage(err);
      if (mayBeUnreachable(err)) this.doubtful.add(node);
      this.rollbackErrors.set(node, message);
      this.compensate(`rollback of ${node} FAILED: ${message}`);
      this.rb.node(node, 'failed', `rollback failed: ${message}`);
      return undefined;
    }
  }

  /** Whether a node answers: one short read of its state (`reach`); any failure counts as no. */
  async answers(node: string): Promise<boolean> {
    this.rb.step(`is ${node} reachable?`);
    try {
      await this.reach.readNodeState.executeWithOptions({ summary: `is ${node} reachable?` }, [{ inventory: this.childInventory(node), node }]);
      this.unreachable.delete(node);
      this.doubtful.delete(node);
      return true;
    } catch {
      this.unreachable.add(node);
      return false;
    }
  }
}

function minorString(version: string): string {
  const m = minorOf(version);
  return m ? `${m.major}.${m.minor}` : version;
}
