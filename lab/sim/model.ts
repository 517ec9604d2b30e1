/**
 * The lab's cluster truth (state.json) and what follows from it: who is up, quorum, leader, readiness,
 * dqlite roles and pod scheduling. Pure functions over the state; the store applies them under the lock.
 */
import { type Profile, timingFor } from '../timing';

export const BOOTSTRAP_ID = '3297041220608546238';
export const DQLITE_PORT = 19001;
export const LOCAL_DQLITE = `127.0.0.1:${DQLITE_PORT}`;

/** dqlite roles as go-dqlite numbers them. */
export const VOTER = 0;
export const STANDBY = 1;
export const SPARE = 2;
export type DqliteRole = 0 | 1 | 2;
export const ROLE_NAMES = ['voter', 'stand-by', 'spare'] as const;

export interface Member {
  /** uint64 as a decimal string. */
  id: string;
  address: string;
  role: DqliteRole;
  /** The lab node this member is, if any (an entry typed by hand may match none). */
  node: string | null;
}

export interface Pod {
  ns: string;
  name: string;
  kind: 'ReplicaSet' | 'DaemonSet';
  /** Deployment or DaemonSet name. */
  owner: string;
  node: string | null;
  created: number;
  ip: string;
}

export interface Deployment {
  ns: string;
  name: string;
  replicas: number;
  hash: string;
  /** nodeSelector: replicas may only run here (used by the pdb-block fault). */
  pinnedTo?: string;
}

export interface Pdb {
  ns: string;
  name: string;
  /** The deployment it selects. */
  app: string;
  minAvailable: number;
}

export interface K8sNode {
  name: string;
  created: number;
  cordoned: boolean;
  worker: boolean;
}

export interface Recovery {
  epoch: string;
  template: string;
  members: Array<{ id: string; address: string; role: DqliteRole }>;
  /** sha256 of the template's closed segments, snapshots and .meta files right after `.reconfigure`. */
  files: Record<string, string>;
  rejoined: string[];
}

export interface Cluster {
  id: string;
  /** Raft data generation tag (16 hex): every raft file carries it; `.reconfigure` starts a new one. */
  epoch: string;
  term: number;
  index: number;
  members: Member[];
  leader: string | null;
  rebalanceAt: number | null;
  /** Last computed availability, to journal quorum-lost / quorum-regained once. */
  available: boolean;
  k8sNodes: K8sNode[];
  deployments: Deployment[];
  pods: Pod[];
  pdbs: Pdb[];
  recovery: Recovery | null;
}

export interface SnapRevision {
  revision: number;
  version: string;
  channel: string;
}

export type Power = 'running' | 'crashed' | 'destroyed' | 'hung' | 'rebooting';

export interface NodeState {
  name: string;
  address: string;
  /** Inventory role; `worker` below says how it actually joined. */
  role: 'controlplane' | 'worker';
  power: Power;
  services: 'running' | 'stopped';
  cluster: string;
  worker: boolean;
  /** `dataHash`: which objects its `open-1` holds (sim/datastore.ts); unset when unknown, e.g. after a start. */
  dqlite: { id: string; address: string; ok: boolean; error: string | null; dataHash?: string };
  snap: {
    current: SnapRevision;
    /** Retained older revisions, newest first (snapd keeps one by default here). */
    previous: SnapRevision[];
    tracking: string;
    /** The snap's own hold (`snap refresh --hold microk8s`): epoch ms, 'forever' or null. */
    hold: number | 'forever' | null;
    /** System-wide hold (`snap refresh --hold`, `snap set system refresh.hold`): blocks auto-refresh only. */
    systemHold?: number | 'forever' | null;
    /** `snap set system refresh.timer` / `refresh.metered` (unset: snapd's defaults). */
    timer?: string;
    metered?: string;
    /** When the last refresh of microk8s happened (epoch ms). */
    lastRefresh?: number;
    refreshingUntil: number;
    /** The change in progress is an unattended `auto-refresh` (its wording in errors), not a `refresh-snap`. */
    refreshAuto?: boolean;
  };
  /** kubelite/k8s-dqlite restarting until then: NotReady and dqlite member down. */
  restartUntil: number;
  /** Certificate notAfter (epoch ms) by file name (sim/certs.ts); absent in labs made before they were modelled. */
  certs?: Record<string, number>;
  /** What `refresh-certs --undo` restores (one level). */
  certsBackup?: Record<string, number>;
  /** Another node of the cluster replaced the CA: this one should leave and re-join (§11). */
  needsRejoin?: boolean;
  /** The machine (§12): boot id, the reboot sentinel's package list (null: no reboot required), and a reboot's times. */
  host?: { bootId: string; rebootRequired: string[] | null; downAt?: number; bootAt?: number };
  kubeliteFailed: boolean;
  faults: {
    slowMs?: number;
    /** `slow --when after`: the delay comes once the command has acted, before it exits (its effect is already there). */
    slowAfter?: boolean;
    dropSsh?: 'before' | 'after';
    failUpgradeTo?: string;
    /** `fail-cert-refresh`: kubelite does not become ready after a certificate refresh, until `refresh-certs --undo`. */
    failCertRefresh?: boolean;
    /** The next boot takes five times as long (`slow-boot`), or never comes (`no-boot`, until heal). */
    slowBoot?: boolean;
    noBoot?: boolean;
    /** The next control-plane join of this node does not converge (the join trap). */
    noConverge?: boolean;
    /** `block-port`: inbound TCP to these ports is dropped (sim/network.ts). */
    blockedPorts?: number[];
    /** `stale-member`: the cluster where a dqlite entry with this node's address was planted. */
    staleIn?: string;
    /** `burn-next-token`: the next join from this node burns its token and fails with `Invalid token`. */
    burnNextToken?: boolean;
  };
}

export interface LabState {
  name: string;
  profile: Profile;
  timeScale: number;
  seq: number;
  nodes: Record<string, NodeState>;
  clusters: Record<string, Cluster>;
  /** How root is judged (lab/account.ts): `uid` (real accounts, real sudo) or `marker` (the sudo shim); absent = marker. */
  privilege?: 'uid' | 'marker';
}

/** The machine answers and kubelite/k8s-dqlite are not stopped or restarting. */
export function servicesUp(n: NodeState, now: number): boolean {
  return n.power === 'running' && n.services === 'running' && now >= n.restartUntil;
}

export function memberOf(c: Cluster, node: string): Member | undefined {
  return c.members.find((m) => m.node === node);
}

export function memberUp(s: LabState, c: Cluster, m: Member, now: number): boolean {
  if (!m.node) return false;
  const n = s.nodes[m.node];
  return !!n && n.cluster === c.id && !n.worker && servicesUp(n, now) && n.dqlite.ok;
}

export function voters(c: Cluster): Member[] {
  return c.members.filter((m) => m.role === VOTER);
}

/** Quorum: a majority of the voters is up. */
export function hasQuorum(s: LabState, c: Cluster, now: number): boolean {
  const v = voters(c);
  const up = v.filter((m) => memberUp(s, c, m, now)).length;
  return v.length > 0 && up > v.length / 2;
}

export function leaderOf(s: LabState, c: Cluster, now: number): Member | undefined {
  if (!hasQuorum(s, c, now)) return undefined;
  const v = voters(c).filter((m) => memberUp(s, c, m, now));
  return v.find((m) => m.address === c.leader) ?? v[0];
}

/** Kubernetes Ready condition of a lab node seen from cluster `c`. */
export function nodeReady(s: LabState, c: Cluster, name: string, now: number): boolean {
  const n = s.nodes[name];
  // A rebooting node stays Ready until the node monitor's grace period runs out (§12: a fast reboot never shows NotReady).
  if (n?.power === 'rebooting' && n.cluster === c.id && now - (n.host?.downAt ?? 0) < graceMs(s, n)) return hasQuorum(s, c, now);
  if (!n || n.cluster !== c.id || !servicesUp(n, now) || n.kubeliteFailed) return false;
  if (!hasQuorum(s, c, now)) return false;
  if (n.worker) return true;
  const m = memberOf(c, name);
  return !!m && memberUp(s, c, m, now);
}

/**
 * go-dqlite's role adjustment, simplified: 1 voter below 3 members, otherwise up to 3 voters and 3 stand-bys,
 * online members preferred; offline voters are demoted when an online member can replace them.
 */
export function desiredRoles(s: LabState, c: Cluster, now: number): Map<Member, DqliteRole> {
  const wantVoters = c.members.length < 3 ? 1 : 3;
  const wantStandbys = c.members.length < 3 ? 0 : 3;
  const online = c.members.filter((m) => memberUp(s, c, m, now));
  const offline = c.members.filter((m) => !online.includes(m));
  const byRole = (ms: Member[], r: DqliteRole) => ms.filter((m) => m.role === r);
  const order = [...byRole(online, VOTER), ...byRole(online, STANDBY), ...byRole(online, SPARE)];
  const roles = new Map<Member, DqliteRole>();
  const onlineVoters = order.slice(0, wantVoters);
  onlineVoters.forEach((m) => roles.set(m, VOTER));
  // Offline voters keep their seat while nobody online can take it.
  let missing = wantVoters - onlineVoters.length;
  for (const m of byRole(offline, VOTER)) {
    if (missing > 0) {
      roles.set(m, VOTER);
      missing -= 1;
    } else roles.set(m, SPARE);
  }
  const rest = order.slice(wantVoters);
  rest.forEach((m, i) => roles.set(m, i < wantStandbys ? STANDBY : SPARE));
  for (const m of offline) if (!roles.has(m)) roles.set(m, m.role === STANDBY ? STANDBY : SPARE);
  return roles;
}

export function rolesDiffer(s: LabState, c: Cluster, now: number): boolean {
  for (const [m, r] of desiredRoles(s, c, now)) if (m.role !== r) return true;
  return false;
}

export function schedulable(s: LabState, c: Cluster, now: number): string[] {
  return c.k8sNodes.filter((k) => !k.cordoned && nodeReady(s, c, k.name, now)).map((k) => k.name);
}

/** A pod counts as healthy for a disruption budget when it is bound to a Ready node. */
export function podHealthy(s: LabState, c: Cluster, p: Pod, now: number): boolean {
  return p.node !== null && nodeReady(s, c, p.node, now);
}

export function randomSuffix(len: number, seed: () => number = Math.random): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  let s = '';
  for (let i = 0; i < len; i++) s += alphabet[Math.floor(seed() * alphabet.length)];
  return s;
}

export function newPod(c: Cluster, d: Deployment | { ns: string; name: string }, kind: Pod['kind'], node: string | null, now: number): Pod {
  const name = kind === 'DaemonSet' ? `${d.name}-${randomSuffix(5)}` : `${d.name}-${(d as Deployment).hash}-${randomSuffix(5)}`;
  const ip = `10.1.${Math.floor(Math.random() * 250) + 1}.${Math.floor(Math.random() * 250) + 2}`;
  return { ns: d.ns, name, kind, owner: d.name, node, created: now, ip };
}

/** Bind pending replicas to the least-loaded schedulable nodes (honouring a pin). */
export function schedulePending(s: LabState, c: Cluster, now: number): void {
  const targets = schedulable(s, c, now);
  const load = (n: string) => c.pods.filter((p) => p.node === n && p.kind === 'ReplicaSet').length;
  for (const p of c.pods) {
    if (p.node !== null || p.kind !== 'ReplicaSet') continue;
    const d = c.deployments.find((x) => x.ns === p.ns && x.name === p.owner);
    const options = targets.filter((t) => !d?.pinnedTo || d.pinnedTo === t);
    if (options.length === 0) continue;
    options.sort((a, b) => load(a) - load(b));
    p.node = options[0];
  }
}

/** Every k8s node gets its DaemonSet pod. */
export function ensureDaemonSets(c: Cluster, now: number): void {
  for (const k of c.k8sNodes) {
    if (!c.pods.some((p) => p.kind === 'DaemonSet' && p.node === k.name && p.owner === 'calico-node')) {
      c.pods.push(newPod(c, { ns: 'kube-system', name: 'calico-node' }, 'DaemonSet', k.name, now));
    }
  }
  c.pods = c.pods.filter((p) => p.kind !== 'DaemonSet' || c.k8sNodes.some((k) => k.name === p.node));
}

export function addDeployment(c: Cluster, d: Omit<Deployment, 'hash'>, nodes: string[], now: number): Deployment {
  const dep: Deployment = { ...d, hash: randomSuffix(9) + randomSuffix(1) };
  c.deployments.push(dep);
  for (let i = 0; i < d.replicas; i++) {
    const node = d.pinnedTo ?? (nodes.length ? nodes[i % nodes.length] : null);
    c.pods.push(newPod(c, dep, 'ReplicaSet', node, now));
  }
  return dep;
}

/** node-monitor-grace-period for this node's Kubernetes: 40 s up to 1.31, 50 s from 1.32 (kubernetes#126287). */
export function graceMs(s: LabState, n: NodeState): number {
  const base = timingFor(s.profile, s.timeScale).notReadyGraceMs;
  const minor = Number(/^v1\.(\d+)\./.exec(n.snap.current.version)?.[1] ?? 0);
  return minor >= 32 ? Math.round(base * 1.25) : base;
}
