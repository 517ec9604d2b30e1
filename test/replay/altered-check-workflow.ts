/**
 * A deliberately broken `check` for replay-negative.test.ts: the real one probes the nodes, then asks for the
 * cluster view; this one swaps the two activities. Replaying a recorded check against it must fail.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { createCheckActivities } from '../../activities/check';
import type { CheckInput } from '../../common/check';
import { RunbookController } from '../../workflows/runbook-controller';

const probes = proxyActivities<ReturnType<typeof createCheckActivities>>({ startToCloseTimeout: '3m' });

export async function check(input: CheckInput): Promise<void> {
  const inv = input.inventory;
  new RunbookController('check', inv.cluster, inv.nodes.map((n) => n.name));
  const trust = { knownHosts: inv.knownHosts, hostKeyPolicy: inv.hostKeyPolicy };
  await probes.checkCluster({ candidates: inv.nodes.filter((n) => n.role === 'controlplane'), trust });
  await Promise.all(inv.nodes.map((node) => probes.checkNode({ node, trust })));
}
