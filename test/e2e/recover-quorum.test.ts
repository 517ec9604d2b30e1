/**
 * recover-quorum end to end: real dev server, real worker, real sshd lab (fast profile). The lab judges whether
 * each survivor's dqlite files would let it rejoin (leftovers, checksums, info.yaml) and whether quorum is back.
 */
import { WorkflowFailedError } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Lab } from '../../lab';
import type { RecoverQuorumResult } from '../../workflows/recover-quorum';
import { startRunbook, startTemporal, startWorker } from '../support/temporal';

let env: TestWorkflowEnvironment;
const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rq-e2e-'));
const suffix = `${process.pid % 10000}`;
const labs: Lab[] = [];

beforeAll(async () => {
  env = await startTemporal();
});
afterAll(async () => {
  for (const lab of labs) await lab.down().catch(() => undefined);
  await env?.teardown();
  fs.rmSync(stateDir, { recursive: true, force: true });
});

async function lab(name: string, controlPlanes: number): Promise<Lab> {
  const l = await Lab.up({ name: `${name}-${suffix}`, controlPlanes, formed: true, profile: 'fast', stateDir });
  labs.push(l);
  return l;
}

async function recover(l: Lab, input: Record<string, unknown>): Promise<RecoverQuorumResult> {
  const worker = await startWorker(env, { stateDir });
  try {
    const h = await startRunbook(
      env,
      { kind: 'recover-quorum', workflowType: 'recoverQuorum', inventory: l.inventory, input: { waitTimeoutMs: 120_000, ...input }, summary: 'recover', yes: true },
      worker.taskQueue,
    );
    return (await h.result()) as RecoverQuorumResult;
  } finally {
    await worker.stop();
  }
}

async function refusal(l: Lab, input: Record<string, unknown>): Promise<string> {
  const err = await recover(l, input).then(() => undefined, (e) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  return `${((err as WorkflowFailedError).cause as ApplicationFailure).type}: ${(err as WorkflowFailedError).cause?.message}`;
}

test('3 control planes, 2 destroyed: recovered on the survivor, the cluster answers again', async () => {
  const l = await lab('rq3', 3);
  await l.fault('k8s-2', 'destroy');
  await l.fault('k8s-3', 'destroy');
  expect((await l.status()).cluster.available).toBe(false);

  const r = await recover(l, { lost: ['k8s-2', 'k8s-3'] });
  expect(r.outcome).toBe('recovered');
  expect(r.template).toBe('k8s-1');
  expect(r.removedNodes.sort()).toEqual(['k8s-2', 'k8s-3']);
  expect(r.ha).toBe(false);
  const st = await l.status();
  expect(st.cluster.available).toBe(true);
  expect(st.cluster.voters).toEqual(['k8s-1']);
  expect(st.nodes.find((n) => n.name === 'k8s-1')).toMatchObject({ ready: true, services: 'running' });
  expect(r.fileChanges.some((c) => c.node === 'k8s-1' && c.action === 'rewritten' && c.path.endsWith('/cluster.yaml'))).toBe(true);
  // TODO(form): add 2 fresh nodes with `runbook form` and assert HA is back once the lab can add unformed nodes.
});

test('5 control planes, 3 destroyed: the copy makes both survivors voters of one consistent cluster', async () => {
  const l = await lab('rq5', 5);
  for (const n of ['k8s-2', 'k8s-3', 'k8s-5']) await l.fault(n, 'destroy');
  const r = await recover(l, { lost: ['k8s-2', 'k8s-3', 'k8s-5'] });
  expect(r.survivors).toEqual(['k8s-1', 'k8s-4']);
  const st = await l.status();
  expect(st.cluster.available).toBe(true);
  expect([...st.cluster.voters].sort()).toEqual(['k8s-1', 'k8s-4']);
  for (const n of ['k8s-1', 'k8s-4']) expect(st.nodes.find((x) => x.name === n)).toMatchObject({ ready: true, dqlite: { up: true, error: null } });
  const other = r.template === 'k8s-1' ? 'k8s-4' : 'k8s-1';
  const copied = r.fileChanges.filter((c) => c.node === other && c.action === 'copied');
  expect(copied.map((c) => path.basename(c.path))).toContain('cluster.yaml');
  expect(copied.every((c) => /^[0-9a-f]{64}$/.test(c.sha256) && c.size > 0)).toBe(true);
  expect(r.fileChanges.some((c) => c.node === other && c.action === 'deleted' && /metadata1$/.test(c.path))).toBe(true);
});
