import { startTemporal, startWorker } from '../support/temporal';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
let env: TestWorkflowEnvironment;
beforeAll(async () => { env = await startTemporal(); });
afterAll(async () => { await env?.teardown(); });
test('worker starts', async () => {
  const t0 = Date.now();
  const w = await startWorker(env, { stateDir: '/tmp/smoke', activities: {} });
  console.log('worker up in', Date.now() - t0, env.address);
  await w.stop();
});
