/** Riding out Temporal (cli/reconnect.ts): what counts as a lost server, and the bound after which the CLI exits 3. */
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { CliExit } from '../../local/exit';
import { isConnectionLoss, Outage, reconnectBoundMs } from '../../cli/reconnect';

test('UNAVAILABLE and refused connections are losses; a failed runbook or a deadline is not', () => {
  expect(isConnectionLoss(Object.assign(new Error('Failed to get Workflow execution history'), { cause: { code: 14, message: 'No connection established' } }))).toBe(true);
  expect(isConnectionLoss(new Error('connect ECONNREFUSED 127.0.0.1:7233'))).toBe(true);
  expect(isConnectionLoss(new WorkflowFailedError('failed', ApplicationFailure.create({ message: 'x' }), 'NON_RETRYABLE_FAILURE'))).toBe(false);
  expect(isConnectionLoss(Object.assign(new Error('Failed to query Workflow'), { cause: { code: 4, message: 'Deadline exceeded' } }))).toBe(false);
});

test('an outage is announced once, reports its end, and exits 3 only past the bound', () => {
  let now = 0;
  const lines: string[] = [];
  const outage = new Outage((l) => lines.push(l), 120_000, () => now);
  outage.lost(new Error('connect ECONNREFUSED 127.0.0.1:7233'));
  now = 60_000;
  outage.lost(new Error('connect ECONNREFUSED 127.0.0.1:7233'));
  expect(lines).toEqual(['reconnecting: lost Temporal (connection refused); retrying for up to 120 s']);
  outage.back();
  expect(lines[1]).toBe('reconnected after 60 s');
  now = 100_000;
  outage.lost(new Error('ECONNREFUSED'));
  now = 221_000;
  let thrown: unknown;
  try {
    outage.lost(new Error('ECONNREFUSED'));
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(CliExit);
  expect((thrown as CliExit).code).toBe(3);
  expect((thrown as CliExit).message).toMatch(/Temporal unreachable for more than 120 s \(connection refused\); the runbook itself may still be running/);
});

test('RUNBOOK_RECONNECT_TIMEOUT sets the bound', () => {
  expect(reconnectBoundMs({})).toBe(120_000);
  expect(reconnectBoundMs({ RUNBOOK_RECONNECT_TIMEOUT: '90s' })).toBe(90_000);
  expect(reconnectBoundMs({ RUNBOOK_RECONNECT_TIMEOUT: '5m' })).toBe(300_000);
  expect(reconnectBoundMs({ RUNBOOK_RECONNECT_TIMEOUT: 'soon' })).toBe(120_000);
});
