/**
 * Workflow logic of refresh-certs on a real dev server and worker, with the activities replaced by an in-memory
 * cluster: node by node in inventory order, the health gate after each node, and `--undo` plus a stop when a gate
 * fires after a refresh (the lab has no fault that breaks a node's API only after a refresh).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { NodeCertExpiry, RefreshCertsResult } from '../../common/certs';
import type { ClusterCheck } from '../../common/check';
import { resolveInventory } from '../../common/inventory';
import { startRunbook, startTemporal, startWorker } from '../support/temporal';

let env: TestWorkflowEnvironment;
let stateDir: string;
beforeAll(async () => {
  env = await startTemporal();
  stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'certs-wf-'));
});
afterAll(async () => {
  await env?.teardown();
  fs.rmSync(stateDir, { recursive: true, force: true });
});

const NODES = ['k8s-1', 'k8s-2', 'k8s-3'];

/** Three control planes whose server.crt expired; `breaks` is the node whose refresh leaves it NotReady. */
function fakeCluster(breaks?: string) {
  const days: Record<string, number> = Object.fromEntries(NODES.map((n) => [n, -3]));
  const notReady = new Set<string>();
  const calls: string[] = [];
  const view = (): ClusterCheck => ({
    nodes: [],
    ready: NODES.filter((n) => !notReady.has(n)),
    notReady: [...notReady],
    voters: ['a', 'b', 'c'],
    standbys: [],
    ha: true,
    problems: [],
    commands: [],
  });
  const activities = {
    async readCertExpiry({ node }: { node: string }): Promise<NodeCertExpiry> {
      return { node, worker: false, days: { 'ca.crt': 3000, 'server.crt': days[node], 'front-proxy-client.crt': 300 } };
    },
    async checkCluster(): Promise<ClusterCheck> {
      return view();
    },
    async refreshCert({ node, cert }: { node: string; cert: string }) {
      calls.push(`refresh ${node} ${cert}`);
      days[node] = 364;
      if (node === breaks) notReady.add(node);
      return { node, cert, daysBefore: -3, daysAfter: 364 };
    },
    async waitNodeApi({ node }: { node: string }) {
      calls.push(`wait ${node}`);
      return { node, waitedMs: 1 };
    },
    async undoCertRefresh({ node }: { node: string }) {
      calls.push(`undo ${node}`);
      days[node] = -3;
      notReady.delete(node);
      return { node, restored: true };
    },
  };
  return { activities, calls };
}

async function run(fake: ReturnType<typeof fakeCluster>) {
  const worker = await startWorker(env, { stateDir, activities: fake.activities });
  const inventory = resolveInventory({ cluster: `certs-wf-${process.pid}-${Math.random().toString(36).slice(2, 7)}`, nodes: NODES.map((name, i) => ({ name, address: `10.0.0.${i + 1}`, role: 'controlplane' })) });
  try {
    const h = await startRunbook(env, { kind: 'refresh-certs', workflowType: 'refreshCerts', inventory, input: { certs: ['server.crt'], withinDays: 30 }, summary: 'certs', yes: true }, worker.taskQueue);
    return await h.result().then(
      (value) => ({ value: value as RefreshCertsResult, error: undefined }),
      (error: unknown) => ({ value: undefined, error }),
    );
  } finally {
    await worker.stop();
  }
}

test('every control plane in inventory order: refresh, wait for its API, gate, then the next', async () => {
  const fake = fakeCluster();
  const { value, error } = await run(fake);
  expect(error).toBeUndefined();
  expect(fake.calls).toEqual(['refresh k8s-1 server.crt', 'wait k8s-1', 'refresh k8s-2 server.crt', 'wait k8s-2', 'refresh k8s-3 server.crt', 'wait k8s-3']);
  expect(value!.after.map((n) => n.days['server.crt'])).toEqual([364, 364, 364]);
});

test('a gate that fires after a refresh: --undo on that node, the run stops before the next node', async () => {
  const fake = fakeCluster('k8s-2');
  const { error } = await run(fake);
  expect(error).toBeInstanceOf(WorkflowFailedError);
  const cause = (error as WorkflowFailedError).cause as Error & { type?: string };
  expect(cause.type).toBe('CertRefreshFailed');
  expect(cause.message).toMatch(/^k8s-2: health gate failed: not Ready: k8s-2; its previous certificates were restored \(refresh-certs --undo\) and the run stopped before the next node/);
  expect(fake.calls).toEqual(['refresh k8s-1 server.crt', 'wait k8s-1', 'refresh k8s-2 server.crt', 'wait k8s-2', 'undo k8s-2', 'wait k8s-2']);
});
