/**
 * Every runbook a client starts, by workflow type: its input and its result (workflow-safe). The CLI starts
 * workflows through this map, so a command cannot pass another runbook's input or read another's result; the
 * build checks that workflows/ exports each of them with exactly this signature (test/unit/runbooks.test.ts).
 */
import type { BackupInput, BackupResult, RestoreBackupInput, RestoreBackupResult } from './backup';
import type { RefreshCertsInput, RefreshCertsResult } from './certs';
import type { CheckInput, CheckResult } from './check';
import type { DrillInput, DrillResult } from './drill';
import type { FormInput, FormResult } from './form';
import type { RunbookBaseInput } from './messages';
import type { RebootInput, RebootResult } from './reboot';
import type { ReplaceNodeInput, ReplaceNodeResult } from './replace-node';
import type { RecoverQuorumInput, RecoverQuorumResult } from './recovery';
import type { RefreshPolicyInput, RefreshPolicyResult } from './refresh-policy';
import type { RemoveNodeInput, RemoveNodeResult } from './remove-node';
import type { RollingUpgradeInput, RollingUpgradeResult } from './upgrade-reports';

interface Runbook<I extends RunbookBaseInput, R> {
  input: I;
  result: R;
}

export interface Runbooks {
  check: Runbook<CheckInput, CheckResult>;
  form: Runbook<FormInput, FormResult>;
  removeNode: Runbook<RemoveNodeInput, RemoveNodeResult>;
  rollingUpgrade: Runbook<RollingUpgradeInput, RollingUpgradeResult>;
  backup: Runbook<BackupInput, BackupResult>;
  restoreBackup: Runbook<RestoreBackupInput, RestoreBackupResult>;
  recoverQuorum: Runbook<RecoverQuorumInput, RecoverQuorumResult>;
  refreshPolicy: Runbook<RefreshPolicyInput, RefreshPolicyResult>;
  refreshCerts: Runbook<RefreshCertsInput, RefreshCertsResult>;
  rollingReboot: Runbook<RebootInput, RebootResult>;
  replaceNode: Runbook<ReplaceNodeInput, ReplaceNodeResult>;
  restoreDrill: Runbook<DrillInput, DrillResult>;
}

export type RunbookType = keyof Runbooks;
export const RUNBOOK_TYPES = ['check', 'form', 'removeNode', 'rollingUpgrade', 'backup', 'restoreBackup', 'recoverQuorum', 'refreshPolicy', 'refreshCerts', 'rollingReboot', 'replaceNode', 'restoreDrill'] as const satisfies readonly RunbookType[];

/** What a command supplies; the CLI adds the base (inventory, planOnly, yes, requestedBy). */
export type RunbookOwnInput<T extends RunbookType> = Omit<Runbooks[T]['input'], keyof RunbookBaseInput>;
export type RunbookResult<T extends RunbookType> = Runbooks[T]['result'];
/** The workflow function's type, for `client.workflow.start<RunbookWorkflow<T>>(type, …)`. */
export type RunbookWorkflow<T extends RunbookType> = (input: Runbooks[T]['input']) => Promise<Runbooks[T]['result']>;
