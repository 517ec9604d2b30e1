import type { RunbookBaseInput } from './messages';

export interface RemoveNodeInput extends RunbookBaseInput {
  node: string;
  /** The node is gone for good: skip drain and leave, `remove-node --force` (`--force-lost`). */
  forceLost?: boolean;
  timing?: { pollMs?: number; settleTimeoutMs?: number; heartbeatTimeoutMs?: number };
}

export interface RemoveNodeResult {
  plan: string[];
  changed: boolean;
  node: string;
  remover: string;
  /** dqlite members and voters once the node is gone. */
  members?: number;
  voters?: number;
  notes: string[];
}
