/**
 * How every runbook is started, in one place so the CLI and the tests start workflows the same way:
 * the cluster-derived workflow ID with conflict policy FAIL (one runbook per cluster), search attributes,
 * UI summary and details, and the base input.
 */
import type { WorkflowStartOptions } from '@temporalio/client';
import { clusterWorkflowId, RunbookClusterKey, RunbookKindKey } from '../common/constants';
import type { RunbookBaseInput } from '../common/messages';
import type { StartSpec } from './context';

export interface StartSettings {
  taskQueue: string;
  /** `user@host` of whoever starts it. */
  identity: string;
}

export function runbookInput(spec: StartSpec, identity: string): RunbookBaseInput & Record<string, unknown> {
  return {
    ...spec.input,
    inventory: spec.inventory,
    planOnly: spec.planOnly ?? false,
    yes: spec.yes ?? false,
    requestedBy: identity,
  };
}

export function runbookStartOptions(spec: StartSpec, s: StartSettings): WorkflowStartOptions<(input: unknown) => Promise<unknown>> {
  const cluster = spec.inventory.cluster;
  return {
    taskQueue: s.taskQueue,
    workflowId: clusterWorkflowId(cluster),
    workflowIdConflictPolicy: 'FAIL',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    args: [runbookInput(spec, s.identity)],
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
