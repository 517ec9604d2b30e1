/** Names shared by workflows, activities, the worker and the CLI. Workflow-safe. */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const DEFAULT_TASK_QUEUE = 'microk8s-runbooks';

export const RunbookClusterKey = defineSearchAttributeKey('RunbookCluster', SearchAttributeType.KEYWORD);
export const RunbookKindKey = defineSearchAttributeKey('RunbookKind', SearchAttributeType.KEYWORD);
export const RunbookNodeKey = defineSearchAttributeKey('RunbookNode', SearchAttributeType.KEYWORD);
export const SEARCH_ATTRIBUTES = [RunbookClusterKey, RunbookKindKey, RunbookNodeKey];

/** CLI exit codes, documented in the README. */
export const ExitCode = {
  OK: 0,
  RUNBOOK_FAILED: 1,
  BAD_INPUT: 2,
  TEMPORAL_UNREACHABLE: 3,
} as const;

/** One runbook per cluster: the workflow ID is derived from the cluster and started with conflict policy FAIL. */
export function clusterWorkflowId(cluster: string): string {
  return `runbook-${cluster}`;
}

/**
 * Per-node child workflows get their own page in the UI. Their IDs join parts with ".", which cluster and node
 * names (DNS labels) cannot contain: no cluster's lock ID (`runbook-<cluster>`) can ever equal another cluster's
 * child ID, as it could when the separator was "-" (a cluster named `prod-hop1-upgrade-k8s-2`).
 */
export function nodeWorkflowId(parentId: string, step: string, node: string): string {
  return `${parentId}.${step}.${node}`;
}

/** The child ID before the "." separator, for histories recorded before it (see CHILD_ID_PATCH). */
export function legacyNodeWorkflowId(parentId: string, step: string, node: string): string {
  return `${parentId}-${step}-${node}`;
}

/** `patched()` ID guarding the "." child IDs, so runs started before it replay with their old child IDs. */
export const CHILD_ID_PATCH = 'child-id-dot-separator';

/** `patched()` ID guarding the upgrade plan's proofs (every hop's channel exists; more than one minor confirmed). */
export const UPGRADE_REQUEST_CHECK_PATCH = 'upgrade-request-check';

/**
 * A runbook refused the request itself after reading live state (a channel the store does not have, unconfirmed
 * hops): nothing changed, and the CLI exits 2 as for any bad input.
 */
export const BAD_REQUEST_TYPE = 'BadRequest';

/** Failure types raised by activities. The first group never retries. */
export const FailureType = {
  HostKeyMismatch: 'HostKeyMismatch',
  HostKeyUnknown: 'HostKeyUnknown',
  SshAuthFailed: 'SshAuthFailed',
  InvalidInput: 'InvalidInput',
  PreconditionFailed: 'PreconditionFailed',
  CommandFailed: 'CommandFailed',
  CommandTimedOut: 'CommandTimedOut',
  SshConnectionFailed: 'SshConnectionFailed',
  AddNodeFailed: 'AddNodeFailed',
  ApiUnavailable: 'ApiUnavailable',
  BackupCorrupt: 'BackupCorrupt',
  /** A restore drill found that a backup does not restore into a cluster that serves its data. */
  BackupBroken: 'BackupBroken',
  /** A restore drill's lab could not read the backup's data (a real dqlite database): no verdict either way. */
  DrillCannotJudge: 'DrillCannotJudge',
  BackupUnverifiable: 'BackupUnverifiable',
  ChecksumMismatch: 'ChecksumMismatch',
  ConnectionLost: 'ConnectionLost',
  DqliteUnavailable: 'DqliteUnavailable',
  InfoYamlMismatch: 'InfoYamlMismatch',
  JoinRefused: 'JoinRefused',
  KubeApiUnavailable: 'KubeApiUnavailable',
  NoSurvivorReachable: 'NoSurvivorReachable',
  PlanNotApproved: 'PlanNotApproved',
  QuorumIntact: 'QuorumIntact',
  QuorumNotRestored: 'QuorumNotRestored',
  ReconfigureFailed: 'ReconfigureFailed',
  RecoveryNotVerified: 'RecoveryNotVerified',
  RefreshFailed: 'RefreshFailed',
  RemoveNodeFailed: 'RemoveNodeFailed',
  RestoreUnverified: 'RestoreUnverified',
  RevertFailed: 'RevertFailed',
  SnapBusy: 'SnapBusy',
  StaleDqliteMember: 'StaleDqliteMember',
  StartFailed: 'StartFailed',
  StopFailed: 'StopFailed',
  SurvivorUnreachable: 'SurvivorUnreachable',
  TemplateChanged: 'TemplateChanged',
  UnexpectedOutput: 'UnexpectedOutput',
  DrainFailed: 'DrainFailed',
  OnlyVoter: 'OnlyVoter',
  RemovalNotConverged: 'RemovalNotConverged',
  JoinNotConverged: 'JoinNotConverged',
  LostNodeAnswers: 'LostNodeAnswers',
  StillDqliteMember: 'StillDqliteMember',
  RefreshPolicyNotApplied: 'RefreshPolicyNotApplied',
  NodeApiNotBack: 'NodeApiNotBack',
  CertRefreshFailed: 'CertRefreshFailed',
  MaintenanceFailed: 'MaintenanceFailed',
  RebootFailed: 'RebootFailed',
  NodeDidNotReturn: 'NodeDidNotReturn',
  GateFailed: 'GateFailed',
  /** A webhook did not take a notification (no answer, HTTP 5xx or 429): retried, then noted; never a runbook failure. */
  NotificationNotDelivered: 'NotificationNotDelivered',
} as const;
export const NON_RETRYABLE_TYPES = [
  FailureType.HostKeyMismatch,
  FailureType.HostKeyUnknown,
  FailureType.SshAuthFailed,
  FailureType.InvalidInput,
  FailureType.PreconditionFailed,
];

/**
 * The node did not answer: no SSH session (refused, timed out, a hung sshd), the connection lost mid-command, or a
 * command that never returned. A step that ends on one of these at its deadline ends with the node unreachable.
 */
export const NODE_UNREACHABLE_TYPES: readonly string[] = [FailureType.SshConnectionFailed, FailureType.CommandTimedOut, FailureType.ConnectionLost];

/**
 * Failures time may heal: the node, the network or an API server coming back, snapd finishing a change. Temporal
 * retries them with no attempt cap until the step's scheduleToCloseTimeout. Every other retryable failure is a real
 * failure: the activity tries again in place a few times, then ends the step (activities/failure-budget.ts).
 */
export const TRANSIENT_TYPES: readonly string[] = [
  ...NODE_UNREACHABLE_TYPES,
  FailureType.ApiUnavailable,
  FailureType.KubeApiUnavailable,
  FailureType.DqliteUnavailable,
  FailureType.SnapBusy,
];

