/**
 * The steps refresh-certs repeats on every node it changes, per certificate or for the CA: wait for the node's own
 * API and the health gate, and put the previous certificates back (`refresh-certs --undo`) when they fail. Workflow
 * code; not a workflow of its own.
 */
import { ActivityFailure, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { ClusterCheck } from '../common/check';
import { FailureType } from '../common/constants';
import { innermostMessage } from '../common/failures';
import type { Inventory } from '../common/inventory';
import type { Checklist } from './checklist';
import { gateProblems } from './cluster-gate';
import type { RunbookController } from './runbook-controller';
import { heartbeatMs, stepOptions } from './step-options';

/**
 * The activities of one refresh-certs run: `read` (read-only, short) and `change` (refreshes, undo, leave and
 * re-join). A lost worker is noticed after `heartbeatTimeoutSeconds` (default 60 s; tests shorten it).
 */
export function certSteps(input: { heartbeatTimeoutSeconds?: number }) {
  const heartbeat = heartbeatMs(input.heartbeatTimeoutSeconds);
  return {
    read: proxyActivities<Activities>(stepOptions({ startToClose: '3m', scheduleToClose: '10m', heartbeat })),
    change: proxyActivities<Activities>(
      stepOptions({ startToClose: '20m', scheduleToClose: '45m', heartbeat, initialInterval: '2s', nonRetryable: [FailureType.NodeApiNotBack, 'StillDqliteMember', 'OnlyVoter', 'DrainFailed', 'RemovalNotConverged'] }),
    ),
  };
}
type CertChange = ReturnType<typeof certSteps>['change'];

/** The node's own API answers with it Ready, and the cluster is as healthy as at `baseline`; else why not. */
async function verifyAfterRefresh(change: CertChange, inventory: Inventory, node: string, readyTimeoutSeconds: number, baseline: ClusterCheck, gate: () => Promise<ClusterCheck>): Promise<string | undefined> {
  try {
    await change.waitNodeApi.executeWithOptions({ summary: `wait for ${node}'s API` }, [{ inventory, node, timeoutSeconds: readyTimeoutSeconds }]);
  } catch (err) {
    if (err instanceof ActivityFailure) return innermostMessage(err);
    throw err;
  }
  return gateProblems(baseline, await gate());
}

/** `refresh-certs --undo` (the one backup level), then give the node's API its time to come back. */
async function undoRefresh(change: CertChange, inventory: Inventory, node: string, readyTimeoutSeconds: number): Promise<void> {
  await change.undoCertRefresh.executeWithOptions({ summary: `refresh-certs --undo on ${node}` }, [{ inventory, node }]);
  await change.waitNodeApi.executeWithOptions({ summary: `wait for ${node}'s API after the undo` }, [{ inventory, node, timeoutSeconds: readyTimeoutSeconds }]).catch(() => undefined);
}

export interface VerifyContext {
  change: CertChange;
  rb: RunbookController;
  checklist: Checklist;
  inventory: Inventory;
  readyTimeoutSeconds: number;
  baseline: ClusterCheck;
  gate: () => Promise<ClusterCheck>;
}

/**
 * After a refresh on `node`: its API and the health gate; when they fail, `refresh-certs --undo` there and the run
 * stops, saying what was restored (`restored`: "its previous certificates were restored") and what did not happen.
 */
export async function verifyOrUndo(c: VerifyContext, node: string, restored: string, stopped: string): Promise<void> {
  c.rb.node(node, 'verifying', 'waiting for its API and the health gates');
  const problem = await c.checklist.step(`waitNodeApi and healthGate ${node}`, () => verifyAfterRefresh(c.change, c.inventory, node, c.readyTimeoutSeconds, c.baseline, c.gate));
  if (!problem) return;
  c.rb.node(node, 'reverting', problem);
  await c.checklist.step(`undoCertRefresh ${node}`, () => undoRefresh(c.change, c.inventory, node, c.readyTimeoutSeconds));
  c.rb.node(node, 'failed', `${restored}: ${problem}`);
  // The activities' messages often start with the node already.
  const why = problem.startsWith(`${node}: `) ? problem.slice(node.length + 2) : problem;
  c.rb.fail(FailureType.CertRefreshFailed, `${node}: ${why}; ${restored} (refresh-certs --undo) and ${stopped}`);
}
