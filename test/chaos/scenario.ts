/**
 * The chaos scenario (issue 8 §1), on one lab of 5 control-plane nodes and 2 workers, of which the first
 * inventory holds k8s-1..3 and both workers: the lab cannot add nodes to a running lab (Lab has no such API), so
 * k8s-4 and k8s-5 are pre-provisioned and left out until the cluster grows back to HA.
 *
 *   form (3 CP + 2 W) → fail-upgrade on k8s-2 → upgrade 1.28→1.29 --rollback node (fails at k8s-2, reverted)
 *   → heal; an operator cordons k8s-w2 → upgrade again (completes; k8s-w2 stays cordoned) → operator uncordons
 *   → destroy k8s-2, k8s-3 → recover-quorum --lost k8s-2,k8s-3 → k8s-4, k8s-5 refreshed to 1.29 by hand
 *   → form k8s-1, k8s-4, k8s-5 + workers (grows back to 3 voters).
 *
 * Runbooks are started as the CLI starts them (runbookStartOptions, the CLI's own input builders) through a
 * client that retries across the server restart; heartbeat timeouts are shortened (inputs the CLI does not
 * expose) so that a killed worker's activity is retried within seconds instead of 30-60 s.
 */
import type { TestStartSpec } from '../support/temporal';
import { Client, WorkflowExecutionAlreadyStartedError, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { runbookStartOptions } from '../../cli/start-options';
import { upgradeInput, parseUpgradeFlags } from '../../cli/commands/upgrade';
import { clusterWorkflowId } from '../../common/constants';
import type { Inventory } from '../../common/inventory';
import { progressQuery, type RunbookProgress } from '../../common/messages';
import type { Lab } from '../../lab';
import type { RunbookWindow } from './invariants';

export const FIRST = ['k8s-1', 'k8s-2', 'k8s-3', 'k8s-w1', 'k8s-w2'];
export const GROWN = ['k8s-1', 'k8s-4', 'k8s-5', 'k8s-w1', 'k8s-w2'];
export const LOST = ['k8s-2', 'k8s-3'];
/** The runbooks of the scenario, in order (the chaos schedule spreads its kills over them). */
export const PHASES = [
  'form 3 CP + 2 workers',
  'upgrade to 1.29 (k8s-2 fails, rolled back)',
  'upgrade to 1.29 again',
  'recover-quorum --lost k8s-2,k8s-3',
  'form: grow back to HA with k8s-4, k8s-5',
];
const FORM_TIMING = { pollMs: 100, settleTimeoutMs: 60_000, heartbeatTimeoutMs: 4_000, tokenTtlSeconds: 300 };

export interface RunbookOutcome {
  name: string;
  kind: string;
  expected: 'completed' | 'failed';
  ok: boolean;
  detail: string;
  ms: number;
}

export interface ScenarioContext {
  client: Client;
  lab: Lab;
  taskQueue: string;
  log: (line: string) => void;
  /** Set while a runbook is in flight (the chaos schedule acts only then). */
  setPhase: (phase: string | undefined) => void;
  transientErrors: string[];
}

export function subset(inv: Inventory, names: string[]): Inventory {
  return { ...inv, nodes: inv.nodes.filter((n) => names.includes(n.name)) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Retry a client call across a server restart (UNAVAILABLE, connection refused) for up to two minutes. */
async function retrying<T>(ctx: ScenarioContext, what: string, fn: () => Promise<T>, done: (e: unknown) => boolean = () => false): Promise<T> {
  const end = Date.now() + 120_000;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (done(e) || Date.now() > end) throw e;
      ctx.transientErrors.push(`${what}: ${(e as Error).message.split('\n')[0]}`);
      await sleep(500);
    }
  }
}

export async function currentStep(client: Client, cluster: string): Promise<string | undefined> {
  const p = (await client.workflow.getHandle(clusterWorkflowId(cluster)).query(progressQuery)) as RunbookProgress;
  return p.step;
}

export class Scenario {
  readonly outcomes: RunbookOutcome[] = [];
  readonly windows: RunbookWindow[] = [];

  constructor(private readonly ctx: ScenarioContext) {}

  /** Start a runbook as the CLI does and wait for its end, whatever the chaos does meanwhile. */
  private async runbook(name: string, spec: TestStartSpec, timeoutMs: number): Promise<{ value?: unknown; error?: WorkflowFailedError; ms: number }> {
    const { client, taskQueue, log } = this.ctx;
    const t0 = Date.now();
    log(`runbook ${name}: start`);
    const options = runbookStartOptions(spec, { taskQueue, identity: 'chaos@driver' });
    const handle: WorkflowHandle = await retrying(
      this.ctx,
      `start ${name}`,
      () => client.workflow.start(spec.workflowType, options),
      (e) => e instanceof WorkflowExecutionAlreadyStartedError,
    ).catch((e) => {
      // The start reached the server but its answer was lost in a restart: follow the run that exists.
      if (e instanceof WorkflowExecutionAlreadyStartedError) return client.workflow.getHandle(options.workflowId);
      throw e;
    });
    this.ctx.setPhase(name);
    try {
      const end = t0 + timeoutMs;
      for (;;) {
        try {
          const value = await handle.result();
          return { value, ms: Date.now() - t0 };
        } catch (e) {
          if (e instanceof WorkflowFailedError) return { error: e, ms: Date.now() - t0 };
          if (Date.now() > end) throw new Error(`runbook ${name} did not end within ${timeoutMs} ms: ${(e as Error).message}`);
          this.ctx.transientErrors.push(`result of ${name}: ${(e as Error).message.split('\n')[0]}`);
          await sleep(500);
        }
      }
    } finally {
      this.ctx.setPhase(undefined);
      this.windows.push({ kind: spec.kind, startMs: t0, endMs: Date.now() });
    }
  }

  /** Record how a runbook ended; the scenario stops at the first that did not end as intended (the rest would only cascade). */
  private record(o: RunbookOutcome): void {
    this.outcomes.push(o);
    this.ctx.log(`runbook ${o.name}: ${o.ok ? 'ended as it should' : 'DID NOT END AS IT SHOULD'} (${o.expected}; ${o.detail}) in ${(o.ms / 1000).toFixed(1)} s`);
    if (!o.ok) throw new Error(`runbook "${o.name}" did not end as intended: ${o.detail}`);
  }

  private async form(name: string, inv: Inventory, joins: string[]): Promise<void> {
    const r = await this.runbook(name, {
      kind: 'form',
      workflowType: 'form',
      inventory: inv,
      input: { workerConcurrency: 5, maxClockSkewMs: 2_000, cleanStale: false, timing: FORM_TIMING },
      summary: `chaos ${name}`,
      yes: true,
    }, 600_000);
    const v = r.value as { verification?: { highAvailability?: boolean }; joined?: string[] } | undefined;
    const joined = [...(v?.joined ?? [])].sort();
    const ok = !r.error && v?.verification?.highAvailability === true && JSON.stringify(joined) === JSON.stringify([...joins].sort());
    this.record({ name, kind: 'form', expected: 'completed', ok, detail: r.error ? causeOf(r.error) : `HA ${v?.verification?.highAvailability}, joined ${joined.join(', ')}`, ms: r.ms });
  }

  private async upgrade(name: string, inv: Inventory, expected: 'completed' | 'failed'): Promise<void> {
    const parsed = parseUpgradeFlags({ inventory: 'chaos', to: '1.29/stable', rollback: 'node', readyTimeout: '15s', drainTimeout: '20s', soak: '0s', approvalTimeout: '1h', approve: 'none', onFailure: 'rollback', workerBatch: '1' });
    if ('error' in parsed) throw new Error(parsed.error);
    const r = await this.runbook(name, {
      kind: 'upgrade',
      workflowType: 'rollingUpgrade',
      inventory: inv,
      input: { ...upgradeInput(parsed.flags), heartbeatTimeoutSeconds: 5, readyPollMs: 250 },
      summary: `chaos ${name}`,
      yes: true,
    }, 900_000);
    if (expected === 'failed') {
      const cause = r.error ? causeOf(r.error) : '';
      const type = (r.error?.cause as { type?: string } | undefined)?.type;
      const ok = !!r.error && type === 'UpgradeFailed' && /upgrade stopped at k8s-2/.test(cause);
      this.record({ name, kind: 'upgrade', expected, ok, detail: r.error ? `${type}: ${cause.slice(0, 200)}` : 'it completed', ms: r.ms });
    } else {
      const v = r.value as { outcome?: string; versions?: Record<string, string> } | undefined;
      const ok = !r.error && v?.outcome === 'upgraded' && inv.nodes.every((n) => /^v1\.29\./.test(v.versions?.[n.name] ?? ''));
      this.record({ name, kind: 'upgrade', expected, ok, detail: r.error ? causeOf(r.error) : `${v?.outcome}: ${JSON.stringify(v?.versions)}`, ms: r.ms });
    }
  }

  private async recover(name: string, inv: Inventory): Promise<void> {
    const r = await this.runbook(name, {
      kind: 'recover-quorum',
      workflowType: 'recoverQuorum',
      inventory: inv,
      input: { lost: LOST, fence: false, waitTimeoutMs: 180_000 },
      summary: `chaos ${name}`,
      yes: true,
    }, 900_000);
    const v = r.value as { outcome?: string; survivors?: string[]; removedNodes?: string[] } | undefined;
    const ok = !r.error && v?.outcome === 'recovered' && JSON.stringify([...(v.removedNodes ?? [])].sort()) === JSON.stringify(LOST);
    this.record({ name, kind: 'recover-quorum', expected: 'completed', ok, detail: r.error ? causeOf(r.error) : `${v?.outcome}, survivors ${v?.survivors?.join(', ')}, removed ${v?.removedNodes?.join(', ')}`, ms: r.ms });
  }

  /** An operator's command on a node over real ssh (the lab's key), outside any runbook. */
  private async operator(node: string, cmd: string): Promise<void> {
    const r = await this.ctx.lab.exec(node, cmd, { timeoutMs: 60_000 });
    this.ctx.log(`operator on ${node}: ${cmd} → exit ${r.code}`);
    if (r.code !== 0) throw new Error(`operator command failed on ${node}: ${cmd}: ${r.stderr.trim()}`);
  }

  async run(): Promise<void> {
    const { lab, log } = this.ctx;
    const first = subset(lab.inventory, FIRST);
    const microk8s = `${lab.inventory.nodes[0].paths?.snapBin ?? '/snap/bin'}/microk8s`;
    await this.form(PHASES[0], first, ['k8s-2', 'k8s-3', 'k8s-w1', 'k8s-w2']);
    log('lab: fault k8s-2 fail-upgrade --to 1.29');
    await lab.fault('k8s-2', 'fail-upgrade', { to: '1.29' });
    await this.upgrade(PHASES[1], first, 'failed');
    log('lab: heal k8s-2');
    await lab.heal('k8s-2');
    await this.operator('k8s-1', `sudo -n ${microk8s} kubectl cordon k8s-w2`);
    await this.upgrade(PHASES[2], first, 'completed');
    await this.operator('k8s-1', `sudo -n ${microk8s} kubectl uncordon k8s-w2`);
    log('lab: destroy k8s-2 and k8s-3 (2 of 3 voters)');
    for (const n of LOST) await lab.fault(n, 'destroy');
    await this.recover(PHASES[3], first);
    for (const n of ['k8s-4', 'k8s-5']) await this.operator(n, 'sudo -n snap refresh microk8s --channel=1.29/stable');
    await this.form(PHASES[4], subset(lab.inventory, GROWN), ['k8s-4', 'k8s-5']);
  }
}

function causeOf(e: WorkflowFailedError): string {
  let c: Error | undefined = e.cause;
  while ((c as { cause?: Error } | undefined)?.cause) c = (c as { cause?: Error }).cause;
  return String(c?.message ?? e.message);
}
