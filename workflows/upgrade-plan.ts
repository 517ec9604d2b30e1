/**
 * The rolling upgrade's options and its plan, computed from an observation of the live cluster. Pure and
 * workflow-safe: the workflow plans with it, the CLI validates flags with the same schema, and unit tests call it.
 * Rules from ../shared/microk8s-behaviour.md section 8 and the upgrade procedure: one minor at a time (latest patch
 * of the current track first), control planes first and one at a time (non-voters, then voters, the dqlite leader
 * last), workers afterwards in small batches.
 */
import { compareVersions, minorOf, tryParseKubeVersion } from '../common/versions';
import { type ClusterObservation, type Hop, type NodeStep, normaliseChannel, type ObservedNode, type UpgradeOptions, type UpgradePlan } from '../common/upgrade';
import { describeNodeUpgrade } from './upgrade-node';
import { UpgradeRun } from './upgrade-run';

export type { Hop, NodeStep, UpgradePlan };



/** True when `a` is an older release than `b` (`v1.28.3` < `v1.28.10`, `v1.29.0-rc.0` < `v1.29.0`). */
export function olderThan(a: string, b: string): boolean {
  const [x, y] = [tryParseKubeVersion(a), tryParseKubeVersion(b)];
  return !!x && !!y && compareVersions(x, y) < 0;
}

// `standby`: observations recorded before the one spelling (histories replay with it).
const ROLE_RANK: Record<string, number> = { spare: 0, 'stand-by': 1, standby: 1, voter: 2 };

/**
 * Control planes in a safe order: spares and stand-bys first (losing them costs nothing), then non-leader
 * voters, the dqlite leader last (one leader election instead of several). Ties keep inventory order.
 */
export function orderControlPlanes(nodes: ObservedNode[]): ObservedNode[] {
  const rank = (n: ObservedNode) => (n.leader ? 3 : ROLE_RANK[n.dqliteRole ?? 'spare']);
  return nodes
    .map((n, i) => ({ n, i }))
    .sort((a, b) => rank(a.n) - rank(b.n) || a.i - b.i)
    .map((x) => x.n);
}

/**
 * One rolling pass to `channel`: the nodes still below `minor` (or on another channel of that minor, for the
 * last hop), control planes ordered, workers in batches. `assumeMinor` lets the plan look ahead to later hops.
 */
export function planHop(
  nodes: ObservedNode[],
  channel: string,
  workerBatch: number,
  opts: { lastHop: boolean; assumeMinor?: Record<string, number> } = { lastHop: true },
): Hop {
  const minor = minorOf(channel)!.minor;
  const skipped: string[] = [];
  const due = nodes.filter((n) => {
    const current = opts.assumeMinor?.[n.name] ?? minorOf(n.version)?.minor ?? 0;
    if (current < minor) return true;
    if (current === minor && opts.lastHop && n.tracking !== channel) return true;
    skipped.push(`${n.name} (already on ${n.version}, ${n.tracking})`);
    return false;
  });
  const step = (n: ObservedNode): NodeStep => ({ node: n.name, controlPlane: n.controlPlane, channel, minor: `1.${minor}` });
  const workers = due.filter((n) => !n.controlPlane).map(step);
  const workerBatches: NodeStep[][] = [];
  for (let i = 0; i < workers.length; i += workerBatch) workerBatches.push(workers.slice(i, i + workerBatch));
  return {
    kind: 'minor',
    label: channel,
    controlPlanes: orderControlPlanes(due.filter((n) => n.controlPlane)).map(step),
    workerBatches,
    skipped,
  };
}

/** Nodes behind the latest patch of the track they follow are refreshed within it before any minor hop. */
export function planPatchHop(obs: ClusterObservation, workerBatch: number): Hop | undefined {
  const behind = obs.nodes.filter((n) => obs.channels[n.tracking] && olderThan(n.version, obs.channels[n.tracking]));
  if (behind.length === 0) return undefined;
  const step = (n: ObservedNode): NodeStep => ({
    node: n.name,
    controlPlane: n.controlPlane,
    channel: n.tracking,
    minor: `1.${minorOf(n.version)?.minor}`,
  });
  const workers = behind.filter((n) => !n.controlPlane).map(step);
  const workerBatches: NodeStep[][] = [];
  for (let i = 0; i < workers.length; i += workerBatch) workerBatches.push(workers.slice(i, i + workerBatch));
  return {
    kind: 'patch',
    label: 'latest patch of each node’s current track',
    controlPlanes: orderControlPlanes(behind.filter((n) => n.controlPlane)).map(step),
    workerBatches,
    skipped: obs.nodes.filter((n) => !behind.includes(n)).map((n) => `${n.name} (latest patch ${n.version})`),
  };
}

function refusalsFor(obs: ClusterObservation, targetMinor: number): string[] {
  const out: string[] = [];
  for (const n of obs.nodes) {
    if (!n.ready) out.push(`node ${n.name} is not Ready; fix it (or remove it from the cluster) before upgrading`);
    if (minorOf(n.tracking)?.minor === undefined) {
      out.push(`node ${n.name} tracks "${n.tracking}"; move it to a 1.NN track first (minor upgrades follow the channel)`);
    }
    const m = minorOf(n.version)?.minor;
    if (m === undefined) out.push(`node ${n.name} reports version "${n.version}", which is not a MicroK8s release`);
    else if (m > targetMinor) {
      out.push(`node ${n.name} runs ${n.version}, newer than the target 1.${targetMinor}; downgrades are not upgrades`);
    }
  }
  const cps = obs.nodes.filter((n) => n.controlPlane);
  if (cps.length >= 3 && (!obs.ha || obs.voters < 3)) {
    out.push(`high availability is degraded (${obs.voters} voter(s) for ${cps.length} control-plane nodes); restore HA first`);
  }
  const cpMinors = cps.map((n) => minorOf(n.version)?.minor ?? 0);
  if (cpMinors.length && Math.max(...cpMinors) - Math.min(...cpMinors) > 1) {
    out.push(`control-plane nodes are more than one minor apart (${cps.map((n) => `${n.name} ${n.version}`).join(', ')})`);
  }
  const newestCp = Math.max(0, ...cpMinors);
  for (const w of obs.nodes.filter((n) => !n.controlPlane)) {
    if ((minorOf(w.version)?.minor ?? 0) > newestCp) out.push(`worker ${w.name} (${w.version}) is newer than every control plane`);
  }
  if (obs.failingSystemPods.length) {
    out.push(`kube-system pods are failing (${obs.failingSystemPods.join(', ')}); fix them before upgrading`);
  }
  return out;
}

/**
 * Every hop's channel must be open in the store before anything changes: otherwise a `--to 1.99` would upgrade
 * through every minor that exists and fail at the first one that does not, half-way up.
 */
function unavailableChannels(hops: Hop[], channels: Record<string, string>): string[] {
  const wanted = hops.filter((h) => h.kind === 'minor').map((h) => h.label);
  const missing = wanted.filter((ch) => !channels[ch]);
  if (!missing.length) return [];
  const risk = missing[0].split('/')[1];
  const open = Object.keys(channels)
    .filter((ch) => ch.endsWith(`/${risk}`) && /^1\.\d+\//.test(ch))
    .sort((a, b) => (minorOf(a)?.minor ?? 0) - (minorOf(b)?.minor ?? 0));
  const highest = open[open.length - 1];
  const named = missing.length > 3 ? `${missing[0]} (and ${missing.length - 1} more, up to ${missing[missing.length - 1]})` : missing.join(', ');
  return [
    `--to: channel ${named} ${missing.length > 1 ? 'are' : 'is'} not in the snap store (snap info microk8s); ` +
      (highest ? `the highest available is ${highest}: use --to ${highest}` : `no 1.NN/${risk} channel is open`),
  ];
}

/** More than one minor pass must be confirmed: `--hops N`, or the plan approval that lists them (not `--yes`). */
function unconfirmedHops(hops: Hop[], options: { hops?: number; yes?: boolean }): string[] {
  const minors = hops.filter((h) => h.kind === 'minor').map((h) => h.label);
  const path = minors.length > 6 ? `${minors.slice(0, 2).join(' → ')} → … → ${minors[minors.length - 1]}` : minors.join(' → ');
  if (options.hops !== undefined && options.hops !== minors.length) {
    return [`--hops: ${options.hops} given, but the plan has ${minors.length} minor pass(es) (${path || 'none'}); pass --hops ${minors.length} if that is what you mean`];
  }
  if (minors.length > 1 && options.hops === undefined && options.yes) {
    return [`--to: ${minors.length} minor passes (${path}); confirm them with --hops ${minors.length}, or drop --yes to confirm the plan`];
  }
  return [];
}

/** The whole upgrade from one observation: refusals, hops and the lines `--plan` prints. */
export function planUpgrade(
  obs: ClusterObservation,
  options: Pick<UpgradeOptions, 'to' | 'workerBatch'> & { hops?: number; yes?: boolean },
  { checkRequest = true }: { /** false replays runs planned before these checks existed. */ checkRequest?: boolean } = {},
): UpgradePlan {
  const target = normaliseChannel(options.to);
  const [track, risk] = target.split('/');
  const targetMinor = minorOf(target)!.minor;
  const refusals = refusalsFor(obs, targetMinor);
  const before = Object.fromEntries(
    obs.nodes.map((n) => [n.name, { version: n.version, revision: n.revision, channel: n.tracking, unschedulable: n.unschedulable }]),
  );
  const hops: Hop[] = [];
  const patch = refusals.length ? undefined : planPatchHop(obs, options.workerBatch);
  if (patch) hops.push(patch);
  const badRequest: string[] = [];
  if (!refusals.length) {
    // From the lowest minor, one hop per minor; nodes at the target minor on another channel move in the last hop.
    const lowest = Math.min(...obs.nodes.map((n) => minorOf(n.version)?.minor ?? targetMinor));
    const assumed: Record<string, number> = {};
    for (let minor = Math.min(lowest + 1, targetMinor); minor <= targetMinor; minor++) {
      const lastHop = minor === targetMinor;
      const hop = planHop(obs.nodes, lastHop ? target : `1.${minor}/${risk}`, options.workerBatch, {
        lastHop,
        assumeMinor: Object.keys(assumed).length ? assumed : undefined,
      });
      if (hop.controlPlanes.length || hop.workerBatches.length) hops.push(hop);
      for (const n of obs.nodes) assumed[n.name] = Math.max(minor, minorOf(n.version)?.minor ?? 0);
    }
    if (checkRequest) badRequest.push(...unavailableChannels(hops, obs.channels), ...unconfirmedHops(hops, options));
  }
  if (badRequest.length) {
    refusals.push(...badRequest);
    hops.length = 0;
  }
  const lines = describePlan(target, track, obs, hops, refusals);
  return { target, hops, refusals, badRequest, baseline: [...obs.failingWorkloadPods], before, lines };
}

function describePlan(target: string, track: string, obs: ClusterObservation, hops: Hop[], refusals: string[]): string[] {
  const lines = [`Rolling upgrade to ${target} (${track} is reached one minor at a time, each a full rolling pass).`];
  lines.push('Live state:');
  for (const n of obs.nodes) {
    const role = n.controlPlane ? `control plane${n.dqliteRole ? `, dqlite ${n.dqliteRole}` : ''}${n.leader ? ' (leader)' : ''}` : 'worker';
    lines.push(`  ${n.name}: ${n.version} (rev ${n.revision}, ${n.tracking}), ${role}, ${n.ready ? 'Ready' : 'NOT Ready'}${n.unschedulable ? ', cordoned' : ''}`);
  }
  lines.push(`  high availability: ${obs.ha ? 'yes' : 'no'}, ${obs.voters} voter(s)`);
  if (obs.failingWorkloadPods.length) {
    lines.push(`  failing workload pods (baseline for the health gates): ${obs.failingWorkloadPods.join(', ')}`);
  }
  if (refusals.length) {
    lines.push('Refused:', ...refusals.map((r) => `  - ${r}`));
    return lines;
  }
  if (hops.length === 0) {
    lines.push(`Nothing to do: every node already runs ${target}.`);
    return lines;
  }
  lines.push(`0. ${UpgradeRun.describeBackup()}`);
  lines.push(`1. ${UpgradeRun.describeHold()}`);
  hops.forEach((hop, i) => {
    lines.push(`${i + 2}. ${hop.kind === 'patch' ? 'Patch pass' : `Hop ${hop.label}`}: control planes first, one at a time (quorum checked before each)`);
    for (const s of hop.controlPlanes) lines.push(`     ${s.node} → ${s.channel}`);
    hop.workerBatches.forEach((b, j) => lines.push(`   workers, batch ${j + 1}: ${b.map((s) => s.node).join(', ')} → ${b[0].channel}`));
    if (hop.skipped.length) lines.push(`   skipped: ${hop.skipped.join(', ')}`);
  });
  lines.push(describeNodeUpgrade());
  lines.push('Control-plane order is re-read from live state before each hop (the dqlite leader goes last).');
  return lines;
}
