/** The cluster-wide health gate between nodes of a node-by-node runbook (refresh-certs, reboot). Workflow code. */
import type { ClusterCheck } from '../common/check';

/** What got worse since the start: a node not Ready that was, fewer voters, HA lost. */
export function gateProblems(baseline: ClusterCheck, now: ClusterCheck): string | undefined {
  const problems = [
    ...(now.notReady.some((n) => !baseline.notReady.includes(n)) ? [`not Ready: ${now.notReady.filter((n) => !baseline.notReady.includes(n)).join(', ')}`] : []),
    ...(now.voters.length < baseline.voters.length ? [`${now.voters.length} dqlite voter(s), ${baseline.voters.length} before`] : []),
    ...(baseline.ha && !now.ha ? ['high availability lost'] : []),
  ];
  return problems.length ? `health gate failed: ${problems.join('; ')}` : undefined;
}
