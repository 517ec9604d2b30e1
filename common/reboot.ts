/**
 * The reboot runbook's contract (workflow-safe): rolling maintenance and reboot of every node, one control plane at
 * a time and the dqlite leader last, workers in batches (behaviour reference §12).
 */
import { z } from 'zod';
import type { RunbookBaseInput } from './messages';
import { plainTextProblem } from './text';
import { parseWindow } from './window';

/** A maintenance or gate command: one line a person can read in the plan and in history; no control characters. */
export const MAX_NODE_COMMAND_LENGTH = 1000;

export const NodeCommandLine = z
  .string()
  .min(1, { error: 'is empty; give the command line to run, e.g. "apt-get -y full-upgrade"' })
  .max(MAX_NODE_COMMAND_LENGTH, { error: `is longer than ${MAX_NODE_COMMAND_LENGTH} characters; put a longer procedure in a script on the nodes and run that` })
  .refine((c) => !plainTextProblem(c), { error: 'must be one line of printable text (no newline, control characters or bidi overrides); put a longer procedure in a script on the nodes' });
const seconds = (min: number, max: number) => z.number().int().min(min).max(max);

/** The options a client may set: the CLI validates its flags with this, the workflow its input. */
export const RebootOptions = z.object({
  onlyIfRequired: z.boolean().optional(),
  maintenanceCommand: NodeCommandLine.optional(),
  maintenanceTimeoutSeconds: seconds(1, 86_400).optional(),
  gateCommand: NodeCommandLine.optional(),
  workerBatch: z.number().int().min(1).max(100).optional(),
  drainTimeoutSeconds: seconds(1, 86_400).optional(),
  bootTimeoutSeconds: seconds(5, 86_400).optional(),
  readyTimeoutSeconds: seconds(5, 86_400).optional(),
  heartbeatTimeoutSeconds: seconds(5, 600).optional(),
  pollMs: z.number().int().min(50).max(60_000).optional(),
  window: z
    .string()
    .refine((w) => typeof parseWindow(w) !== 'string', { error: (iss) => String(parseWindow(String(iss.input))) })
    .optional(),
  /** Before the window's first turn: how long one node's turn is expected to take (later: the longest so far). */
  turnEstimateSeconds: seconds(1, 86_400).optional(),
  gatePrometheus: z
    .string()
    .max(2000)
    .refine((u) => /^https?:\/\/[^/\s@]+(\/[^\s]*)?$/.test(u) && !plainTextProblem(u), {
      error: 'must be an http(s) URL of Prometheus or Alertmanager without credentials in it, e.g. http://prometheus:9090',
    })
    .optional(),
  alertFilter: z
    .string()
    .max(500)
    .refine((re) => validRegExp(re), { error: 'is not a regular expression; e.g. ^(KubeNodeNotReady|Dqlite.*)$' })
    .optional(),
  /** kured's `--blocking-pod-selector`: `app=db,tier!=cache` (equality-based). */
  blockingPods: z
    .string()
    .max(500)
    .refine((s) => !!parseSelector(s), { error: 'is not a label selector; use key=value[,key!=value...], e.g. app=backup' })
    .optional(),
  /** How long a firing gate may hold the run before `onFailure` applies. */
  gateTimeoutSeconds: seconds(1, 7 * 86_400).optional(),
  gatePollSeconds: seconds(1, 3600).optional(),
  onFailure: z.enum(['stop', 'pause']).optional(),
});

function validRegExp(re: string): boolean {
  try {
    new RegExp(re);
    return true;
  } catch {
    return false;
  }
}

/** `a=b,c!=d` → requirements; undefined when it is not an equality-based selector. */
export function parseSelector(text: string): Array<{ key: string; op: '=' | '!='; value: string }> | undefined {
  const reqs = text.split(',').map((part) => /^\s*([A-Za-z0-9][A-Za-z0-9._/-]{0,252})\s*(!=|==|=)\s*([A-Za-z0-9._-]{0,63})\s*$/.exec(part));
  if (!reqs.length || reqs.some((r) => !r)) return undefined;
  return reqs.map((r) => ({ key: r![1], op: r![2] === '!=' ? '!=' : '=', value: r![3] }));
}

export function matchesSelector(labels: Record<string, string>, selector: string): boolean {
  return (parseSelector(selector) ?? []).every((r) => (r.op === '=' ? labels[r.key] === r.value : labels[r.key] !== r.value));
}

export interface RebootInput extends RunbookBaseInput {
  /** `--only-if-required`: skip nodes without Ubuntu's `/var/run/reboot-required` sentinel. */
  onlyIfRequired?: boolean;
  /** `--command`: run as root on each node after its drain, before its reboot (`apt-get -y full-upgrade`). */
  maintenanceCommand?: string;
  maintenanceTimeoutSeconds?: number;
  /** `--gate-cmd`: run on the engine side (the worker) before each node's turn; exit 0 = clear, else it waits. */
  gateCommand?: string;
  /** `--worker-batch N`: workers rebooted N at a time (control planes always one at a time). Default 1. */
  workerBatch?: number;
  drainTimeoutSeconds?: number;
  /** How long a node may take to come back over SSH with a new boot id. Default 10 minutes. */
  bootTimeoutSeconds?: number;
  /** How long it may take to be Ready again once back. Default 5 minutes. */
  readyTimeoutSeconds?: number;
  /** `--window 'Mon-Fri 02:00-05:00 UTC'`: a node's turn starts only when it can finish inside the window. */
  window?: string;
  /** How long one node's turn is expected to take, before one has been measured. Default 15 minutes. */
  turnEstimateSeconds?: number;
  /** Gates before each node's turn; a firing gate waits (and says so) up to `gateTimeoutSeconds`. */
  gatePrometheus?: string;
  alertFilter?: string;
  blockingPods?: string;
  gateTimeoutSeconds?: number;
  gatePollSeconds?: number;
  /** A node that does not come back, is not Ready or fails the health gate: stop (default) or pause for a decision. */
  onFailure?: 'stop' | 'pause';
  /** A lost worker is noticed after this long (default 60 s; tests shorten it). */
  heartbeatTimeoutSeconds?: number;
  /** How often the waits look again (default 1 s for the boot, the Ready wait's own otherwise). */
  pollMs?: number;
}

export const REBOOT_DEFAULTS = {
  maintenanceTimeoutSeconds: 3600,
  workerBatch: 1,
  drainTimeoutSeconds: 300,
  bootTimeoutSeconds: 600,
  readyTimeoutSeconds: 300,
  turnEstimateSeconds: 900,
  gateTimeoutSeconds: 6 * 3600,
  gatePollSeconds: 30,
} as const;

/** One node's machine as the runbook reads it before and after. */
export interface NodeBootState {
  node: string;
  /** `/proc/sys/kernel/random/boot_id`: changes at every boot, so it proves a reboot happened. */
  bootId: string;
  /** Ubuntu's sentinel is there: a package asked for a reboot. */
  rebootRequired: boolean;
  /** `/var/run/reboot-required.pkgs`: which packages asked. */
  pkgs: string[];
  /** The node did not answer over SSH: why. */
  unreachable?: string;
}

export interface NodeReboot {
  node: string;
  controlPlane: boolean;
  outcome: 'rebooted' | 'skipped';
  /** Why a node was skipped (no reboot required). */
  reason?: string;
  bootIdBefore?: string;
  bootIdAfter?: string;
  /** The maintenance command's exit and the tail of its output. */
  maintenance?: { exitCode: number; tail: string };
  /** From the reboot command until the node answered with a new boot id. */
  downMs?: number;
}

export interface RebootResult {
  plan: string[];
  before: NodeBootState[];
  nodes: NodeReboot[];
}

/** Control planes one at a time, the dqlite leader last (it moves once, not at every reboot); then workers in batches. */
export function rebootOrder(controlPlanes: string[], leader: string | undefined, workers: string[], batch: number): string[][] {
  const cps = [...controlPlanes.filter((n) => n !== leader), ...controlPlanes.filter((n) => n === leader)];
  const waves = cps.map((n) => [n]);
  for (let i = 0; i < workers.length; i += Math.max(1, batch)) waves.push(workers.slice(i, i + Math.max(1, batch)));
  return waves;
}
