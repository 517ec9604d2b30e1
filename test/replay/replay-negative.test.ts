/**
 * Proof that the replay test can fail: a recorded `check` replayed against a bundle whose `check` runs the same
 * two activities in the other order raises DeterminismViolationError, while the real bundle replays it cleanly.
 */
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { bundle } from '../support/temporal';
import { readFixture, readManifest } from './fixtures';

const silent = { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const fixture = readManifest().find((f) => f.workflowType === 'check');

test('a reordered check workflow does not replay a recorded check', async () => {
  expect(fixture).toBeDefined();
  const history = readFixture(fixture!);
  await Worker.runReplayHistory({ workflowBundle: await bundle(), replayName: 'real' }, history, fixture!.workflowId);

  const altered = await bundleWorkflowCode({ workflowsPath: require.resolve('./altered-check-workflow'), logger: silent });
  const err = await Worker.runReplayHistory({ workflowBundle: altered, replayName: 'altered' }, history, fixture!.workflowId).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DeterminismViolationError);
  expect(String((err as Error).message)).toMatch(/checkNode|checkCluster|[Nn]ondetermin/);
}, 120_000);
