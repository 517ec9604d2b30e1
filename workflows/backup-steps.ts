/**
 * Backup pieces shared by the runbooks that back up before they change anything (backup, restore-backup,
 * recover-quorum, upgrade). Workflow code, not re-exported by workflows/index.ts, so nothing here becomes a
 * workflow type.
 */
import { ApplicationFailure, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { BackupRecord } from '../common/backup';
import { FailureType } from '../common/constants';
import type { Inventory, NodeSpec } from '../common/inventory';
import { stepOptions } from './step-options';

/** Quick reads of local files. */
export const local = proxyActivities<Activities>(stepOptions({ startToClose: '1 minute', scheduleToClose: '5 minutes' }));

/**
 * Node operations over SSH: long (a tar stream, microk8s stop/start), heartbeating. No attempt cap: a lost worker
 * or an unreachable node is retried until the step's deadline; real failures end it at once (step-options.ts).
 */
export const nodeOps = proxyActivities<Activities>(
  stepOptions({ startToClose: '45 minutes', scheduleToClose: '90 minutes', heartbeat: '15 seconds', nonRetryable: ['BackupCorrupt'] }),
);

/**
 * A backup id that is unique per run and stable across replays and retries, sortable by time:
 * `<run start, UTC>-<purpose>-<node>-<run id prefix>`. Use it for `backupNode({ id })`.
 */
export function backupIdFor(node: string, purpose: string): string {
  const info = workflowInfo();
  const t = info.runStartTime.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${t}-${purpose}-${node}-${info.runId.slice(0, 8)}`;
}

export function invalidInput(message: string): never {
  throw ApplicationFailure.create({ type: FailureType.InvalidInput, message, nonRetryable: true });
}

export function controlPlane(inventory: Inventory, name: string | undefined, flag: string): NodeSpec {
  const node = name ? inventory.nodes.find((n) => n.name === name) : inventory.nodes.find((n) => n.role === 'controlplane');
  if (!node) invalidInput(name ? `${flag} ${name}: no such node in the inventory` : 'the inventory has no control-plane node to back up');
  if (node.role !== 'controlplane') invalidInput(`${flag} ${node.name}: a worker has no dqlite backend; name a control-plane node`);
  return node;
}

export function describeBackupResult(b: Pick<BackupRecord, 'id' | 'node' | 'path' | 'size' | 'sha256' | 'files'>): string {
  return `${b.id}: ${b.node}, ${b.files.length} files, ${b.size} bytes, sha256 ${b.sha256.slice(0, 16)}…, ${b.path}`;
}

