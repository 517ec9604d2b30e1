/**
 * The rolling upgrade's contract, shared by the CLI (flag validation), the workflow (planning) and the activities
 * (observation): its options, the channel grammar of `--to`, and what observing the cluster reports. Workflow-safe.
 */
import { z } from 'zod';
import type { DqliteRole } from './dqlite';

const RISKS = ['stable', 'candidate', 'beta', 'edge'] as const;
const CHANNEL = /^1\.(\d{1,3})(?:\/(stable|candidate|beta|edge))?$/;

/** `--to 1.29` means `1.29/stable`, as snapd reads it. */
export function normaliseChannel(value: string): string {
  const m = CHANNEL.exec(value);
  if (!m) throw new Error(`"${value}" is not a MicroK8s channel; use <1.NN>[/${RISKS.join('|')}], e.g. 1.29/stable`);
  return `1.${Number(m[1])}/${m[2] ?? 'stable'}`;
}

const seconds = (min: number, max: number) => z.number().int().min(min).max(max);

export const UpgradeOptions = z.strictObject({
  to: z.string().refine((v) => CHANNEL.test(v), {
    error: (iss) => `${JSON.stringify(iss.input)} is not a MicroK8s channel; use <1.NN>[/<risk>], e.g. 1.29/stable`,
  }),
  approve: z.enum(['none', 'each', 'on-failure']).default('none'),
  workerBatch: z.number().int().min(1).max(100).default(1),
  rollback: z.enum(['node', 'all']).default('node'),
  onFailure: z.enum(['rollback', 'pause']).default('rollback'),
  drainTimeoutSeconds: seconds(1, 86_400).default(300),
  soakSeconds: seconds(0, 86_400).default(0),
  /** An approval not answered in time pauses the runbook; it never proceeds on its own. */
  approvalTimeoutSeconds: seconds(1, 7 * 86_400).default(3600),
  readyTimeoutSeconds: seconds(5, 86_400).default(600),
  /** How often a refreshed node's readiness is polled (one `kubectl get nodes` on another control plane). */
  readyPollMs: z.number().int().min(100).max(60_000).default(1000),
  /** How soon a lost worker's activity is retried elsewhere (the SSH layer heartbeats while commands run). */
  heartbeatTimeoutSeconds: seconds(5, 600).default(30),
  /**
   * `--step-timeout`: the most one step may take, every retry included (lost workers, dropped connections, a node
   * that does not answer). Then the step fails and `onFailure` applies. A drain and the wait for Ready get their own
   * timeouts on top; a snap refresh or revert must fit in it.
   */
  stepTimeoutSeconds: seconds(10, 86_400).default(1800),
  /**
   * `--hops N`: the number of minor passes the user expects. A `--to` more than one minor ahead must be confirmed,
   * by this or by answering the plan (which lists every hop); `--yes` alone does not.
   */
  hops: z.number().int().min(1).max(20).optional(),
});
export type UpgradeOptions = z.output<typeof UpgradeOptions>;

// --- what the observation activity reports --------------------------------------------------------------------

export interface ObservedNode {
  name: string;
  controlPlane: boolean;
  /** `snap list`: version (`v1.28.5`), revision and tracked channel (`1.28/stable`). */
  version: string;
  revision: string;
  tracking: string;
  kubeletVersion?: string;
  ready: boolean;
  unschedulable: boolean;
  /** `snap list` Notes say `held`: auto-refresh held before the run (an operator's hold, left in place after it). */
  held?: boolean;
  dqliteRole?: DqliteRole;
  leader: boolean;
}

export interface ClusterObservation {
  nodes: ObservedNode[];
  /** `high-availability: yes` and the voter count, as `microk8s status` reports them. */
  ha: boolean;
  voters: number;
  /** `namespace/pod` of kube-system pods that are not running: an unhealthy cluster is not upgraded. */
  failingSystemPods: string[];
  /** `namespace/pod` of failing workload pods: the baseline the health gates compare against. */
  failingWorkloadPods: string[];
  /** Channel → version published there (`snap info microk8s`), for "latest patch of the current track". */
  channels: Record<string, string>;
}

// --- the plan (workflows/upgrade-plan.ts makes it) -------------------------------------------------------------------------------------------------

export interface NodeStep {
  node: string;
  controlPlane: boolean;
  channel: string;
  /** Kubernetes minor the node must report afterwards (`1.29`). */
  minor: string;
}

export interface Hop {
  kind: 'patch' | 'minor';
  /** `1.29/stable`, or `latest patch of current tracks`. */
  label: string;
  controlPlanes: NodeStep[];
  workerBatches: NodeStep[][];
  /** Nodes already there, with the reason. */
  skipped: string[];
}

export interface UpgradePlan {
  target: string;
  hops: Hop[];
  /** Why the upgrade must not start; empty when it may. */
  refusals: string[];
  /**
   * Refusals that are the request's fault, not the cluster's: a hop's channel the store does not have, or more
   * minors than the user confirmed. The CLI reports them as bad input (exit 2). Also listed in `refusals`.
   */
  badRequest: string[];
  /** Failing workload pods at the start; health gates fail only on pods beyond these. */
  baseline: string[];
  /** What each node ran before: the rollback target. */
  before: Record<string, { version: string; revision: string; channel: string; unschedulable: boolean }>;
  lines: string[];
}
