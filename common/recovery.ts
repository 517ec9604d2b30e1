import type { FileChange } from './audit';
import type { RunbookBaseInput } from './messages';

export interface RecoverQuorumInput extends RunbookBaseInput {
  /** The control-plane nodes lost for good (`--lost`). */
  lost: string[];
  /** `--template NAME`; default: the survivor with the newest raft data. */
  template?: string;
  /** Stop and disable microk8s on a "lost" node that still answers, instead of refusing. */
  fence?: boolean;
  /** How long to wait for the API, a dqlite leader and Ready nodes after the start. Default 10 minutes. */
  waitTimeoutMs?: number;
  /** How long the offer to restore the survivors after a failure waits for an answer. Default 24 hours. */
  restoreOfferTimeoutMs?: number;
}

export interface RecoverQuorumResult {
  plan: string[];
  outcome: 'planned' | 'recovered';
  survivors: string[];
  template?: string;
  backups: Array<{ node: string; id: string; path: string; sha256: string }>;
  /** Every file deleted, copied, rewritten or created on a node. */
  fileChanges: FileChange[];
  removedNodes: string[];
  voters?: number;
  ha?: boolean;
}
