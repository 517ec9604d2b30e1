/**
 * One runbook per cluster. A runbook holding the cluster is started the way the CLI starts it, on a task queue no
 * worker polls (so it stays Running and nothing touches a node); then the CLI, as a child process, tries another.
 */
import * as fs from 'fs';
import * as path from 'path';
import { clusterWorkflowId } from '../../common/constants';
import { resolveInventory } from '../../common/inventory';
import { useServerSuite } from '../support/e2e';
import { startRunbook } from '../support/temporal';

const suite = useServerSuite({ name: 'lock-e2e' });

function inventoryFile(cluster: string): string {
  const file = path.join(suite.stateDir, `${cluster}.yaml`);
  fs.writeFileSync(file, `cluster: ${cluster}\nnodes:\n  - name: n1\n    address: 127.0.0.1\n    port: 1\n`);
  return file;
}

test('a second start on a held cluster is refused: holder, starter, when, how to watch; exit 1', async () => {
  const cluster = 'locked';
  const inventory = resolveInventory({ cluster, nodes: [{ name: 'n1', address: '127.0.0.1', port: 1 }] });
  const holder = await startRunbook(
    suite.env,
    { kind: 'upgrade', workflowType: 'check', inventory, input: {}, summary: 'upgrade locked to 1.29/stable' },
    'nobody-polls-this-queue',
    'alice@ops-host',
  );
  const r = await suite.cli(['check', '-i', inventoryFile(cluster)], { taskQueue: 'nobody-polls-this-queue' });
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(`cluster "locked" is busy: the upgrade runbook holds it (upgrade locked to 1.29/stable).`);
  expect(r.stderr).toMatch(/started by alice@ops-host at \d{4}-\d\d-\d\dT[\d:.]+Z \(\d+ s ago\)/);
  expect(r.stderr).toContain(`watch it:  runbook watch ${clusterWorkflowId(cluster)}`);
  expect(r.stderr).toContain(`/workflows/runbook-locked/${holder.firstExecutionRunId}/history`);
  // The holder is untouched: still the only run, still running.
  const desc = await holder.describe();
  expect(desc.status.name).toBe('RUNNING');
  expect(desc.runId).toBe(holder.firstExecutionRunId);
  await holder.terminate('test done');
});

test('once the holder has ended, the cluster can be used again (reuse policy ALLOW_DUPLICATE)', async () => {
  const cluster = 'reused';
  const inventory = resolveInventory({ cluster, nodes: [{ name: 'n1', address: '127.0.0.1', port: 1 }] });
  const spec = { kind: 'check' as const, workflowType: 'check', inventory, input: {}, summary: 'check reused' };
  const first = await startRunbook(suite.env, spec, 'nobody-polls-this-queue');
  await first.terminate('done');
  const second = await startRunbook(suite.env, spec, 'nobody-polls-this-queue');
  expect(second.workflowId).toBe(first.workflowId);
  expect(second.firstExecutionRunId).not.toBe(first.firstExecutionRunId);
  await second.terminate('test done');
});

test('unreachable Temporal: exit 3 and how to fix it', async () => {
  const r = await suite.cli(['check', '-i', inventoryFile('nowhere')], { env: { TEMPORAL_ADDRESS: '127.0.0.1:1' } });
  expect(r.code).toBe(3);
  expect(r.stderr).toContain('cannot reach Temporal at 127.0.0.1:1');
  expect(r.stderr).toContain('runbook dev');
});
