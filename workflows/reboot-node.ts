/**
 * One node's turn in the rolling reboot (behaviour reference §12), in the manual procedure's order: check quorum
 * (control planes), cordon and drain, the maintenance command, `systemctl reboot`, wait for a new boot id (and
 * MicroK8s running), wait Ready, the health gate, uncordon. Workflow code; not a workflow of its own.
 *
 * A failed drain uncordons the node again (nothing else was done to it). A node that does not come back, is not
 * Ready or fails the health gate stays cordoned and the run stops, or waits for a decision (`--on-failure pause`:
 * retry waits for it again; abort stops). Never silently: the failure names the node and that it is cordoned.
 */
import { ActivityFailure, CancellationScope, isCancellation, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { ClusterCheck } from '../common/check';
import { FailureType } from '../common/constants';
import { describePdbBlock } from '../common/drain';
import { innermostMessage, innermostType } from '../common/failures';
import { type NodeBootState, type NodeReboot, REBOOT_DEFAULTS, type RebootInput } from '../common/reboot';
import type { ObservedNode } from '../common/upgrade';
import type { Checklist } from './checklist';
import { gateProblems } from './cluster-gate';
import type { RunbookController } from './runbook-controller';
import { heartbeatMs, stepOptions } from './step-options';

export interface RebootContext {
  rb: RunbookController;
  checklist: Checklist;
  input: RebootInput;
  seen: (node: string) => ObservedNode;
  state: (node: string) => NodeBootState;
  baseline: ClusterCheck;
  gate: () => Promise<ClusterCheck>;
}

export function rebootTimeouts(input: RebootInput) {
  const D = REBOOT_DEFAULTS;
  return {
    maintenanceTimeoutSeconds: input.maintenanceTimeoutSeconds ?? D.maintenanceTimeoutSeconds,
    workerBatch: input.workerBatch ?? D.workerBatch,
    drainTimeoutSeconds: input.drainTimeoutSeconds ?? D.drainTimeoutSeconds,
    bootTimeoutSeconds: input.bootTimeoutSeconds ?? D.bootTimeoutSeconds,
    readyTimeoutSeconds: input.readyTimeoutSeconds ?? D.readyTimeoutSeconds,
    gateTimeoutSeconds: input.gateTimeoutSeconds ?? D.gateTimeoutSeconds,
    gatePollSeconds: input.gatePollSeconds ?? D.gatePollSeconds,
  };
}

function profiles(input: RebootInput) {
  const o = rebootTimeouts(input);
  const heartbeat = heartbeatMs(input.heartbeatTimeoutSeconds);
  return {
    o,
    drain: proxyActivities<Activities>(stepOptions({ startToClose: (o.drainTimeoutSeconds + 180) * 1000, scheduleToClose: (o.drainTimeoutSeconds + 600) * 1000, heartbeat })),
    patch: proxyActivities<Activities>(
      stepOptions({ startToClose: (o.maintenanceTimeoutSeconds + 60) * 1000, scheduleToClose: (o.maintenanceTimeoutSeconds * 2 + 300) * 1000, heartbeat, nonRetryable: [FailureType.MaintenanceFailed] }),
    ),
    // A retry of the reboot after a worker crash waits (unreachable, retried) until the machine is back: its deadline covers a boot.
    boot: proxyActivities<Activities>(
      stepOptions({ startToClose: (o.bootTimeoutSeconds + 120) * 1000, scheduleToClose: (o.bootTimeoutSeconds * 2 + 300) * 1000, heartbeat, nonRetryable: [FailureType.RebootFailed, FailureType.NodeDidNotReturn] }),
    ),
    ready: proxyActivities<Activities>(stepOptions({ startToClose: (o.readyTimeoutSeconds + 120) * 1000, scheduleToClose: (o.readyTimeoutSeconds + 600) * 1000, heartbeat })),
  };
}

/** The plan's sentence for one node's turn: the steps of rebootNode below, in its order. Keep the two in step. */
export function describeTurn(node: string, seen: ObservedNode, b: NodeBootState, leader: string | undefined, input: RebootInput): string {
  const role = seen.controlPlane ? `control plane${node === leader ? ', dqlite leader (last, so leadership moves once)' : ''}` : 'worker';
  const steps = [
    ...(seen.controlPlane ? ['check quorum'] : []),
    'cordon and drain',
    ...(input.maintenanceCommand ? [`run \`${input.maintenanceCommand}\` as root`] : []),
    'systemctl reboot',
    'wait for a new boot id' + (seen.controlPlane ? ' and MicroK8s running' : ''),
    'wait Ready',
    ...(seen.controlPlane ? ['health gate (control planes Ready, voters, HA)'] : []),
    seen.unschedulable ? 'leave it cordoned (it was before)' : 'uncordon',
  ];
  return `${node} (${role}; ${describeBoot(b)}): ${steps.join(', ')}`;
}

export function describeBoot(b: NodeBootState): string {
  if (b.unreachable) return `does not answer: ${b.unreachable}`;
  return b.rebootRequired ? `reboot required${b.pkgs.length ? ` by ${b.pkgs.join(', ')}` : ''}` : 'no reboot required';
}

export async function rebootNode(ctx: RebootContext, node: string): Promise<NodeReboot> {
  const { rb, checklist, input } = ctx;
  const { o, drain, patch, boot, ready } = profiles(input);
  const target = { inventory: input.inventory, node };
  const cp = ctx.seen(node).controlPlane;
  const bootIdBefore = ctx.state(node).bootId;
  const wasCordoned = ctx.seen(node).unschedulable;
  let cordonedByUs = false;
  let issued = false;
  const stop = (type: string, message: string): never => {
    rb.node(node, 'failed', message);
    return rb.fail(type, `${node}: ${message}`);
  };
  const waitBack = () =>
    boot.waitNodeBack.executeWithOptions({ summary: `wait for ${node} to come back with a new boot id` }, [
      { ...target, bootIdBefore, controlPlane: cp, timeoutSeconds: o.bootTimeoutSeconds, pollMs: input.pollMs },
    ]);
  const waitReady = () =>
    ready.waitNodeReady.executeWithOptions({ summary: `wait for ${node} Ready` }, [{ ...target, minor: ctx.seen(node).version, timeoutSeconds: o.readyTimeoutSeconds, pollMs: input.pollMs }]);

  try {
    if (cp) {
      const worse = gateProblems(ctx.baseline, await checklist.step(`checkQuorum before ${node}`, ctx.gate));
      if (worse) stop(FailureType.GateFailed, `not rebooting: ${worse}; nothing was done to ${node}`);
    }

    rb.node(node, 'draining', cp ? 'control plane' : 'worker');
    cordonedByUs = !wasCordoned;
    const drained = await checklist.step(`drainNode ${node}`, () => drain.drainNode.executeWithOptions({ summary: `drain ${node}` }, [{ ...target, timeoutSeconds: o.drainTimeoutSeconds }]));
    if (!drained.drained) {
      if (cordonedByUs) await checklist.step(`uncordonNode ${node} (drain failed)`, () => drain.uncordonNode.executeWithOptions({ summary: `uncordon ${node}: its drain failed` }, [target]));
      cordonedByUs = false;
      stop(FailureType.DrainFailed, `${drained.pdbBlocked.length ? describePdbBlock(node, drained.pdbBlocked) : (drained.message ?? 'drain did not finish')}; uncordoned again, not rebooted`);
    }

    let maintenance: NodeReboot['maintenance'];
    if (input.maintenanceCommand) {
      rb.node(node, 'patching', input.maintenanceCommand);
      const m = await checklist.step(`runMaintenance ${node}`, () =>
        patch.runMaintenance.executeWithOptions({ summary: `maintenance command on ${node}` }, [{ ...target, command: input.maintenanceCommand!, timeoutSeconds: o.maintenanceTimeoutSeconds }]),
      );
      maintenance = { exitCode: m.exitCode, tail: m.tail }; // the command's audit record stays with the step, not in the result
    }

    rb.node(node, 'rebooting', `boot id ${bootIdBefore.slice(0, 8)}…`);
    // Never interrupted halfway: once issued, a cancel waits for the node to come back (putBack).
    const sent = await CancellationScope.nonCancellable(() =>
      checklist.step(`rebootNode ${node}`, () => boot.rebootNode.executeWithOptions({ summary: `systemctl reboot ${node}` }, [{ ...target, bootIdBefore }])),
    );
    issued = true;

    // Back, Ready and healthy; with --on-failure pause, a decision may send it round again.
    for (;;) {
      const problem = await checklist.step(`waitNodeBack, waitNodeReady and healthGate ${node}`, async () => {
        const back = await waitBack();
        rb.node(node, 'verifying', `back after ${Math.round(back.waitedMs / 1000)}s, boot id ${back.bootId.slice(0, 8)}…`);
        const r = await waitReady();
        if (!r.ready) return { message: `${r.message ?? 'not Ready'}`, back };
        const worse = cp ? gateProblems(ctx.baseline, await ctx.gate()) : undefined;
        return worse ? { message: worse, back } : { back };
      }).catch((err) => {
        if (err instanceof ActivityFailure && innermostType(err) === FailureType.NodeDidNotReturn) return { message: innermostMessage(err), back: undefined };
        throw err;
      });
      if (!problem.message && problem.back) {
        if (cordonedByUs) await checklist.step(`uncordonNode ${node}`, () => ready.uncordonNode.executeWithOptions({ summary: `uncordon ${node}` }, [target]));
        rb.node(node, 'done', `rebooted${sent.issued ? '' : ' (by an earlier try)'}, boot id ${problem.back.bootId.slice(0, 8)}…`);
        return { node, controlPlane: cp, outcome: 'rebooted', bootIdBefore, bootIdAfter: problem.back.bootId, ...(maintenance ? { maintenance } : {}), downMs: problem.back.waitedMs };
      }
      const message = `${problem.message.replace(`${node}: `, '')}; it stays cordoned`;
      if (input.onFailure !== 'pause') stop(FailureType.NodeDidNotReturn, message);
      rb.node(node, 'failed', message);
      const d = await rb.awaitDecision(`${node}: ${message}`);
      if (d.decision !== 'retry') stop(FailureType.NodeDidNotReturn, `${message} (${d.decision} by ${d.by})`);
      rb.note(`${node}: retry by ${d.by}: waiting for it again`);
    }
  } catch (err) {
    if (isCancellation(err)) await CancellationScope.nonCancellable(() => putBack(ctx, node, bootIdBefore, issued, cordonedByUs, waitBack, waitReady));
    // A step that failed (not a refusal above): the node's line and the run's failure name the innermost cause.
    if (err instanceof ActivityFailure) stop(innermostType(err) ?? FailureType.CommandFailed, `${innermostMessage(err)}${cordonedByUs ? '; it stays cordoned' : ''}`);
    throw err;
  }
}

/** Cancelled: end in a verified state. Rebooted → wait for it and uncordon; not rebooted → uncordon. */
async function putBack(
  ctx: RebootContext,
  node: string,
  bootIdBefore: string,
  issued: boolean,
  cordonedByUs: boolean,
  waitBack: () => Promise<unknown>,
  waitReady: () => Promise<{ ready: boolean; message?: string }>,
): Promise<void> {
  const { rb } = ctx;
  const { ready } = profiles(ctx.input);
  if (issued) {
    rb.step(`cancelled: waiting for ${node} to come back (boot id was ${bootIdBefore.slice(0, 8)}…)`);
    await waitBack();
    const r = await waitReady();
    if (!r.ready) {
      rb.node(node, 'failed', `cancelled after its reboot: ${r.message}; it stays cordoned`);
      return;
    }
  }
  if (cordonedByUs) await ready.uncordonNode.executeWithOptions({ summary: `uncordon ${node} (cancel)` }, [{ inventory: ctx.input.inventory, node }]);
  rb.node(node, issued ? 'done' : 'skipped', issued ? 'cancelled: rebooted, Ready, uncordoned' : 'cancelled before its reboot: uncordoned');
}
