/**
 * `runbook check`: a read-only health and pre-flight report. Every node is probed in parallel (SSH and host key,
 * sudo, snap, status, clock, disk), then one control-plane node gives the cluster view (Ready nodes, dqlite
 * voters, HA). Nothing changes, so there is no plan to approve.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { createCheckActivities } from '../activities/check';
import type { ClusterCheck, NodeCheck, CheckInput, CheckResult } from '../common/check';
import { RunbookController } from './runbook-controller';
import { stepOptions } from './step-options';

type CheckActivities = ReturnType<typeof createCheckActivities>;

// Read-only probes: retrying is always safe. SSH findings come back as results, so retries cover worker loss,
// as often as it happens (no attempt cap), for 10 minutes at most.
const probes = proxyActivities<CheckActivities>(stepOptions({ startToClose: '3m', scheduleToClose: '10m', heartbeat: '60s' }));

export async function check(input: CheckInput): Promise<CheckResult> {
  const inv = input.inventory;
  const rb = new RunbookController('check', inv.cluster, inv.nodes.map((n) => n.name));
  const trust = { knownHosts: inv.knownHosts, hostKeyPolicy: inv.hostKeyPolicy };

  rb.step('checkNodes');
  const nodes = await Promise.all(
    inv.nodes.map(async (node) => {
      rb.node(node.name, 'checking');
      const report = await probes.checkNode.executeWithOptions({ summary: `check ${node.name}` }, [{ node, trust }]);
      rb.node(node.name, report.problems.length ? 'failed' : 'done', summarize(report));
      return report;
    }),
  );

  rb.step('checkCluster');
  const answering = new Set(nodes.filter((n) => n.status?.running).map((n) => n.node));
  const candidates = inv.nodes.filter((n) => n.role === 'controlplane' && answering.has(n.name));
  const clusterView: ClusterCheck =
    candidates.length > 0
      ? await probes.checkCluster.executeWithOptions({ summary: 'read nodes and dqlite voters' }, [{ candidates, trust }])
      : { nodes: [], ready: [], notReady: [], voters: [], standbys: [], ha: false, commands: [], problems: ['no control-plane node runs microk8s; no cluster view'] };

  // dqlite unreachable from the CLI but status knew the voters: use them rather than report none.
  if (clusterView.voters.length === 0) {
    const fromStatus = nodes.find((n) => (n.status?.voters.length ?? 0) > 0)?.status;
    if (fromStatus) {
      clusterView.voters = fromStatus.voters;
      clusterView.standbys = fromStatus.standbys;
      clusterView.ha = fromStatus.ha;
    }
  }

  // Freshly installed nodes (each a cluster of its own, as the view shows one node) are what `form` starts from.
  const formed = !(inv.nodes.length > 1 && clusterView.nodes.length === 1 && clusterView.nodes[0].name === clusterView.via);
  const problems = [
    ...nodes.flatMap((n) => n.problems.map((p) => `${n.node}: ${p}`)),
    ...clusterView.problems.map((p) => `cluster: ${p}`),
    ...(formed ? membershipProblems(inv.nodes.map((n) => n.name), clusterView).map((p) => `cluster: ${p}`) : []),
  ];
  if (!formed) rb.note(`not formed yet: ${inv.nodes.map((n) => n.name).join(', ')} are nodes of their own; runbook form joins them`);
  for (const p of problems) rb.note(p);
  rb.step(problems.length ? `done: ${problems.length} problem(s)` : formed ? 'done: healthy' : 'done: pre-flight passed, not formed yet');
  return { cluster: inv.cluster, healthy: problems.length === 0, nodes, clusterView, problems, formed };
}

/**
 * What healthy nodes can still hide: inventory nodes that are not in the cluster the view came from (never joined,
 * or a cluster of their own), and nodes left cordoned (an upgrade or drain that never uncordoned).
 */
function membershipProblems(inventoryNodes: string[], view: ClusterCheck): string[] {
  if (view.nodes.length === 0) return [];
  const known = new Set(view.nodes.map((n) => n.name));
  const missing = inventoryNodes.filter((n) => !known.has(n));
  const cordoned = view.nodes.filter((n) => n.cordoned).map((n) => n.name);
  return [
    ...(missing.length ? [`not in the cluster seen from ${view.via ?? 'the control plane'}: ${missing.join(', ')}; join them (runbook form)`] : []),
    ...(cordoned.length ? [`cordoned: ${cordoned.join(', ')}; uncordon when their maintenance is over (microk8s kubectl uncordon ${cordoned[0]})`] : []),
  ];
}

function summarize(r: NodeCheck): string {
  if (!r.reachable) return `unreachable (${r.hostKey})`;
  const parts = [r.microk8s?.installed ? `${r.microk8s.version} (${r.microk8s.channel ?? '-'})` : 'no microk8s'];
  if (r.status) parts.push(r.status.running ? 'running' : (r.status.notRunningReason ?? 'not running'));
  if (r.problems.length) parts.push(`${r.problems.length} problem(s)`);
  return parts.join(', ');
}
