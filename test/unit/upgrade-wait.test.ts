/**
 * waitNodeReady against scripted SSH sessions: output `kubectl wait` cannot have printed (exit 0, no Node object)
 * ends the step at once, non-retryable, naming the node and the command; it is not retried every second until the
 * Ready timeout. A timed-out wait, by contrast, keeps waiting.
 */
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { CommandRecord } from '../../common/audit';
import { resolveInventory, type NodeSpec } from '../../common/inventory';
import { createUpgradeActivities } from '../../activities/upgrade';
import type { ExecResult, NodeSession } from '../../activities/ssh';

const inventory = resolveInventory({
  cluster: 'fake',
  nodes: [
    { name: 'k8s-1', address: '10.0.0.1' },
    { name: 'k8s-2', address: '10.0.0.2' },
    { name: 'k8s-3', address: '10.0.0.3' },
  ],
});

function activities(answer: (line: string) => ExecResult, calls: string[]) {
  const session = (node: NodeSpec): NodeSession => ({
    node,
    records: [] as CommandRecord[],
    async run(line: string) {
      calls.push(`${node.name}: ${line}`);
      return answer(line);
    },
    async check(line: string) {
      return this.run(line);
    },
    download: () => Promise.reject(new Error('not used')),
    upload: () => Promise.reject(new Error('not used')),
  });
  return createUpgradeActivities({ ssh: { session } as never, stateDir: '/tmp/unused' });
}

const run = <T>(fn: () => Promise<T>): Promise<T> => new MockActivityEnvironment().run(fn) as Promise<T>;
const result = (stdout: string, exitCode = 0, stderr = ''): ExecResult => ({ stdout, stderr, exitCode, durationMs: 1 }) as ExecResult;

test('an unparseable kubectl wait ends the step: non-retryable, names the node and kubectl wait, one try per control plane', async () => {
  const calls: string[] = [];
  const act = activities((line) => (line.includes(' wait ') ? result('node/k8s-2 condition met\n') : result('')), calls);
  const started = Date.now();
  const err = await run(() => act.waitNodeReady({ inventory, node: 'k8s-2', minor: '1.29', timeoutSeconds: 120, pollMs: 1 })).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  const f = err as ApplicationFailure;
  expect([f.type, f.nonRetryable]).toEqual(['UnexpectedOutput', true]);
  expect(f.message).toMatch(/^k8s-2: waiting for Ready: .*kubectl wait/);
  expect(calls.filter((c) => c.includes(' wait ')).length).toBeLessThanOrEqual(3);
  expect(Date.now() - started).toBeLessThan(60_000); // not the 120 s Ready timeout
});

test('a wait that times out keeps waiting (it is not a parse failure)', async () => {
  const calls: string[] = [];
  const act = activities((line) => (line.includes(' wait ') ? result('', 1, 'error: timed out waiting for the condition on nodes/k8s-2\n') : result('')), calls);
  const r = await run(() => act.waitNodeReady({ inventory, node: 'k8s-2', minor: '1.29', timeoutSeconds: 1, pollMs: 1 }));
  expect(r.ready).toBe(false);
  expect(calls.filter((c) => c.includes(' wait ')).length).toBeGreaterThanOrEqual(1);
});
