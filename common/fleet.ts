/**
 * One runbook over many clusters (`runbook fleet`): the fleet's contract (workflow-safe). A fleet run starts each
 * cluster's own runbook as a child under that cluster's lock ID, so a cluster busy with another runbook is reported
 * and skipped; a canary goes first and alone, then the rest at most `maxParallel` at a time, and no new cluster starts
 * once `stopAfterFailures` have failed.
 */
import type { BackupResult } from './backup';
import type { CheckResult } from './check';
import type { Inventory } from './inventory';
import type { UpgradeOptions } from './upgrade';
import type { RollingUpgradeResult } from './upgrade-reports';

/** What a fleet runs on each cluster, and the workflow that does it. */
export const FLEET_RUNBOOKS = { upgrade: 'rollingUpgrade', check: 'check', backup: 'backup' } as const;
export type FleetKind = keyof typeof FLEET_RUNBOOKS;

/** A fleet's name: what its workflow ID is made of (`fleet-<name>`). */
export const FLEET_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** More clusters than this in one fleet run: split the fleet (one run's history stays well inside Temporal's limits). */
export const MAX_FLEET_CLUSTERS = 500;

export interface FleetInput {
  fleet: string;
  kind: FleetKind;
  /** Every cluster's inventory, in the fleet file's order: the first is the canary. */
  clusters: Inventory[];
  /** Clusters running at once after the canary. */
  maxParallel: number;
  /** No new cluster starts once this many have failed (running ones finish). Unset: never stop early. */
  stopAfterFailures?: number;
  /** The upgrade's options (`--to`, `--worker-batch`, ...), the same for every cluster. */
  upgrade?: import('zod').input<typeof UpgradeOptions>;
  /** `backup --keep`. */
  keep?: number;
  planOnly?: boolean;
  yes?: boolean;
  requestedBy: string;
}

export type FleetClusterOutcome = 'succeeded' | 'failed' | 'busy' | 'not-started' | 'cancelled';

export interface FleetClusterResult {
  cluster: string;
  outcome: FleetClusterOutcome;
  /** The cluster's runbook (its lock ID). */
  workflowId: string;
  /** One line: the result, why it failed, or who holds the cluster. */
  detail: string;
  startedAt?: string;
  endedAt?: string;
}

export interface FleetResult {
  fleet: string;
  kind: FleetKind;
  plan: string[];
  clusters: FleetClusterResult[];
  /** No new cluster was started after `stopAfterFailures` failures. */
  stoppedEarly: boolean;
}

/** The fleet run's workflow ID: one run per fleet at a time (conflict policy FAIL); apart from every cluster's lock ID. */
export function fleetWorkflowId(fleet: string): string {
  return `fleet-${fleet}`;
}

/** The one line a cluster's result gets in the fleet's table. */
export function describeClusterResult(kind: FleetKind, r: unknown): { ok: boolean; detail: string } {
  if (kind === 'check') {
    const c = r as CheckResult;
    return c.healthy ? { ok: true, detail: 'healthy' } : { ok: false, detail: `${c.problems.length} problem(s): ${c.problems[0] ?? ''}` };
  }
  if (kind === 'backup') {
    const b = (r as BackupResult).backup;
    return b ? { ok: true, detail: `backup ${b.id} of ${b.node}` } : { ok: false, detail: 'no backup made' };
  }
  const u = r as RollingUpgradeResult;
  const versions = [...new Set(Object.values(u.versions ?? {}))].join(', ');
  if (u.outcome === 'upgraded') return { ok: true, detail: `upgraded: ${versions}` };
  if (u.outcome === 'nothing-to-do') return { ok: true, detail: `nothing to do: ${versions}` };
  // A refusal's reasons are the plan's "Refused:" lines.
  const refusal = u.plan.find((l) => l.startsWith('  - '))?.trim().slice(2);
  return { ok: false, detail: `${u.outcome}${refusal ? `: ${refusal}` : ''}` };
}
