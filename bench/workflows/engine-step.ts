/** Bench-only workflow: K trivial remote steps, each one activity, in sequence (bundled separately from workflows/). */
import { proxyActivities } from '@temporalio/workflow';
import type { EngineStepActivities } from '../engine-step';

const { benchStep } = proxyActivities<EngineStepActivities>({ startToCloseTimeout: '1 minute' });

export async function engineStepBench(k: number): Promise<void> {
  for (let i = 0; i < k; i++) await benchStep();
}
