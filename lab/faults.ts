/**
 * Fault injection (`lab fault NODE KIND`) and healing. Faults change the machine (sshd killed, stopped) and the
 * simulated truth under the state lock; shims read the per-node fault flags (slow, drop-ssh, block-port,
 * burn-next-token, no-converge) at each command.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Sim } from './sim/context';
import { channelName, latestIn, parseChannel } from './sim/catalogue';
import { type Cluster, type LabState, type NodeState, DQLITE_PORT, SPARE, addDeployment, nodeReady, servicesUp } from './sim/model';
import { snapPaths, syncClusterYamls } from './sim/backend';
import { generateId } from './sim/install';
import { startServices } from './sim/lifecycle';
import { refreshTo } from './sim/snap';
import { autoRefreshHeldBy } from './sim/snap-hold';
import { CERT_NAMES, certsOf } from './sim/certs';
import { DEFAULT_REBOOT_PKGS, finishBoot, requireReboot } from './sim/reboot';
import { journal, withState } from './sim/store';
import { freezeNode, killNode } from './sshd';

export const FAULT_KINDS = [
  'crash',
  'destroy',
  'hang',
  'fail-upgrade',
  'slow',
  'drop-ssh',
  'auto-refresh',
  'pdb-block',
  'no-converge',
  'block-port',
  'stale-member',
  'burn-next-token',
  'cert-expired',
  'fail-cert-refresh',
  'reboot-required',
  'slow-boot',
  'no-boot',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultOptions {
  /** fail-upgrade: the minor that fails, e.g. "1.29". */
  to?: string;
  /** slow: extra milliseconds per command (default: the profile's). */
  ms?: number;
  /**
   * drop-ssh: cut before the command acts, or after it acted but before its output is delivered (default).
   * slow: the delay comes before the command acts (default), or after it acted, before it exits.
   */
  when?: 'before' | 'after';
  /** block-port: the TCP port of NODE whose inbound connects are dropped, e.g. 25000. */
  port?: number;
  /** stale-member: the node whose cluster gets the stale entry (default: the biggest cluster NODE is not in). */
  clusterOf?: string;
  /** reboot-required: the packages that asked for it (default a kernel). */
  pkgs?: string[];
  /** cert-expired: which certificate expired (84.5 days ago: `--check` says -85) (default server.crt). */
  cert?: string;
}

export function validPort(port: unknown): port is number {
  return typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535;
}

const BLOCKER = 'critical';

export function applyFault(labDir: string, node: string, kind: FaultKind, opts: FaultOptions, pidFile: string): void {
  if (!FAULT_KINDS.includes(kind)) throw new Error(`unknown fault "${kind}"; use one of ${FAULT_KINDS.join(', ')}`);
  if (kind === 'fail-upgrade' && !/^1\.\d+$/.test(opts.to ?? '')) throw new Error('fail-upgrade needs --to <minor>, e.g. --to 1.29');
  if (kind === 'cert-expired' && opts.cert !== undefined && !(CERT_NAMES as readonly string[]).includes(opts.cert)) throw new Error(`cert-expired needs --cert ${CERT_NAMES.join('|')}`);
  if (kind === 'block-port' && !validPort(opts.port)) throw new Error('block-port needs --port <1-65535>, e.g. --port 25000');
  withState(labDir, (s, now) => {
    const n = s.nodes[node];
    if (n.power === 'destroyed') throw new Error(`${node} is destroyed`);
    const sim = new Sim(labDir, node);
    const wasVoterUp = s.clusters[n.cluster]?.members.some((m) => m.node === node && m.role === 0) && n.power === 'running';
    switch (kind) {
      case 'crash':
      case 'destroy':
        killNode(pidFile);
        n.power = kind === 'crash' ? 'crashed' : 'destroyed';
        if (wasVoterUp) journal(labDir, node, 'out-of-service', { reason: kind });
        break;
      case 'hang':
        freezeNode(pidFile, 'SIGSTOP');
        n.power = 'hung';
        if (wasVoterUp) journal(labDir, node, 'out-of-service', { reason: kind });
        break;
      case 'fail-upgrade':
        n.faults.failUpgradeTo = opts.to;
        break;
      case 'slow':
        n.faults.slowMs = opts.ms ?? sim.timing.slowMs;
        if (opts.when === 'after') n.faults.slowAfter = true;
        else delete n.faults.slowAfter;
        break;
      case 'drop-ssh':
        n.faults.dropSsh = opts.when ?? 'after';
        break;
      case 'auto-refresh': {
        const heldUntil = autoRefreshHeldBy(n, now);
        if (heldUntil) {
          journal(labDir, node, 'auto-refresh-held', { hold: heldUntil });
          break;
        }
        const ch = parseChannel(n.snap.tracking)!;
        const target = latestIn(ch);
        if (target.revision === n.snap.current.revision) journal(labDir, node, 'auto-refresh-noop', {});
        else refreshTo(sim, s, n, target, channelName(ch), now, sim.timing.refreshMs[0], true);
        break;
      }
      case 'reboot-required':
        // What an apt upgrade of a kernel leaves (notify-reboot-required); only a reboot clears it, not heal.
        requireReboot(labDir, n, opts.pkgs?.length ? opts.pkgs : DEFAULT_REBOOT_PKGS);
        break;
      case 'slow-boot':
        n.faults.slowBoot = true;
        break;
      case 'no-boot':
        n.faults.noBoot = true;
        break;
      case 'cert-expired':
        // Not cleared by heal: an expired certificate is fixed by `refresh-certs`, as on a real node.
        certsOf(n, now)[opts.cert ?? 'server.crt'] = now - 84.5 * 86_400_000; // --check: -85 days, as in #4852
        break;
      case 'fail-cert-refresh':
        // Acts in `refresh-certs` (sim/main.ts): after each `-e` refresh on NODE, kubelite stays down until `--undo`.
        n.faults.failCertRefresh = true;
        break;
      case 'no-converge':
        n.faults.noConverge = true;
        break;
      case 'block-port':
        n.faults.blockedPorts = [...new Set([...(n.faults.blockedPorts ?? []), opts.port!])];
        break;
      case 'burn-next-token':
        n.faults.burnNextToken = true;
        break;
      case 'stale-member':
        n.faults.staleIn = plantStaleMember(labDir, s, n, opts.clusterOf, now);
        break;
      case 'pdb-block': {
        const c = s.clusters[n.cluster];
        if (!c || !c.k8sNodes.some((k) => k.name === node)) throw new Error(`${node} is not a Kubernetes node of its cluster`);
        if (!c.deployments.some((d) => d.name === BLOCKER)) {
          addDeployment(c, { ns: 'default', name: BLOCKER, replicas: 1, pinnedTo: node }, [node], now);
          c.pdbs.push({ ns: 'default', name: BLOCKER, app: BLOCKER, minAvailable: 1 });
        }
        break;
      }
    }
    journal(labDir, node, 'fault', { kind, ...opts, ...(kind === 'stale-member' ? { cluster: n.faults.staleIn } : {}) });
    void nodeReady;
  });
}

/** Clear a node's faults. Returns true when its sshd must be started again (after a crash). */
export function healNode(labDir: string, node: string, pidFile: string): boolean {
  return withState(labDir, (s: LabState, now) => {
    const n = s.nodes[node];
    if (n.power === 'destroyed') return false;
    const sim = new Sim(labDir, node);
    let restart = false;
    if (n.power === 'hung') freezeNode(pidFile, 'SIGCONT');
    if (n.power === 'rebooting') {
      // A boot that never came (no-boot) or has not come yet: the machine is up now.
      restart = true;
      finishBoot(sim, s, n, now);
    }
    if (n.power === 'crashed') {
      restart = true;
      // The machine boots: services come back unless `microk8s stop` disabled them.
      const stopped = fs.existsSync(path.join(snapPaths(labDir, node).locks, 'stopped.lock'));
      n.power = 'running';
      if (!stopped && n.services === 'running') {
        n.services = 'stopped';
        startServices(sim, s, n, now);
      }
    }
    n.power = 'running';
    if (n.faults.staleIn) removeStaleMember(labDir, s, n, n.faults.staleIn, now);
    const hadFault = Object.keys(n.faults).length > 0 || n.kubeliteFailed;
    n.faults = {};
    n.kubeliteFailed = false;
    const c = s.clusters[n.cluster];
    if (c?.deployments.some((d) => d.name === BLOCKER && d.pinnedTo === node)) {
      c.deployments = c.deployments.filter((d) => !(d.name === BLOCKER && d.pinnedTo === node));
      c.pods = c.pods.filter((p) => p.owner !== BLOCKER);
      c.pdbs = c.pdbs.filter((p) => p.name !== BLOCKER);
    }
    journal(labDir, node, 'healed', { restarted: restart, cleared: hadFault });
    return restart;
  });
}

/**
 * `stale-member`: a dqlite entry with NODE's address (a spare no machine answers for) lingers in a cluster, as
 * after a failed join or a rebuilt node (reference §9 row 2): NODE's next join there is refused with "already
 * known to dqlite" until `remove-node <ip> --force`. Returns the cluster's id.
 */
function plantStaleMember(labDir: string, s: LabState, n: NodeState, clusterOf: string | undefined, now: number): string {
  const address = `${n.address}:${DQLITE_PORT}`;
  let c: Cluster | undefined;
  if (clusterOf) {
    const other = s.nodes[clusterOf];
    if (!other) throw new Error(`stale-member: no node "${clusterOf}" in this lab`);
    c = s.clusters[other.cluster];
    if (!c) throw new Error(`stale-member: ${clusterOf} is in no cluster`);
  } else {
    // The biggest cluster NODE is not a member of (ties: the one created first, usually k8s-1's).
    c = Object.values(s.clusters)
      .filter((x) => !x.members.some((m) => m.node === n.name))
      .sort((a, b) => b.members.length - a.members.length)[0];
    if (!c) throw new Error(`stale-member: there is no cluster ${n.name} is not already in`);
  }
  if (c.members.some((m) => m.address === address)) throw new Error(`stale-member: ${address} is already in the dqlite members of ${c.id}`);
  c.members.push({ id: generateId(address), address, role: SPARE, node: null });
  syncClusterYamls(labDir, s, c, (x) => servicesUp(s.nodes[x], now));
  return c.id;
}

/** heal of a `stale-member` fault: the planted entry goes, if nobody removed it yet. */
function removeStaleMember(labDir: string, s: LabState, n: NodeState, clusterId: string, now: number): void {
  const c = s.clusters[clusterId];
  const address = `${n.address}:${DQLITE_PORT}`;
  if (!c || !c.members.some((m) => m.address === address && m.node === null)) return;
  c.members = c.members.filter((m) => !(m.address === address && m.node === null));
  syncClusterYamls(labDir, s, c, (x) => servicesUp(s.nodes[x], now));
}
