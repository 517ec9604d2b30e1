/**
 * The audit model from synthetic histories: the cases a real test run does not reach (failed workflows and
 * children, rollbacks, refused updates, terminate, encrypted payloads, secrets in inputs) and the JSON export form.
 */
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils';
import { temporal } from '@temporalio/proto';
import type { CommandRecord } from '../../common/audit';
import { buildAudit, mergeChildAudit } from '../../cli/audit/history-audit';
import { REDACTED } from '../../cli/audit/payload-values';

/** Events as plain objects (numbers for ids and seconds); `historyOf` makes the proto the server would send (Longs). */
type Event = Record<string, unknown>;
const historyOf = (events: Event[]) => temporal.api.history.v1.History.fromObject({ events });

const T0 = Date.parse('2026-03-01T10:00:00Z');
const p = (value: unknown): Payload => defaultPayloadConverter.toPayload(value);
const ps = (...values: unknown[]) => ({ payloads: values.map(p) });

let nextId = 0;
function ev(attrs: Event, secondsIn = nextId): Event {
  nextId++;
  return { eventId: nextId, eventTime: { seconds: Math.floor(T0 / 1000) + secondsIn, nanos: 0 }, ...attrs };
}

function cmd(node: string, command: string, exitCode: number | null, second: number): CommandRecord {
  return { node, command, exitCode, durationMs: 120, stdoutTail: 'ok\n', stderrTail: '', startedAt: new Date(T0 + second * 1000).toISOString() };
}

function started(input: Record<string, unknown>, extra: Record<string, unknown> = {}): Event {
  nextId = 0;
  return ev({
    workflowExecutionStartedEventAttributes: {
      workflowId: 'runbook-prod',
      originalExecutionRunId: 'run-1',
      workflowType: { name: 'upgrade' },
      taskQueue: { name: 'microk8s-runbooks' },
      identity: 'alice@laptop',
      input: ps({ requestedBy: 'alice@laptop', yes: false, ...input }),
      ...extra,
    },
    userMetadata: { summary: p('upgrade prod to 1.29/stable') },
  });
}

/** A failed upgrade: a plan approved, a refused update, a node child that failed, a rollback child, a failed workflow. */
function failedUpgrade(): temporal.api.history.v1.IHistory {
  const events = [
    started({ inventory: { cluster: 'prod', nodes: [{ name: 'k8s-1', keyFile: '~/.ssh/id', hostKeyPolicy: 'strict' }] }, apiToken: 'hunter2', nested: { password: 'pw' } }),
    ev({ activityTaskScheduledEventAttributes: { activityType: { name: 'observeCluster' } }, userMetadata: { summary: p('observe prod') } }),
    ev({ activityTaskStartedEventAttributes: { scheduledEventId: 2, attempt: 1 } }),
    ev({
      activityTaskCompletedEventAttributes: {
        scheduledEventId: 2,
        startedEventId: 3,
        // Results as arrays of per-node results: commands one level down, `changes` as backup names them.
        result: ps([
          { node: 'k8s-1', commands: [cmd('k8s-1', 'snap list microk8s', 0, 1)] },
          { node: 'k8s-2', commands: [cmd('k8s-2', 'snap list microk8s', null, 2)], changes: [{ node: 'k8s-2', path: '/var/x', action: 'deleted', size: 3, sha256: 'f'.repeat(64) }] },
        ]),
      },
    }),
    ev({ workflowPropertiesModifiedEventAttributes: { upsertedMemo: { fields: { plan: p(['refresh k8s-1 to 1.29/stable', 'refresh k8s-2 to 1.29/stable']) } } } }),
    ev({ workflowExecutionUpdateAcceptedEventAttributes: { acceptedRequest: { meta: { updateId: 'u1', identity: 'bob@desk' }, input: { name: 'approve', args: ps({ id: 'approval-1', by: 'bob@desk', reason: 'CHG-1' }) } } } }),
    ev({ workflowExecutionUpdateCompletedEventAttributes: { meta: { updateId: 'u1' }, acceptedEventId: 6, outcome: { success: ps({ id: 'approval-1', summary: 'start: upgrade prod', decision: 'approved', by: 'bob@desk', reason: 'CHG-1', at: 0 }) } } }),
    ev({ workflowExecutionUpdateAcceptedEventAttributes: { acceptedRequest: { meta: { updateId: 'u2', identity: 'carol@desk' }, input: { name: 'decide', args: ps({ decision: 'retry', by: 'carol@desk' }) } } } }),
    ev({ workflowExecutionUpdateCompletedEventAttributes: { meta: { updateId: 'u2' }, acceptedEventId: 8, outcome: { failure: { message: 'nothing to decide', applicationFailureInfo: { type: 'Error' } } } } }),
    ev({ startChildWorkflowExecutionInitiatedEventAttributes: { workflowId: 'runbook-prod-upgrade-k8s-1', workflowType: { name: 'upgradeNode' }, input: ps({ node: 'k8s-1' }) }, userMetadata: { summary: p('upgrade k8s-1') } }),
    ev({ childWorkflowExecutionStartedEventAttributes: { initiatedEventId: 10, workflowExecution: { workflowId: 'runbook-prod-upgrade-k8s-1', runId: 'c1' } } }),
    ev({
      childWorkflowExecutionFailedEventAttributes: {
        initiatedEventId: 10,
        failure: { message: 'child failed', cause: { message: 'k8s-1 not Ready after refresh', applicationFailureInfo: { type: 'NodeNotReady' } } },
      },
    }),
    ev({ startChildWorkflowExecutionInitiatedEventAttributes: { workflowId: 'runbook-prod-rollback-k8s-1', workflowType: { name: 'rollbackNode' }, input: ps({ node: 'k8s-1' }) } }),
    ev({ childWorkflowExecutionStartedEventAttributes: { initiatedEventId: 13, workflowExecution: { workflowId: 'runbook-prod-rollback-k8s-1', runId: 'c2' } } }),
    ev({ childWorkflowExecutionCompletedEventAttributes: { initiatedEventId: 13, result: ps({ node: 'k8s-1', actions: ['snap revert microk8s', 'uncordon'] }) } }),
    ev({
      workflowExecutionFailedEventAttributes: {
        failure: {
          message: 'upgrade of k8s-1 failed; rolled back',
          applicationFailureInfo: { type: 'NodeUpgradeFailed', details: ps({ compensations: ['k8s-1: snap revert microk8s', 'released refresh holds'] }) },
        },
      },
    }),
  ];
  return historyOf(events);
}

describe('buildAudit', () => {
  it('reads start, inputs (secrets redacted), commands nested one level, file changes, and the memo plan with its approval', () => {
    const audit = buildAudit(failedUpgrade());
    expect(audit).toMatchObject({
      workflowId: 'runbook-prod',
      runId: 'run-1',
      workflowType: 'upgrade',
      summary: 'upgrade prod to 1.29/stable',
      startedAt: '2026-03-01T10:00:00.000Z',
      startedBy: 'alice@laptop',
      requestedBy: 'alice@laptop',
      status: 'failed',
    });
    const input = audit.input[0] as { apiToken: string; nested: { password: string }; inventory: { nodes: unknown[] } };
    expect(input.apiToken).toBe(REDACTED);
    expect(input.nested.password).toBe(REDACTED);
    expect(input.inventory.nodes[0]).toEqual({ name: 'k8s-1', keyFile: '~/.ssh/id', hostKeyPolicy: 'strict' });
    expect(JSON.stringify(audit)).not.toContain('hunter2');

    expect(audit.commands.map((c) => [c.node, c.exitCode, c.activity, c.activitySummary])).toEqual([
      ['k8s-1', 0, 'observeCluster', 'observe prod'],
      ['k8s-2', null, 'observeCluster', 'observe prod'],
    ]);
    expect(audit.fileChanges).toMatchObject([{ node: 'k8s-2', path: '/var/x', action: 'deleted', activity: 'observeCluster' }]);
    expect(audit.plan).toEqual({
      lines: ['refresh k8s-1 to 1.29/stable', 'refresh k8s-2 to 1.29/stable'],
      source: 'memo',
      decision: { decision: 'approved', by: 'bob@desk', at: '2026-03-01T10:00:06.000Z', reason: 'CHG-1' },
    });
  });

  it('records a refused update, child and workflow failures with their innermost type, and every compensation once', () => {
    const audit = buildAudit(failedUpgrade());
    expect(audit.operatorActions.map((a) => [a.action, a.by, a.identity, a.outcome, a.decision])).toEqual([
      ['approve', 'bob@desk', 'bob@desk', 'completed', 'approved'],
      ['decide', 'carol@desk', 'carol@desk', 'failed', 'retry'],
    ]);
    expect(audit.operatorActions[1].failure).toBe('nothing to decide');
    expect(audit.failures.map((f) => [f.source, f.name, f.type, f.message])).toEqual([
      ['update', 'decide', 'Error', 'nothing to decide'],
      ['child-workflow', 'runbook-prod-upgrade-k8s-1', 'NodeNotReady', 'child failed: k8s-1 not Ready after refresh'],
      ['workflow', 'upgrade', 'NodeUpgradeFailed', 'upgrade of k8s-1 failed; rolled back'],
    ]);
    expect(audit.failure).toEqual({ message: 'upgrade of k8s-1 failed; rolled back', type: 'NodeUpgradeFailed' });
    expect(audit.compensations.map((c) => c.line)).toEqual([
      'k8s-1: snap revert microk8s',
      'k8s-1: uncordon',
      'released refresh holds',
    ]);
    expect(audit.children.map((c) => [c.node, c.workflowType, c.status, c.runId, c.included])).toEqual([
      ['k8s-1', 'upgradeNode', 'failed', 'c1', false],
      ['k8s-1', 'rollbackNode', 'completed', 'c2', false],
    ]);
  });

  it('gives the same audit from the JSON export form (string ids and seconds, base64 payloads)', () => {
    const proto = failedUpgrade();
    const fromJson = buildAudit(historyFromJSON(JSON.parse(historyToJSON(proto))));
    expect(fromJson).toEqual(buildAudit(proto));
  });

  it('merges a child audit: its commands marked with the node, in time order', () => {
    const parent = buildAudit(failedUpgrade());
    const child = buildAudit(
      historyOf([
        { ...started({}), workflowExecutionStartedEventAttributes: { workflowId: 'runbook-prod-upgrade-k8s-1', workflowType: { name: 'upgradeNode' }, input: ps({ node: 'k8s-1' }) } },
        ev({ activityTaskScheduledEventAttributes: { activityType: { name: 'refreshSnap' } } }),
        ev({ activityTaskCompletedEventAttributes: { scheduledEventId: 2, result: ps({ commands: [cmd('k8s-1', 'snap refresh microk8s --channel=1.29/stable', 0, 1.5)] }) } }),
      ]),
    );
    mergeChildAudit(parent, child);
    expect(parent.commands.map((c) => [c.command, c.childNode ?? ''])).toEqual([
      ['snap list microk8s', ''],
      ['snap refresh microk8s --channel=1.29/stable', 'k8s-1'],
      ['snap list microk8s', ''],
    ]);
    expect(parent.children[0].included).toBe(true);
  });

  it('says the plan was not asked for with --yes, reads a plan from the planning activity, and records terminate', () => {
    const audit = buildAudit(
      historyOf([
        started({ yes: true }),
        ev({ activityTaskScheduledEventAttributes: { activityType: { name: 'surveyFormation' } } }),
        ev({ activityTaskCompletedEventAttributes: { scheduledEventId: 2, result: ps({ lines: ['join k8s-2 as control plane'], commands: [] }) } }),
        ev({ workflowExecutionTerminatedEventAttributes: { reason: 'stuck', identity: 'ops@bastion' } }),
      ]),
    );
    expect(audit.plan).toEqual({ lines: ['join k8s-2 as control plane'], source: 'activity surveyFormation', decision: { decision: 'not asked (--yes)' } });
    expect(audit.status).toBe('terminated');
    expect(audit.operatorActions).toMatchObject([{ action: 'terminate', identity: 'ops@bastion', reason: 'stuck' }]);
  });

  it('warns about payloads it cannot decode (encrypted without the key) instead of failing', () => {
    const encrypted = { metadata: { encoding: new TextEncoder().encode('binary/encrypted') }, data: new Uint8Array([1, 2, 3]) };
    const audit = buildAudit(historyOf([{ ...started({}), workflowExecutionStartedEventAttributes: { workflowType: { name: 'form' }, input: { payloads: [encrypted] } } }]));
    expect(JSON.stringify(audit.input)).toBe('["<undecodable payload: binary/encrypted>"]');
    expect(audit.warnings.join()).toMatch(/1 payload\(s\) could not be decoded.*RUNBOOK_CODEC_KEY_FILE/);
    expect(audit.status).toBe('running');
  });

  it('refuses something that is not a workflow history', () => {
    expect(() => buildAudit({ events: [] })).toThrow(/no WorkflowExecutionStarted/);
  });
});
