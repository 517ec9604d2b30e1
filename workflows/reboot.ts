/**
 * `runbook reboot`: rolling maintenance and reboot (behaviour reference §12), as an SRE does it by hand.
 *   1. Read every node: boot id, reboot sentinel, Ready, cordoned, held, the dqlite leader. Refuse if a node does
 *      not answer or is not Ready: a reboot must never be what takes the second voter down.
 *   2. Plan: control planes one at a time with the leader last, then workers in batches; `--only-if-required` skips
 *      nodes without `/var/run/reboot-required`.
 *   3. Hold snap auto-refresh for the run (released at the end, on every way out; holds set before stay).
 *   4. Health gate before the first node: control planes Ready, dqlite voters and HA as they are.
 *   5. Each turn (one control plane, or a batch of workers): wait for the window, wait while a gate fires, then per
 *      node cordon and drain, the maintenance command, `systemctl reboot`, wait for a new boot id and MicroK8s
 *      running, wait Ready, the health gate, uncordon (workflows/reboot-node.ts).
 */
import { CancellationScope, proxyActivities, sleep } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { ClusterCheck } from '../common/check';
import { FailureType } from '../common/constants';
import { type NodeBootState, type NodeReboot, REBOOT_DEFAULTS, RebootOptions, type RebootInput, type RebootResult, rebootOrder } from '../common/reboot';
import type { ObservedNode } from '../common/upgrade';
import { msUntilFits, parseWindow, type MaintenanceWindow } from '../common/window';
import { Checklist } from './checklist';
import { describeBoot, describeTurn, type RebootContext, rebootNode, rebootTimeouts } from './reboot-node';
import { RunbookController } from './runbook-controller';
import { heartbeatMs, stepOptions } from './step-options';

export async function rollingReboot(input: RebootInput): Promise<RebootResult> {
  const { inventory } = input;
  const names = inventory.nodes.map((n) => n.name);
  const rb = new RunbookController('reboot', inventory.cluster, names);
  const valid = RebootOptions.safeParse(pickOptions(input));
  if (!valid.success) rb.fail(FailureType.InvalidInput, valid.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  const o = rebootTimeouts(input);
  const heartbeat = heartbeatMs(input.heartbeatTimeoutSeconds);
  const read = proxyActivities<Activities>(stepOptions({ startToClose: '6m', scheduleToClose: '15m', heartbeat }));
  const cps = inventory.nodes.filter((n) => n.role === 'controlplane');
  const checklist = new Checklist(rb);
  const trust = { knownHosts: inventory.knownHosts, hostKeyPolicy: inventory.hostKeyPolicy };
  const window = input.window ? (parseWindow(input.window) as MaintenanceWindow) : undefined;

  // 1. Read.
  const [observed, before] = await checklist.step('readBootState', () =>
    Promise.all([
      read.observeUpgradeState.executeWithOptions({ summary: 'read nodes, versions, readiness, holds and the dqlite leader' }, [{ inventory }]),
      Promise.all(names.map((node) => read.readBootState.executeWithOptions({ summary: `read ${node}'s boot id and reboot sentinel` }, [{ inventory, node }]))),
    ]),
  );
  const seen = (node: string): ObservedNode => observed.nodes.find((n) => n.name === node)!;
  const state = (node: string): NodeBootState => before.find((b) => b.node === node)!;
  for (const b of before) rb.node(b.node, b.unreachable ? 'failed' : 'pending', describeBoot(b));
  rb.refuseSilentNodes(before);
  const notReady = names.filter((n) => !seen(n)?.ready);
  if (notReady.length) rb.fail(FailureType.PreconditionFailed, `not starting: ${notReady.join(', ')} not Ready; reboot it by hand or heal it first; nothing was changed`);

  // 2. Plan.
  const leader = observed.nodes.find((n) => n.leader)?.name;
  const workers = inventory.nodes.filter((n) => n.role === 'worker').map((n) => n.name);
  const chosen = (node: string) => !input.onlyIfRequired || state(node).rebootRequired;
  const waves = rebootOrder(cps.map((n) => n.name).filter(chosen), leader, workers.filter(chosen), o.workerBatch);
  const skipped = names.filter((n) => !chosen(n));
  const estimateMs = (input.turnEstimateSeconds ?? REBOOT_DEFAULTS.turnEstimateSeconds) * 1000;
  const plan = [
    ...(waves.length && window ? [`in the window ${window.text}: a turn starts only when it can end inside it (estimate ${Math.round(estimateMs / 60_000)} min, then the longest turn so far)`] : []),
    ...(waves.length ? ['hold snap auto-refresh on every node for the run (holds set before stay)'] : []),
    ...(waves.length && gatesOf(input).length ? [`before each turn, wait while a gate fires: ${gatesOf(input).join('; ')}`] : []),
    ...waves.map((wave) => wave.map((node) => describeTurn(node, seen(node), state(node), leader, input)).join('\n  and at the same time: ')),
    ...skipped.map((node) => `${node}: skipped, no reboot required (--only-if-required)`),
  ];
  if (!waves.length) plan.unshift('nothing to do: no node requires a reboot');
  const skippedReports = skipped.map((node): NodeReboot => ({ node, controlPlane: seen(node).controlPlane, outcome: 'skipped', reason: 'no reboot required', bootIdBefore: state(node).bootId }));
  for (const node of skipped) rb.node(node, 'skipped', 'no reboot required');
  if (window && msUntilFits(window, Date.now(), estimateMs) === undefined) {
    rb.fail(FailureType.InvalidInput, `the window ${window.text} is shorter than one node's turn (${Math.round(estimateMs / 60_000)} min); widen it or lower --turn-estimate`);
  }
  if (input.planOnly) {
    await rb.approvePlan(plan, true, 'plan only');
    rb.step('plan only');
    return { plan, before, nodes: skippedReports };
  }
  await rb.approvePlan(plan, input.yes || !waves.length, `reboot ${waves.flat().join(', ') || 'no node'}`);
  if (!waves.length) {
    rb.step('done: nothing to do');
    return { plan, before, nodes: skippedReports };
  }

  // 3. Hold auto-refresh for the run: a snap refresh must not restart a node's services in the middle of its turn.
  const heldBefore = observed.nodes.filter((n) => n.held).map((n) => n.name);
  const toHold = names.filter((n) => !heldBefore.includes(n));
  await checklist.step('holdRefreshes', () => read.holdRefreshes.executeWithOptions({ summary: 'hold snap auto-refresh during the reboots' }, [{ inventory, nodes: toHold, release: false }]), {
    undo: async () => {
      rb.step('releaseRefreshHolds');
      const r = await read.holdRefreshes.executeWithOptions({ summary: 'release the holds this run set' }, [{ inventory, nodes: toHold, release: true }]);
      rb.note(r.failed.length ? `refresh holds NOT released on: ${r.failed.join('; ')} (run: snap refresh --unhold microk8s)` : `snap refresh holds released on ${toHold.join(', ') || 'no node'}`);
    },
  });
  try {
    // 4. Health gate before anything changes.
    const gate = () => read.checkCluster.executeWithOptions({ summary: 'health gate: control planes Ready, voters, HA' }, [{ candidates: cps, trust }]);
    const baseline: ClusterCheck = await checklist.step('healthGate', gate);
    const ctx: RebootContext = { rb, checklist, input, seen, state, baseline, gate };

    // 5. Turn by turn.
    const done: NodeReboot[] = [];
    let longestTurnMs = 0;
    for (const wave of waves) {
      rb.focus(wave.length === 1 ? wave[0] : null);
      if (window) await waitForWindow(window, Math.max(longestTurnMs, estimateMs), wave);
      await waitForGates(wave);
      const t0 = Date.now(); // workflow time: deterministic
      // A batch settles as a whole: a node that fails does not leave its neighbours mid-reboot when the run stops.
      const settled = await Promise.allSettled(wave.map((node) => rebootNode(ctx, node)));
      const failed = settled.find((x): x is PromiseRejectedResult => x.status === 'rejected');
      if (failed) throw failed.reason;
      done.push(...settled.map((x) => (x as PromiseFulfilledResult<NodeReboot>).value));
      longestTurnMs = Math.max(longestTurnMs, Date.now() - t0);
    }
    rb.focus(null);
    await CancellationScope.nonCancellable(() => checklist.undo());
    rb.step('done');
    return { plan, before, nodes: [...done, ...skippedReports] };
  } catch (err) {
    await CancellationScope.nonCancellable(() => checklist.undo());
    throw err;
  }

  /** Outside the window, or too close to its end for a turn: a durable timer until the next opening that fits. */
  async function waitForWindow(w: MaintenanceWindow, needMs: number, wave: string[]): Promise<void> {
    const waitMs = msUntilFits(w, Date.now(), needMs);
    if (!waitMs) return;
    const at = new Date(Date.now() + waitMs).toISOString().replace(/\.\d+Z$/, 'Z');
    rb.step(`waiting for the window ${w.text}: ${wave.join(', ')} start at ${at} (a turn takes up to ${Math.round(needMs / 60_000)} min)`);
    await sleep(waitMs, { summary: `window ${w.text}: until ${at}` });
  }

  /** While a gate fires, wait and say why; past `--gate-timeout` the run stops (or pauses, with --on-failure pause). */
  async function waitForGates(wave: string[]): Promise<void> {
    if (!gatesOf(input).length) return;
    const since = Date.now();
    for (;;) {
      const g = await read.checkGates.executeWithOptions({ summary: `gates before ${wave.join(', ')}` }, [
        { inventory, nodes: wave, gateCommand: input.gateCommand, gatePrometheus: input.gatePrometheus, alertFilter: input.alertFilter, blockingPods: input.blockingPods },
      ]);
      if (g.clear) return;
      const why = g.firing.join('; ');
      if (Date.now() - since >= o.gateTimeoutSeconds * 1000) {
        const message = `gates still firing before ${wave.join(', ')} after ${o.gateTimeoutSeconds}s: ${why}; nothing was done to ${wave.join(', ')}`;
        if (input.onFailure !== 'pause') rb.fail(FailureType.GateFailed, message);
        const d = await rb.awaitDecision(message);
        if (d.decision !== 'retry') rb.fail(FailureType.GateFailed, `${message}; ${d.decision} by ${d.by}`);
        continue;
      }
      rb.step(`waiting: a gate fires before ${wave.join(', ')}: ${why}`);
      await sleep(o.gatePollSeconds * 1000, { summary: `gate firing: ${why}`.slice(0, 200) });
    }
  }
}

function gatesOf(input: RebootInput): string[] {
  return [
    ...(input.gateCommand ? [`\`${input.gateCommand}\` on the engine side exits 0`] : []),
    ...(input.gatePrometheus ? [`no alert firing at ${input.gatePrometheus}${input.alertFilter ? ` matching ${input.alertFilter}` : ''}`] : []),
    ...(input.blockingPods ? [`no running pod matching ${input.blockingPods} on the turn's nodes`] : []),
  ];
}


function pickOptions(input: RebootInput): Record<string, unknown> {
  return Object.fromEntries(Object.keys(RebootOptions.shape).map((k) => [k, input[k as keyof RebootInput]]));
}
