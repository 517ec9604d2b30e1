/** What the quorum-recovery activities take and report: the contract between them and the recover-quorum workflow. */
import type { Transform } from 'stream';
import type { CommandRecord, FileChange } from '../common/audit';
import type { DqliteMember } from '../common/dqlite';
import type { BackendFile, RaftPosition } from './microk8s/raft';

/** Test seam: wrap the bytes of one file copied from the template (e.g. to corrupt them in transit). */
export interface RecoveryHooks {
  transferTransform?: (file: { node: string; name: string }) => Transform | undefined;
}

export type RecoveryPhase = 'cluster-yaml-rewritten' | 'reconfiguring' | 'reconfigured' | 'copying' | 'copied';

export interface RecoveryMarker {
  recoveryId: string;
  phase: RecoveryPhase;
  template: string;
  /** name → sha256 of the backend's files when the phase was entered. */
  files: Record<string, string>;
}

export interface NodeAssessment {
  name: string;
  role: 'controlplane' | 'worker';
  reachable: boolean;
  /** Why it counts as unreachable. */
  error?: string;
  stopped?: boolean;
  info?: DqliteMember;
  clusterYaml?: DqliteMember[];
  files?: BackendFile[];
  position?: RaftPosition;
  marker?: RecoveryMarker;
}

/** What the plan shows about the raft files: the template, its evidence, roles, and the files to delete and copy. */
export interface RecoveryProposal {
  template: string;
  evidence: string[];
  /** Role each survivor gets in the new cluster.yaml, template first. */
  roles: Array<{ node: string; role: string }>;
  /** Per other survivor: its raft files that will be deleted. */
  leftovers: Record<string, string[]>;
  /** The template's files copied to the others now (they change with .reconfigure). */
  toCopy: string[];
}

export interface QuorumAssessment {
  nodes: NodeAssessment[];
  /** From the reachable survivors' files; `error` when --template names no usable survivor. */
  proposal?: RecoveryProposal | { error: string };
  /** A dqlite leader answered `.cluster` through some reachable control-plane node. */
  leader?: { via: string; members: DqliteMember[] };
  /** The API answered `kubectl get nodes` through some reachable control-plane node. */
  api: { answering: boolean; detail: string };
  /** Added by the command audit (activities/ssh/audit.ts): every command the activity ran. */
  commands?: CommandRecord[];
}

export interface NodeStepResult {
  node: string;
  changed: boolean;
  detail: string;
  /** Added by the command audit (activities/ssh/audit.ts): every command the activity ran. */
  commands?: CommandRecord[];
}

export interface FileStepResult extends NodeStepResult {
  changes: FileChange[];
  /** The node's backend files after the step (name, size, sha256). */
  files: BackendFile[];
}
