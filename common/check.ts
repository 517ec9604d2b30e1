import type { CommandRecord } from './audit';
import type { CheckedCert } from './certs';
import type { NodeSpec } from './inventory';
import type { RunbookBaseInput } from './messages';

export type SudoState = 'ok' | 'not-needed' | 'password-required' | 'failed';

export interface DiskUsage {
  filesystem: string;
  mountedOn: string;
  totalKb: number;
  availableKb: number;
  usedPercent: number;
}

export type NotRunningReason =
  /** `microk8s stop` was run (stopped.lock): exit 0. */
  | 'stopped'
  /** Services up but no Ready node or no `service/kubernetes`: exit 1. */
  | 'not-ready'
  /** The node is a worker: status only runs on control-plane nodes, exit 0. Ask kubectl instead. */
  | 'worker'
  /** The caller cannot read MicroK8s' credentials (needs sudo or the microk8s group). */
  | 'permissions'
  /** The install-time low-memory guard refuses to run. */
  | 'low-memory'
  /** A non-zero exit with output none of the above. */
  | 'failed';

export interface NodeCheck {
  node: string;
  role: NodeSpec['role'];
  address: string;
  reachable: boolean;
  /** `verified` once a connection got past host-key verification. */
  hostKey: 'verified' | 'mismatch' | 'unknown' | 'unreachable';
  /** Why the node could not be reached (the SSH layer's message). */
  sshError?: string;
  sudo?: SudoState;
  microk8s?: { installed: boolean; version?: string; revision?: string; channel?: string };
  status?: {
    running: boolean;
    notRunningReason?: NotRunningReason;
    message?: string;
    ha: boolean;
    voters: string[];
    standbys: string[];
  };
  clockSkewMs?: number;
  /** Control planes: days until each certificate expires (`refresh-certs --check`; negative once expired). */
  certs?: Partial<Record<CheckedCert, number>>;
  disk?: DiskUsage & { path: string };
  /** One line per thing an operator should fix. */
  problems: string[];
  commands: CommandRecord[];
}

export interface ClusterCheck {
  /** The node that answered. */
  via?: string;
  nodes: Array<{ name: string; ready: string; version: string; role: string; cordoned: boolean }>;
  ready: string[];
  notReady: string[];
  voters: string[];
  standbys: string[];
  ha: boolean;
  problems: string[];
  commands: CommandRecord[];
}

export type CheckInput = RunbookBaseInput;

export interface CheckResult {
  cluster: string;
  healthy: boolean;
  nodes: NodeCheck[];
  clusterView: ClusterCheck;
  /** Every problem, prefixed with the node it concerns. */
  problems: string[];
  /**
   * False when every node is still a cluster of its own (freshly installed: the pre-flight before `runbook form`).
   * That is no problem; a cluster that some inventory nodes are missing from is. Absent in runs before it existed.
   */
  formed?: boolean;
}
