
import type { CommandRecord, FileChange } from './audit';
import type { Inventory } from './inventory';
import type { RunbookBaseInput } from './messages';

export interface BackupNodeInput {
  inventory: Inventory;
  node: string;
  /**
   * Deterministic id from the workflow (a retry overwrites the same file). Default: derived from the workflow
   * and activity ids, which are stable across retries.
   */
  id?: string;
  /** Require microk8s to be stopped on the node (a consistent copy): refused when it runs. */
  stopped?: boolean;
  /** Keep only the newest K backups of this cluster afterwards (never the one just made). */
  keep?: number;
  label?: string;
}

export interface BackupRecord {
  id: string;
  cluster: string;
  node: string;
  /** The tarball on the engine's machine. */
  path: string;
  sha256: string;
  size: number;
  /** Regular files in the archive, relative to the backend directory. */
  files: string[];
  entries: ArchiveEntry[];
  /** The backend directory on the node. */
  backend: string;
  stopped: boolean;
  label?: string;
  /** ISO time the backup was taken (activity clock). */
  createdAt: string;
  /** The snap channel the node tracked (`snap list`): a restore drill restores into that MicroK8s. */
  channel?: string;
  /**
   * The Node objects the cluster's API listed just before the copy (a backup of a running node): what a restore of
   * this backup must bring back. Absent for a `--stopped` backup (its API is down) and for older backups.
   */
  kubernetesNodes?: string[];
}

export interface BackupNodeResult extends BackupRecord {
  /** An identical, verified backup with this id already existed (a retry). */
  reused: boolean;
  /** Backup ids removed by `keep`. */
  pruned: string[];
  /** Added by the command audit (activities/ssh/audit.ts): every command the activity ran. */
  commands?: CommandRecord[];
}

export interface RestoreNodeBackupInput {
  inventory: Inventory;
  node: string;
  backupId: string;
  /** The cluster the backup belongs to, when it is not the inventory's (a restore drill restores into a lab). */
  backupCluster?: string;
  /**
   * Put back only the backup's raft data and keep this node's own identity and membership files (`info.yaml`,
   * `cluster.yaml`, `cluster.crt`, `cluster.key`, `failure-domain`): a backup restored onto another machine, which
   * the quorum-recovery reconfigure then makes this cluster's. Any node may take it.
   */
  dataOnly?: boolean;
}

export interface RestoreNodeBackupResult {
  node: string;
  backupId: string;
  /** The backend already held exactly the backup's files. */
  alreadyRestored: boolean;
  changes: FileChange[];
  /** Added by the command audit (activities/ssh/audit.ts): every command the activity ran. */
  commands?: CommandRecord[];
}

export interface BackupInput extends RunbookBaseInput {
  /** Default: the first control-plane node of the inventory. */
  node?: string;
  /** Stop microk8s for a consistent copy and start it again afterwards. */
  stopped?: boolean;
  /** Keep only the newest K backups of the cluster. */
  keep?: number;
  label?: string;
}

export interface BackupResult {
  plan: string[];
  backup?: Omit<BackupNodeResult, 'commands' | 'entries'>;
}

export interface RestoreBackupInput extends RunbookBaseInput {
  node: string;
  backupId: string;
}

export interface RestoreBackupResult {
  plan: string[];
  /** The off-node copy of what was on the node before the restore. */
  safetyBackup?: string;
  changes: FileChange[];
}

export interface ArchiveEntry {
  /** Path inside the backend directory, without a leading `./`. */
  path: string;
  size: number;
  sha256: string;
}
