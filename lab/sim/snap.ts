/**
 * `snap list|info|refresh|revert|stop|start` for microk8s. $SNAP_DATA is per revision: a refresh copies the
 * current revision's data to the new one, and a revert switches back to the old revision and its old data.
 */
import * as fs from 'fs';
import * as path from 'path';
import { judgeBackend, snapPaths } from './backend';
import { type Release, channelName, latestIn, minorOfVersion, parseChannel, release, MINORS, latestPatch } from './catalogue';
import { type Sim } from './context';
import { installSnapBinaries, setCurrent } from './install';
import { type LabState, type NodeState, type SnapRevision } from './model';
import { startServices, stopServices } from './lifecycle';
import { table } from './kubectl';
import { spread } from '../timing';
import { formatHold, formatTime, getSystem, holding, refreshHold, refreshTime, setSystem } from './snap-hold';


const PUBLISHER = 'canonical✓';

function notes(n: NodeState, now: number): string {
  // While a change runs, snapd has the snap's services disabled (reference §6, failure mode 14).
  if (n.snap.refreshingUntil > now) return 'disabled,classic';
  return holding(n.snap.hold, now) ? 'classic,held' : 'classic';
}

/** The error snapd gives while a change of the snap is in progress. */
function changeInProgress(n: NodeState): string {
  return `error: snap "microk8s" has "${n.snap.refreshAuto ? 'auto-refresh' : 'refresh-snap'}" change in progress`;
}

/** snapd's notice timestamp: local time with offset (the lab runs in UTC). */
function noticeTime(at = Date.now()): string {
  return new Date(at).toISOString().replace(/\.\d+Z$/, '+00:00');
}

function list(sim: Sim, args: string[]): number {
  const all = args.includes('--all');
  const names = args.filter((a) => !a.startsWith('-'));
  const n = sim.peek().nodes[sim.node];
  if (names.some((x) => x !== 'microk8s' && x !== 'core22' && x !== 'snapd')) {
    sim.err(`error: no matching snaps installed`);
    return 1;
  }
  const rows = [['Name', 'Version', 'Rev', 'Tracking', 'Publisher', 'Notes']];
  const show = (x: string) => names.length === 0 || names.includes(x);
  if (show('core22')) rows.push(['core22', '20240408', '1380', 'latest/stable', PUBLISHER, 'base']);
  if (show('microk8s')) {
    rows.push(['microk8s', n.snap.current.version, String(n.snap.current.revision), n.snap.tracking, PUBLISHER, notes(n, Date.now())]);
    if (all) for (const p of n.snap.previous) rows.push(['microk8s', p.version, String(p.revision), '-', PUBLISHER, 'disabled,classic']);
  }
  if (show('snapd')) rows.push(['snapd', '2.63', '21759', 'latest/stable', PUBLISHER, 'snapd']);
  sim.out(table(rows).replace(/canonical✓(\s*)/g, (m, sp: string) => `canonical✓${sp}`));
  return 0;
}

function info(sim: Sim, args: string[]): number {
  if (!args.includes('microk8s')) {
    sim.err('error: no snap found for "' + (args.find((a) => !a.startsWith('-')) ?? '') + '"');
    return 1;
  }
  const n = sim.peek().nodes[sim.node];
  const now = Date.now();
  const abs = args.includes('--abs-time');
  const lines = [
    'name:      microk8s',
    'summary:   Kubernetes for workstations and appliances',
    'publisher: Canonical✓',
    'store-url: https://snapcraft.io/microk8s',
    'contact:   https://github.com/canonical/microk8s',
    'license:   Apache-2.0',
    'description: |',
    '  MicroK8s is a small, fast, secure, single node Kubernetes that installs on',
    '  just about any Linux box.',
    'commands:',
    '  - microk8s',
    '  - microk8s.kubectl',
    'services:',
    `  microk8s.daemon-cluster-agent:      simple, enabled, ${n.services === 'running' ? 'active' : 'inactive'}`,
    `  microk8s.daemon-k8s-dqlite:         simple, enabled, ${n.services === 'running' && n.dqlite.ok && !n.worker ? 'active' : 'inactive'}`,
    `  microk8s.daemon-kubelite:           simple, enabled, ${n.services === 'running' && !n.kubeliteFailed ? 'active' : 'inactive'}`,
    'snap-id:      EaXqgt1lyCaxKaQCU349mlodBkDCXRcg',
    `tracking:     ${n.snap.tracking}`,
    `refresh-date: ${n.snap.lastRefresh ? formatTime(n.snap.lastRefresh, now, abs) : formatTime(now - 3_600_000, now, abs)}`,
    ...(holding(n.snap.hold, now) ? [`hold:         ${formatHold(n.snap.hold as number | 'forever', now, abs)}`] : []),
    'channels:',
  ];
  const chans: Array<[string, Release]> = [['latest/stable', latestIn(parseChannel('latest/stable')!)]];
  // Every track has all four risks in the store, as the real listing does (behaviour reference §6).
  for (const m of [...MINORS].reverse()) {
    for (const risk of ['stable', 'candidate', 'beta', 'edge']) chans.push([`1.${m}/${risk}`, release(m, latestPatch(m))]);
  }
  const w = Math.max(...chans.map(([c]) => c.length)) + 2;
  for (const [c, r] of chans) lines.push(`  ${(c + ':').padEnd(w)}  ${r.version.padEnd(16)}2024-05-01 (${r.revision}) 172MB classic`);
  lines.push(`installed:          ${n.snap.current.version.padEnd(16)}       (${n.snap.current.revision}) 172MB classic`);
  sim.out(lines.join('\n'));
  return 0;
}

/** How long a refresh of this node to this revision takes: deterministic, within the profile's range. */
export function refreshDuration(sim: Sim, node: string, revision: number): number {
  const [lo, hi] = sim.timing.refreshMs;
  return spread(lo, hi, `${node}:${revision}`);
}

/** Switch a node to another revision: copy-on-refresh of $SNAP_DATA, `current` links, the node restarts. */
export function refreshTo(sim: Sim, s: LabState, n: NodeState, target: Release, channel: string, now: number, busyMs: number, auto = false): SnapRevision {
  const p = snapPaths(sim.labDir, n.name);
  const from = n.snap.current;
  const to: SnapRevision = { revision: target.revision, version: target.version, channel };
  if (to.revision !== from.revision) {
    const src = path.join(p.snapData, String(from.revision));
    const dst = path.join(p.snapData, String(to.revision));
    fs.rmSync(dst, { recursive: true, force: true });
    fs.cpSync(src, dst, { recursive: true, verbatimSymlinks: true });
    copyOwnership(src, dst);
    installRevisionBinaries(sim, n.name, to.revision);
    setCurrent(p.snapData, to.revision);
    setCurrent(p.snap, to.revision);
    // Only older revisions beyond the one kept for revert go; never the target (a refresh back to a reverted-from revision).
    for (const old of n.snap.previous) {
      if (old.revision !== from.revision && old.revision !== to.revision) {
        fs.rmSync(path.join(p.snapData, String(old.revision)), { recursive: true, force: true });
        fs.rmSync(path.join(p.snap, String(old.revision)), { recursive: true, force: true });
      }
    }
    n.snap.previous = [from];
    n.snap.current = to;
  }
  n.snap.tracking = channel;
  n.snap.lastRefresh = now;
  n.snap.refreshingUntil = now + busyMs;
  n.snap.refreshAuto = auto;
  const c = s.clusters[n.cluster];
  if (c?.members.some((m) => m.node === n.name && m.role === 0)) sim.event('out-of-service', { reason: auto ? 'auto-refresh' : 'refresh' }, n.name);
  n.restartUntil = now + busyMs + sim.timing.restartMs;
  n.kubeliteFailed = n.faults.failUpgradeTo !== undefined && minorOfVersion(to.version) === minorOfVersion(`v${n.faults.failUpgradeTo}.0`);
  sim.event('refreshed', { from: from.version, to: to.version, fromRevision: from.revision, toRevision: to.revision, channel, auto }, n.name);
  if (n.kubeliteFailed) sim.event('upgrade-failed', { version: to.version, reason: 'kubelite does not become ready (fail-upgrade fault)' }, n.name);
  return to;
}

/** snapd copies $SNAP_DATA as root keeping owners (the backend's group `microk8s`, lab/account.ts). */
function copyOwnership(src: string, dst: string): void {
  if (process.getuid?.() !== 0) return;
  const st = fs.lstatSync(src);
  fs.lchownSync(dst, st.uid, st.gid);
  if (st.isDirectory()) for (const e of fs.readdirSync(src)) copyOwnership(path.join(src, e), path.join(dst, e));
}

function installRevisionBinaries(sim: Sim, node: string, revision: number): void {
  installSnapBinaries(sim.labDir, node, revision);
}

async function refresh(sim: Sim, args: string[]): Promise<number> {
  let channel: string | undefined;
  let hold: string | undefined;
  let unhold = false;
  let time = false;
  let absTime = false;
  let otherFlags = false;
  const names: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--hold') hold = '';
    else if (a.startsWith('--hold=')) hold = a.slice('--hold='.length);
    else if (a === '--unhold') unhold = true;
    else if (a === '--time') time = true;
    else if (a === '--abs-time') absTime = true;
    else {
      otherFlags ||= a.startsWith('-');
      if (a.startsWith('--channel=')) channel = a.slice('--channel='.length);
      else if (a === '--channel') channel = args[++i];
      else if (['--stable', '--candidate', '--beta', '--edge'].includes(a)) channel = a.slice(2);
      else if (a === '--classic' || a === '--amend') continue;
      else if (a.startsWith('-')) {
        sim.err(`error: unknown flag \`${a.replace(/^-+/, '').split('=')[0]}'`);
        return 1;
      } else names.push(a);
    }
  }
  if (time) return refreshTime(sim, absTime);
  if (names.some((x) => x !== 'microk8s')) {
    sim.err(`error: snap "${names.find((x) => x !== 'microk8s')}" is not installed`);
    return 1;
  }
  if (hold !== undefined || unhold) return refreshHold(sim, { hold, unhold, names, otherFlags: otherFlags || (hold !== undefined && unhold) });
  // A bare `snap refresh` (no snap named) honours the snap's own hold; naming microk8s refreshes it anyway (§14).
  if (names.length === 0 && channel === undefined) {
    const n = sim.peek().nodes[sim.node];
    if (holding(n.snap.hold, Date.now())) {
      sim.err('All snaps up to date.');
      return 0;
    }
  }
  // The change happens atomically in snapd before the client waits: a client killed while waiting leaves it
  // done (snap list shows the new revision; a rerun says "change in progress", then "no updates available").
  const r = sim.state((s, now, n) => {
    if (n.snap.refreshingUntil > now) return { error: changeInProgress(n) };
    const chName = channel ?? n.snap.tracking;
    const ch = parseChannel(chName);
    if (!ch) return { error: `error: snap "microk8s" is not available on ${chName}` };
    const target = latestIn(ch);
    const full = channelName(ch);
    if (target.revision === n.snap.current.revision && full === n.snap.tracking) return { none: true as const };
    const busy = refreshDuration(sim, n.name, target.revision);
    const to = refreshTo(sim, s, n, target, full, now, busy);
    return { to, channel: full, busy };
  });
  if ('error' in r) {
    sim.err(r.error!);
    return 1;
  }
  if ('none' in r) {
    sim.out('snap "microk8s" has no updates available');
    return 0;
  }
  // Streamed like snapd's notice while the services stop, so a watcher sees bytes long before the result.
  const first = Math.min(r.busy, Math.round(r.busy / 10));
  await sim.sleep(first);
  sim.err(`${noticeTime()} INFO Waiting for "snap.microk8s.daemon-kubelite.service" to stop.`);
  await sim.sleep(r.busy - first);
  sim.out(`microk8s (${r.channel}) ${r.to.version} from Canonical✓ refreshed`);
  return 0;
}

async function revert(sim: Sim, args: string[]): Promise<number> {
  const revArg = args.find((a) => a.startsWith('--revision='))?.slice('--revision='.length) ?? (args.includes('--revision') ? args[args.indexOf('--revision') + 1] : undefined);
  const r = sim.state((s, now, n) => {
    if (n.snap.refreshingUntil > now) return { error: changeInProgress(n) };
    const candidates = n.snap.previous.filter((p) => (revArg ? String(p.revision) === revArg : p.revision < n.snap.current.revision));
    const to = candidates[0];
    if (!to) return { error: revArg ? `error: cannot revert "microk8s": cannot find revision ${revArg}` : 'error: cannot revert "microk8s": no revision to revert to' };
    const busy = Math.round(refreshDuration(sim, n.name, to.revision) / 2);
    const p = snapPaths(sim.labDir, n.name);
    const from = n.snap.current;
    setCurrent(p.snapData, to.revision);
    setCurrent(p.snap, to.revision);
    n.snap.current = to;
    n.snap.previous = [from];
    n.snap.tracking = to.channel;
    n.snap.refreshingUntil = now + busy;
    n.snap.refreshAuto = false;
    n.kubeliteFailed = false;
    if (n.services === 'running') {
      stopServices(sim, s, n);
      startServices(sim, s, n, now);
    }
    n.restartUntil = now + busy + sim.timing.restartMs;
    sim.event('reverted', { from: from.version, to: to.version, fromRevision: from.revision, toRevision: to.revision });
    return { to, busy };
  });
  if ('error' in r) {
    sim.err(r.error!);
    return 1;
  }
  await sim.sleep(r.busy!);
  sim.out(`microk8s reverted to ${r.to!.version}`);
  return 0;
}

async function services(sim: Sim, verb: 'stop' | 'start', args: string[]): Promise<number> {
  const names = args.filter((a) => !a.startsWith('-'));
  if (!names.length || !names.every((x) => x === 'microk8s' || x.startsWith('microk8s.'))) {
    sim.err(`error: snap "${names[0] ?? ''}" not found`);
    return 1;
  }
  await sim.sleep(verb === 'stop' ? sim.timing.stopMs : sim.timing.startMs);
  sim.state((s, now, n) => (verb === 'stop' ? stopServices(sim, s, n) : startServices(sim, s, n, now)));
  sim.out(verb === 'stop' ? 'Stopped.' : 'Started.');
  return 0;
}

/** snapd's answer to a change asked for by a user who is not root (cmd/snap/error.go, a 401 from the daemon). */
export const ACCESS_DENIED = 'error: access denied (try with sudo)';

export function snap(sim: Sim, args: string[]): number | Promise<number> {
  const [verb, ...rest] = args;
  // Changes (refresh, --hold, revert, start, stop) need root; list, info and version are public queries.
  if (['refresh', 'revert', 'stop', 'start', 'set'].includes(verb) && !sim.root && !(verb === 'refresh' && rest.includes('--time'))) {
    sim.err(ACCESS_DENIED);
    return 1;
  }
  switch (verb) {
    case 'list':
      return list(sim, rest);
    case 'info':
      return info(sim, rest);
    case 'refresh':
      return refresh(sim, rest);
    case 'revert':
      return revert(sim, rest);
    case 'stop':
    case 'start':
      return services(sim, verb, rest);
    case 'get':
    case 'set': {
      const [target, ...keys] = rest;
      if (target !== 'system' && target !== 'core') {
        sim.err(`error: the lab models only "snap ${verb} system …"`);
        return 1;
      }
      return verb === 'get' ? getSystem(sim, keys) : setSystem(sim, keys);
    }
    case 'version':
      sim.out('snap    2.63\nsnapd   2.63\nseries  16\nubuntu  22.04\nkernel  5.15.0-105-generic');
      return 0;
    default:
      sim.err(`error: unknown command "${verb ?? ''}", see 'snap help'.`);
      return 1;
  }
}

export { judgeBackend };
