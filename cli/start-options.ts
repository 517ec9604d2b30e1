/**
 * How every runbook is started, in one place so the CLI and the tests start workflows the same way:
 * the cluster-derived workflow ID with conflict policy FAIL (one runbook per cluster), search attributes,
 * UI summary and details, and the base input.
 */
import type { WorkflowStartOptions } from '@temporalio/client';
import { clusterWorkflowId, RunbookClusterKey, RunbookKindKey } from '../common/constants';
import type { Runbooks, RunbookType, RunbookWorkflow } from '../common/runbooks';
import type { StartSpec } from './context';

export interface StartSettings {
  taskQueue: string;
  /** `user@host` of whoever starts it. */
  identity: string;
}

/** What starting needs from a spec: test fixtures start their own workflow types with the same options. */
export type StartOptionsSpec = Pick<StartSpec, 'kind' | 'inventory' | 'summary' | 'details' | 'workflowId' | 'planOnly' | 'yes'> & { input: object };

export function runbookInput<T extends RunbookType>(spec: StartOptionsSpec, identity: string): Runbooks[T]['input'] {
  return {
    ...spec.input,
    inventory: spec.inventory,
    planOnly: spec.planOnly ?? false,
    yes: spec.yes ?? false,
    requestedBy: identity,
  } as Runbooks[T]['input'];
}

/** The input's type is checked where the spec is made (StartSpec<T>); test fixtures start their own workflows. */
export function runbookStartOptions<T extends RunbookType = RunbookType>(spec: StartOptionsSpec, s: StartSettings): WorkflowStartOptions<RunbookWorkflow<T>> {
  const cluster = spec.inventory.cluster;
  return {
    taskQueue: s.taskQueue,
    workflowId: spec.workflowId ?? clusterWorkflowId(cluster),
    workflowIdConflictPolicy: 'FAIL',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    args: [runbookInput<T>(spec, s.identity)],
    typedSearchAttributes: [
      { key: RunbookClusterKey, value: cluster },
      { key: RunbookKindKey, value: spec.kind },
    ],
    staticSummary: spec.summary,
    staticDetails:
      spec.details ??
      [
        `**${spec.kind}** on cluster \`${cluster}\`, started by \`${s.identity}\``,
        '',
        `nodes: ${spec.inventory.nodes.map((n) => `\`${n.name}\` (${n.role})`).join(', ')}`,
        spec.planOnly ? '\nplan only: nothing will change' : '',
      ].join('\n'),
  };
}
