/**
 * What a runbook's CLI commands get from the program: inventory loading with exit-2 errors, and one way to
 * start and follow a runbook. Implemented in cli/program.ts; commands register through RegisterCommands.
 */
import type { Client } from '@temporalio/client';
import type { Command } from 'commander';
import type { Inventory } from '../common/inventory';
import type { RunbookKind } from '../common/messages';
import type { RunbookOwnInput, RunbookResult, RunbookType } from '../common/runbooks';
import type { ConnectConfig, ConnectionFlags } from '../local/connection';
import type { ViewChoice } from './watch/views';

export interface GlobalFlags extends ConnectionFlags {
  taskQueue: string;
}

/** How `follow` shows a run: JSON or a view, and whether to ask y/N for the plan (starting, not watching). */
export interface FollowSpec extends ViewChoice {
  json?: boolean;
  askPlan?: boolean;
  formatResult?(result: unknown): string;
  resultOk?(result: unknown): boolean;
}

export interface StartSpec<T extends RunbookType = RunbookType> {
  kind: RunbookKind;
  /** The workflow (common/runbooks.ts): it types `input` and the result `formatResult` and `resultOk` see. */
  workflowType: T;
  inventory: Inventory;
  /** The runbook's own input fields; `inventory`, `planOnly`, `yes` and `requestedBy` are added by startRunbook. */
  input: RunbookOwnInput<T>;
  /** One line for the UI (staticSummary), e.g. "upgrade prod to 1.29/stable". */
  summary: string;
  /** Markdown for the UI (staticDetails). */
  details?: string;
  /**
   * Another workflow ID than the cluster's lock (`runbook-<cluster>`), for a runbook that touches none of the
   * cluster's nodes (a restore drill: `runbook-<cluster>.drill`); still started with conflict policy FAIL.
   */
  workflowId?: string;
  planOnly?: boolean;
  yes?: boolean;
  /** Print the result as JSON instead of a table. */
  json?: boolean;
  // Method syntax on purpose: a StartSpec<'check'> is then usable where any StartSpec is (following reads unknown).
  /** Render a successful result for humans (default: its JSON). */
  formatResult?(result: RunbookResult<T>): string;
  /** Whether a completed result counts as success for the exit code (default: yes). `check` says no on problems. */
  resultOk?(result: RunbookResult<T>): boolean;
}

export interface CliContext {
  /** Load and validate an inventory file. On error: prints file, path and fix to stderr and exits 2. */
  loadInventory(file: string): Promise<Inventory>;
  /** Exit 2 with a message that names the flag and the fix. Nothing is started. */
  badInput(message: string): never;
  /**
   * Start a runbook with the cluster-derived workflow ID (conflict policy FAIL), print its ID and UI link,
   * show the plan and ask for confirmation unless `yes`, then follow progress until it ends.
   * Resolves with the exit code (0 ok, 1 runbook failed, 3 Temporal unreachable).
   */
  startRunbook<T extends RunbookType>(spec: StartSpec<T>): Promise<number>;
  client(): Promise<Client>;
  /** `user@host`, recorded as the Temporal client identity and in approvals. */
  identity: string;
}

/** What the commands about runs and servers (control, dev, demo, worker) also need. */
export interface ProgramContext extends CliContext {
  /** The program's global flags (connection, task queue). */
  readonly flags: GlobalFlags;
  connectConfig(): ConnectConfig;
  /** Follow a run until it ends; resolves with the exit code. */
  follow(workflowId: string, spec: FollowSpec): Promise<number>;
}

export type RegisterCommands = (program: Command, ctx: CliContext) => void;
