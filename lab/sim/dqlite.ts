/**
 * The dqlite CLI (`dqlite -s <servers|file://cluster.yaml> [-c crt -k key] [-f tabular|json] k8s "<cmd>"`):
 * `.cluster`, `.leader`, `.remove`, `.describe` need a reachable leader; `.reconfigure` rewrites a stopped
 * node's raft data as a new generation the other survivors must copy.
 */
import * as fs from 'fs';
import * as path from 'path';
import { SNAPSHOT, epochOf, isRaftFile, manifest, newEpoch, parseInfoYaml, parseMembersYaml, removeRaftFiles, snapPaths, writeRaftFiles } from './backend';
import { adoptObjects, readObjects, storedObjects, writeObjects } from './datastore';
import { type Sim } from './context';
import { type Cluster, type LabState, type Member, LOCAL_DQLITE, ROLE_NAMES, leaderOf, servicesUp } from './model';
import { scheduleRebalance } from './store';

const USAGE = `Usage:
  dqlite -s <servers> <database> [command] [flags]

Flags:
  -c, --cert string       public TLS cert
  -f, --format string     output format (tabular, json) (default "tabular")
  -h, --help              help for dqlite
  -k, --key string        private TLS key
  -s, --servers strings   comma-separated list of db servers, or file://<store>
      --timeout int       timeout of each request (msec) (default 2000)
`;

function fail(sim: Sim, msg: string, usage = false): number {
  sim.err(`Error: ${msg}${usage ? `\n${USAGE}` : ''}`);
  return 1;
}

/** The JSON go-dqlite prints: tab-indented, integer IDs (uint64, so built by hand). */
function clusterJson(members: Member[]): string {
  if (!members.length) return '[]';
  const items = members.map((m) => `\t{\n\t\t"ID": ${m.id},\n\t\t"Address": "${m.address}",\n\t\t"Role": ${m.role}\n\t}`);
  return `[\n${items.join(',\n')}\n]`;
}

function findLeader(sim: Sim, s: LabState, servers: string[], now: number): { c: Cluster; leader: Member } | undefined {
  for (const addr of servers) {
    for (const c of Object.values(s.clusters)) {
      const m = c.members.find((x) => x.address === addr && (addr !== LOCAL_DQLITE || x.node === sim.node));
      if (!m?.node) continue;
      const n = s.nodes[m.node];
      if (!servicesUp(n, now) || !n.dqlite.ok || n.cluster !== c.id) continue;
      const leader = leaderOf(s, c, now);
      if (leader) return { c, leader };
    }
  }
  return undefined;
}

export async function dqlite(sim: Sim, args: string[]): Promise<number> {
  let servers: string | undefined;
  let format = 'tabular';
  const tls: string[] = [];
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const eq = a.indexOf('=');
    const [flag, inline] = a.startsWith('-') && eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined];
    const value = () => inline ?? args[++i];
    if (flag === '-s' || flag === '--servers') servers = value();
    else if (flag === '-c' || flag === '--cert' || flag === '-k' || flag === '--key') tls.push(value() ?? '');
    else if (flag === '--timeout') value();
    else if (flag === '-f' || flag === '--format') format = value() ?? '';
    else if (flag === '-h' || flag === '--help') {
      sim.out(`dqlite is a CLI for dqlite databases\n\n${USAGE}`);
      return 0;
    } else if (a.startsWith('-')) return fail(sim, `unknown shorthand flag: '${a.replace(/^-+/, '')[0]}' in ${a}`, true);
    else positional.push(a);
  }
  if (positional.length < 1 || positional.length > 2) return fail(sim, `accepts between 1 and 2 arg(s), received ${positional.length}`, true);
  if (!['tabular', 'json'].includes(format)) return fail(sim, `unknown format: ${format}`);
  const cmd = (positional[1] ?? '').trim();
  if (!cmd) return fail(sim, 'interactive shell is not available in the lab; pass the command as the second argument');
  const [verb, ...rest] = cmd.split(/\s+/);
  if (!sim.root) {
    // The backend is root:microk8s 0660 (reference §7, #2910): the first file the CLI opens is refused, with usage.
    if (servers?.startsWith('file://')) return fail(sim, `open servers store: open ${servers.slice('file://'.length)}: permission denied`, true);
    const file = tls.find((f) => f) ?? (verb === '.reconfigure' && rest[1] ? rest[1] : path.join(snapPaths(sim.labDir, sim.node).backend, 'cluster.yaml'));
    return fail(sim, `open ${file}: permission denied`, true);
  }
  if (verb === '.reconfigure') return reconfigure(sim, rest);
  if (!servers) return fail(sim, 'required flag(s) "servers" not set', true);
  let addrs: string[];
  if (servers.startsWith('file://')) {
    const file = servers.slice('file://'.length);
    try {
      addrs = parseMembersYaml(fs.readFileSync(file, 'utf8')).map((m) => m.address);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return fail(sim, `open servers store: open ${file}: ${code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : (e as Error).message}`);
    }
  } else addrs = servers.split(',');
  const result = sim.state((s, now) => {
    const found = findLeader(sim, s, addrs, now);
    if (!found) return { error: 'no available dqlite leader server found' };
    const { c, leader } = found;
    if (verb === '.cluster') {
      if (format === 'json') return { out: clusterJson(c.members) };
      return { out: c.members.map((m) => `${BigInt(m.id).toString(16)}|${m.address}|${ROLE_NAMES[m.role]}`).join('\n') };
    }
    if (verb === '.leader') return { out: leader.address };
    if (verb === '.describe') {
      const m = c.members.find((x) => x.address === rest[0]);
      return m ? { out: `${m.address}|1|0` } : { error: `no node with address ${rest[0]}` };
    }
    if (verb === '.remove') {
      if (rest.length !== 1) return { error: 'usage: .remove <address>' };
      const m = c.members.find((x) => x.address === rest[0]);
      if (!m) return { error: `no node with address ${rest[0]}` };
      c.members = c.members.filter((x) => x !== m);
      scheduleRebalance(s, c, now);
      sim.event('dqlite-removed', { address: m.address, member: m.node });
      return { out: '' };
    }
    return { error: `unknown command ${verb}` };
  });
  if ('error' in result) {
    if (result.error === 'no available dqlite leader server found') await sim.sleep(sim.timing.statusPollMs);
    return fail(sim, result.error!);
  }
  if (result.out) sim.out(result.out);
  return 0;
}

function reconfigure(sim: Sim, rest: string[]): number {
  if (rest.length !== 2) return fail(sim, 'usage: .reconfigure <dir> <clusteryaml>');
  const [dirArg, yamlPath] = rest;
  const dir = path.resolve(dirArg);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) return fail(sim, `failed to reconfigure membership :open ${dirArg}: no such file or directory`);
  let members;
  try {
    members = parseMembersYaml(fs.readFileSync(yamlPath, 'utf8'));
  } catch (e) {
    return fail(sim, `failed to reconfigure membership :${(e as Error).message}`);
  }
  if (!members.length) return fail(sim, 'failed to reconfigure membership :no nodes in the new configuration');
  const r = sim.state((s, now, self) => {
    const own = fs.realpathSync(snapPaths(sim.labDir, sim.node).backend);
    if (fs.realpathSync(dir) !== own) return { error: `failed to reconfigure membership :${dir} is not the data directory of a dqlite node on this host` };
    if (self.services === 'running' && servicesUp(self, now)) {
      return { error: 'failed to reconfigure membership :raft_recover(): io: data directory is in use by a running k8s-dqlite (stop the node first)' };
    }
    const c = s.clusters[self.cluster];
    let info;
    try {
      info = parseInfoYaml(fs.readFileSync(path.join(dir, 'info.yaml'), 'utf8'));
    } catch (e) {
      return { error: `failed to reconfigure membership :info.yaml: ${(e as Error).message}` };
    }
    void info;
    // raft_recover keeps the log it finds. Raft data of another generation (none at all, or a backup restored from
    // another cluster) is not this cluster's: from now on the cluster holds what that data holds.
    const raft = fs.readdirSync(dir).filter(isRaftFile);
    // A real dqlite database (restored from a real cluster's backup, say): the simulator cannot read what it holds.
    const unreadable = raft.find((f) => epochOf(path.join(dir, f)) === undefined);
    if (unreadable) return { error: `failed to reconfigure membership :the lab cannot read ${unreadable}: raft data the lab's simulator did not write (a real dqlite database needs a real MicroK8s)` };
    const foreign = raft.length === 0 || raft.some((f) => epochOf(path.join(dir, f)) !== c.epoch);
    const restored = foreign ? readObjects(dir) : undefined;
    const epoch = newEpoch();
    c.epoch = epoch;
    c.term += 1;
    c.index += 100;
    removeRaftFiles(dir);
    writeRaftFiles(dir, { epoch, origin: sim.node, term: c.term, index: c.index, now, openBytes: 0, startOnly: false });
    // The template keeps no open segments: they are written again when it starts.
    for (const f of fs.readdirSync(dir)) if (/^open-\d+$/.test(f)) fs.rmSync(path.join(dir, f));
    const nodeFor = (m: { id: string; address: string }) =>
      Object.values(s.nodes).find((n) => n.cluster === c.id && n.dqlite.id === m.id && n.dqlite.address === m.address)?.name ?? null;
    c.members = members.map((m) => ({ ...m, node: nodeFor(m) }));
    if (foreign) adoptObjects(s, c, restored, now);
    // The new snapshot holds the data, so the survivors' copies carry it too.
    for (const f of fs.readdirSync(dir).filter((x) => SNAPSHOT.test(x))) writeObjects(path.join(dir, f), storedObjects(c));
    c.recovery = { epoch, template: sim.node, members, files: manifest(dir), rejoined: [] };
    c.leader = null;
    c.rebalanceAt = null;
    for (const n of Object.values(s.nodes)) {
      if (n.cluster === c.id && !n.worker) {
        n.dqlite.ok = false;
        n.dqlite.error = 'not restarted since .reconfigure';
      }
    }
    sim.event('reconfigured', {
      cluster: c.id,
      epoch,
      members: c.members.map((m) => ({ id: m.id, address: m.address, role: m.role, node: m.node })),
      ...(foreign ? { restoredNodes: restored?.nodes.map((k) => k.name) ?? [] } : {}),
    });
    return { ok: true };
  });
  if ('error' in r) return fail(sim, r.error!);
  sim.out('OK');
  return 0;
}
