/**
 * The failure budget (activities/failure-budget.ts): steps retry without an attempt cap, so a real failure must end
 * the step by itself. A failure that time may heal stays retryable; a refusal passes at once; anything else is tried
 * again in place a few times and then made non-retryable, type and message unchanged.
 */
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { DefaultLogger } from '@temporalio/worker';
import { MockActivityEnvironment } from '@temporalio/testing';
import { FailureType, NODE_UNREACHABLE_TYPES, TRANSIENT_TYPES } from '../../common/constants';
import { classifyFailure, REAL_FAILURE_TRIES, withFailureBudget } from '../../activities/failure-budget';
import { commandFailed, connectionFailed } from '../../activities/ssh/failures';
import { UnexpectedOutputError } from '../../activities/microk8s/unexpected-output';

const fast = { backoffMs: [5] };
const quiet = { logger: new DefaultLogger('ERROR') };
const mockEnv = () => new MockActivityEnvironment(undefined, quiet);

function counting(fail: (call: number) => unknown, result = 'ok') {
  let calls = 0;
  const acts = withFailureBudget(
    {
      async step(): Promise<string> {
        calls++;
        const e = fail(calls);
        if (e) throw e;
        return result;
      },
    },
    fast,
  );
  return { acts, calls: () => calls };
}

async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ApplicationFailure);
  return e as ApplicationFailure;
}

test('the classification: refusals final, unreachable nodes and API servers transient, the rest real', () => {
  expect(classifyFailure(ApplicationFailure.nonRetryable('no', FailureType.PreconditionFailed))).toBe('final');
  expect(classifyFailure(ApplicationFailure.retryable('no', FailureType.HostKeyMismatch))).toBe('final');
  expect(classifyFailure(new CancelledFailure('cancelled'))).toBe('final');
  for (const t of TRANSIENT_TYPES) expect(classifyFailure(ApplicationFailure.retryable('down', t))).toBe('transient');
  expect(NODE_UNREACHABLE_TYPES.every((t) => TRANSIENT_TYPES.includes(t))).toBe(true);
  expect(classifyFailure(commandFailed('k8s-1: command exited with 1'))).toBe('real');
  expect(classifyFailure(new UnexpectedOutputError('snap list', 'garbage'))).toBe('real');
  expect(classifyFailure(new TypeError('bug'))).toBe('real');
});

test('a command that fails every time is tried REAL_FAILURE_TRIES times in place, then ends the step (non-retryable, same type and message)', async () => {
  const { acts, calls } = counting(() => commandFailed('k8s-2: command exited with 1: snap list microk8s', { commands: [] }));
  const env = mockEnv();
  const t0 = Date.now();
  const e = await failureOf(env.run(acts.step));
  expect(calls()).toBe(REAL_FAILURE_TRIES);
  expect(e).toMatchObject({ type: FailureType.CommandFailed, nonRetryable: true, message: 'k8s-2: command exited with 1: snap list microk8s' });
  expect(e.details).toEqual([{ commands: [] }]);
  expect(Date.now() - t0).toBeLessThan(2_000);
});

test('unexpected output (a plain Error) is real too: made an ApplicationFailure of its name, non-retryable', async () => {
  const { acts, calls } = counting(() => new UnexpectedOutputError('microk8s status', 'what is this'));
  const e = await failureOf(mockEnv().run(acts.step));
  expect(calls()).toBe(REAL_FAILURE_TRIES);
  expect(e).toMatchObject({ type: 'UnexpectedOutput', nonRetryable: true });
  expect(e.message).toContain('unexpected output from microk8s status');
});

test('a real failure that clears on a later try is not a failure', async () => {
  const { acts, calls } = counting((n) => (n < 3 ? commandFailed('apt lock held') : undefined), 'done');
  expect(await mockEnv().run(acts.step)).toBe('done');
  expect(calls()).toBe(3);
});

test('an unreachable node is left to Temporal (retryable, once); a refusal passes at once', async () => {
  const down = counting(() => connectionFailed('k8s-2 (10.0.0.2:22): no SSH session within 15000 ms'));
  const e = await failureOf(mockEnv().run(down.acts.step));
  expect(down.calls()).toBe(1);
  expect(e).toMatchObject({ type: FailureType.SshConnectionFailed, nonRetryable: false });

  const api = counting(() => ApplicationFailure.retryable('API server not answering', 'ApiUnavailable'));
  expect(await failureOf(mockEnv().run(api.acts.step))).toMatchObject({ type: 'ApiUnavailable', nonRetryable: false });
  expect(api.calls()).toBe(1);

  const refused = counting(() => ApplicationFailure.nonRetryable('the template must be stopped', FailureType.PreconditionFailed));
  expect(await failureOf(mockEnv().run(refused.acts.step))).toMatchObject({ type: FailureType.PreconditionFailed, nonRetryable: true });
  expect(refused.calls()).toBe(1);
});

test('a cancel during the wait between tries ends the activity: no further try', async () => {
  let calls = 0;
  const acts = withFailureBudget(
    {
      async step(): Promise<string> {
        calls++;
        throw commandFailed('exit 1');
      },
    },
    { backoffMs: [5_000] },
  );
  const env = mockEnv();
  const run = env.run(acts.step);
  await new Promise((r) => setTimeout(r, 200));
  env.cancel();
  const e = await run.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(CancelledFailure);
  expect(calls).toBe(1);
});
