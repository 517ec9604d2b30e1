/** The replace-node runbook's contract (workflow-safe): a failed node out, its replacement in (§13). */
import type { FormResult, FormTiming } from './form';
import type { RunbookBaseInput } from './messages';

export interface ReplaceNodeInput extends RunbookBaseInput {
  /** The node to take out (`--node`): dead, or to be retired. */
  node: string;
  /** Its replacement (`--with`), an inventory entry with the same role; the same name when the host was rebuilt in place. */
  replacement: string;
  /** Polling and timeouts; tests shorten them. */
  timing?: Partial<FormTiming>;
}

export interface ReplaceNodeResult {
  plan: string[];
  node: string;
  replacement: string;
  /** How the old node left: `leave` (it answered and was clustered), `remove-node --force`, or already gone. */
  removal: 'leave' | 'force' | 'already-gone';
  joined: FormResult['joined'];
  /** dqlite voters and high availability after the replacement, as `microk8s status` reports them. */
  voters: number;
  ha: boolean;
  notes: string[];
}
