/**
 * What `snap install microk8s` leaves on a node, and the clusters a node can start in: alone (as after install
 * or `leave`) or formed (the `--formed` lab). Used by `Lab.up` and by the simulator itself.
 */
import * as fs from 'fs';
import * as path from 'path';
import { copyCaFiles } from './certs';
import { nodeRoot, snapPaths, writeFreshBackend, newEpoch, readFailureDomain } from './backend';
import {
  type Cluster,
  type LabState,
  type Member,
  type NodeState,
  BOOTSTRAP_ID,
  DQLITE_PORT,
  LOCAL_DQLITE,
  SPARE,
  STANDBY,
  VOTER,
  addDeployment,
  ensureDaemonSets,
} from './model';
import { createHash } from 'crypto';

/** The compiled simulator every shim runs. */
export function simulatorEntry(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('lab: cannot find the project root (package.json)');
    dir = up;
  }
  return path.join(dir, 'dist/lab/sim/main.js');
}

/** Another compiled lab process beside the simulator (`listeners.js`, `boot.js`): tests load the TypeScript sources. */
export function labEntry(file: string): string {
  return path.join(path.dirname(simulatorEntry()), '..', file);
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function writeShim(file: string, labDir: string, node: string, tool: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(
    file,
    `#!/bin/sh\nLAB_DIR=${q(labDir)} LAB_NODE=${q(node)} exec ${q(process.execPath)} ${q(simulatorEntry())} ${tool} "$@"\n`,
    { mode: 0o755 },
  );
}

export function generateId(address: string): string {
  // go-dqlite derives a joining node's ID from its address; keep it within int64 like real IDs.
  return (BigInt('0x' + createHash('sha256').update(address + Math.random()).digest('hex').slice(0, 16)) & 0x7fffffffffffffffn).toString();
}

/** Snap layout for one revision: $SNAP with the dqlite client, and $SNAP_DATA with args, certs, credentials, locks. */
export function installSnapBinaries(labDir: string, node: string, revision: number): void {
  writeShim(path.join(snapPaths(labDir, node).snap, String(revision), 'bin/dqlite'), labDir, node, 'dqlite');
}

export function installRevision(labDir: string, node: string, revision: number): void {
  const p = snapPaths(labDir, node);
  installSnapBinaries(labDir, node, revision);
  const data = path.join(p.snapData, String(revision));
  for (const d of ['args/traefik', 'credentials', 'certs', 'var/lock', 'var/kubernetes/backend']) {
    fs.mkdirSync(path.join(data, d), { recursive: true });
  }
  const files: Record<string, string> = {
    'args/ha-conf': 'failure-domain=1\n',
    'args/cluster-agent': '--bind 0.0.0.0:25000\n--keyfile ${SNAP_DATA}/certs/server.key\n--certfile ${SNAP_DATA}/certs/server.crt\n--timeout 240\n',
    'args/k8s-dqlite': '--storage-dir=${SNAP_DATA}/var/kubernetes/backend/\n--listen=unix://${SNAP_DATA}/var/kubernetes/backend/kine.sock:12379\n',
    'args/kubelet': '--kubeconfig=${SNAP_DATA}/credentials/kubelet.config\n--node-labels="microk8s.io/cluster=true,node.kubernetes.io/microk8s-controlplane=microk8s-controlplane"\n',
    'args/apiserver-proxy': '--traefik-config ${SNAP_DATA}/args/traefik/traefik.yaml\n--kubeconfig ${SNAP_DATA}/credentials/kubelet.config\n--refresh-interval 30s\n',
    'credentials/cluster-tokens.txt': '',
    'credentials/client.config': 'apiVersion: v1\nkind: Config\n',
    'var/lock/ha-cluster': '',
    'var/lock/no-apiserver-proxy': '',
  };
  for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(data, f), text);
}

export function setCurrent(dir: string, revision: number): void {
  const link = path.join(dir, 'current');
  fs.rmSync(link, { force: true });
  fs.symlinkSync(String(revision), link);
}

/** `withSudoShim`: a lab without root stands in for sudo with a marking shim; with root, nodes use the real sudo. */
export function nodeShims(labDir: string, node: string, withSudoShim = true): void {
  const p = snapPaths(labDir, node);
  writeShim(path.join(p.snapBin, 'microk8s'), labDir, node, 'microk8s');
  const bin = path.join(labDir, 'nodes', node, 'bin');
  writeShim(path.join(bin, 'microk8s'), labDir, node, 'microk8s');
  writeShim(path.join(bin, 'snap'), labDir, node, 'snap');
  if (withSudoShim) fs.writeFileSync(path.join(bin, 'sudo'), SUDO_SHIM, { mode: 0o755 });
  fs.writeFileSync(path.join(bin, 'nc'), ncShim(labDir, node), { mode: 0o755 });
  writeShim(path.join(bin, 'reboot'), labDir, node, 'reboot');
  writeShim(path.join(bin, 'shutdown'), labDir, node, 'shutdown');
  fs.writeFileSync(path.join(bin, 'systemctl'), systemctlShim(labDir, node), { mode: 0o755 });
  // Only the tools behind backup/copy/delete invariants: shell start-up files use cat, ls and mkdir a lot.
  for (const tool of ['tar', 'cp', 'rm', 'mv', 'sha256sum']) {
    const real = ['/usr/bin', '/bin'].map((d) => path.join(d, tool)).find((f) => fs.existsSync(f));
    if (!real) continue;
    fs.writeFileSync(path.join(bin, tool), journalingWrapper(labDir, node, tool, real), { mode: 0o755 });
  }
}

/**
 * The lab's sudo: passwordless (`NOPASSWD: ALL`), and it marks what it runs as root the way sudo does (SUDO_USER,
 * SUDO_UID, SUDO_GID, SUDO_COMMAND, USER=LOGNAME=root; the process keeps the lab user's uid). The simulator refuses
 * root-only commands without that mark (`Sim.root`). `-u` another user runs the command unmarked; no command prints
 * sudo's usage (exit 1); `-v`/`-k`/`-K` alone exit 0; `-l` lists NOPASSWD: ALL; `VAR=value` is exported; an unknown
 * command gives `sudo: X: command not found`, exit 1.
 */
const SUDO_SHIM = [
  '#!/bin/sh',
  'target=root',
  'action=run',
  'while [ $# -gt 0 ]; do',
  '  case "$1" in',
  '    -u|--user) target=$2; shift 2 ;;',
  '    -u*) target=${1#-u}; shift ;;',
  '    --user=*) target=${1#--user=}; shift ;;',
  '    -h) if [ $# -eq 1 ]; then action=help; shift; else shift 2; fi ;;',
  '    -g|-C|-D|-p|-r|-t|-U|-T|-R) shift 2 ;;',
  '    -v|--validate|-k|--reset-timestamp|-K|--remove-timestamp) action=none; shift ;;',
  '    -l|--list) action=list; shift ;;',
  '    -V|--version) action=version; shift ;;',
  '    --) shift; break ;;',
  '    -*) shift ;;',
  '    *) break ;;',
  '  esac',
  'done',
  'me=${USER:-$(id -un)}',
  'if [ $# -eq 0 ]; then',
  '  case "$action" in',
  '    none) exit 0 ;;',
  '    list) printf \'User %s may run the following commands on %s:\\n    (ALL : ALL) NOPASSWD: ALL\\n\' "$me" "$(hostname)"; exit 0 ;;',
  '    version) echo \'Sudo version 1.9.9\'; exit 0 ;;',
  '  esac',
  '  cat >&2 <<\'EOF\'',
  'usage: sudo -h | -K | -k | -V',
  'usage: sudo -v [-ABkNnS] [-g group] [-h host] [-p prompt] [-u user]',
  'usage: sudo -l [-ABkNnS] [-g group] [-h host] [-p prompt] [-U user]',
  '            [-u user] [command [arg ...]]',
  'usage: sudo [-ABbEHkNnPS] [-r role] [-t type] [-C num] [-D directory]',
  '            [-g group] [-h host] [-p prompt] [-R directory] [-T timeout]',
  '            [-u user] [VAR=value] [-i | -s] [command [arg ...]]',
  'usage: sudo -e [-ABkNnS] [-r role] [-t type] [-C num] [-D directory]',
  '            [-g group] [-h host] [-p prompt] [-R directory] [-T timeout]',
  '            [-u user] file ...',
  'EOF',
  '  [ "$action" = help ] && exit 0',
  '  exit 1',
  'fi',
  'while [ $# -gt 0 ]; do',
  '  case "$1" in',
  '    [A-Za-z_]*=*) export "$1"; shift ;;',
  '    *) break ;;',
  '  esac',
  'done',
  'if ! command -v "$1" >/dev/null 2>&1; then',
  '  echo "sudo: $1: command not found" >&2',
  '  exit 1',
  'fi',
  'if [ "$target" = root ] || [ "$target" = \'#0\' ]; then',
  '  if [ -n "${SUDO_UID:-}" ] && [ "$me" = root ]; then',
  '    SUDO_USER=root SUDO_UID=0 SUDO_GID=0',
  '  else',
  '    SUDO_USER=$me SUDO_UID=$(id -u) SUDO_GID=$(id -g)',
  '  fi',
  '  SUDO_COMMAND="$(command -v "$1") $(shift; echo "$@")"',
  '  SUDO_COMMAND=${SUDO_COMMAND% }',
  '  USER=root LOGNAME=root',
  '  export SUDO_USER SUDO_UID SUDO_GID SUDO_COMMAND USER LOGNAME',
  'fi',
  'exec "$@"',
  '',
].join('\n');

/**
 * `nc -z -w N HOST PORT` (either flag order) is answered by the simulator from the lab's truth (sim/network.ts):
 * lab addresses are loopback aliases where nothing listens on 25000/19001/16443. Anything else runs the real nc.
 */
function ncShim(labDir: string, node: string): string {
  return [
    '#!/bin/sh',
    'if [ $# -eq 5 ] && { { [ "$1" = -z ] && [ "$2" = -w ]; } || { [ "$1" = -w ] && [ "$3" = -z ]; }; }; then',
    `  LAB_DIR=${q(labDir)} LAB_NODE=${q(node)} exec ${q(process.execPath)} ${q(simulatorEntry())} nc "$@"`,
    'fi',
    'for real in /usr/bin/nc /bin/nc /usr/bin/netcat /bin/netcat; do',
    '  if [ -x "$real" ]; then exec "$real" "$@"; fi',
    'done',
    'echo "nc: command not found" >&2',
    'exit 127',
    '',
  ].join('\n');
}

/** `systemctl reboot` is the simulator's (sim/reboot.ts); anything else runs the real systemctl. */
function systemctlShim(labDir: string, node: string): string {
  return [
    '#!/bin/sh',
    'if [ "$1" = reboot ]; then',
    `  LAB_DIR=${q(labDir)} LAB_NODE=${q(node)} exec ${q(process.execPath)} ${q(simulatorEntry())} systemctl "$@"`,
    'fi',
    'for real in /usr/bin/systemctl /bin/systemctl; do',
    '  if [ -x "$real" ]; then exec "$real" "$@"; fi',
    'done',
    'echo "systemctl: command not found" >&2',
    'exit 127',
    '',
  ].join('\n');
}

/** A thin pass-through that runs the real tool and appends one journal line (for backup/copy invariants). */
function journalingWrapper(labDir: string, node: string, tool: string, real: string): string {
  const escape = String.raw`sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' | tr '\n\r\t' '   '`;
  return [
    '#!/bin/sh',
    's=$(date +%s%3N)',
    `${q(real)} "$@"`,
    'rc=$?',
    'e=$(date +%s%3N)',
    `j='"${tool}"'`,
    'for a in "$@"; do',
    `  a=$(printf '%s' "$a" | ${escape})`,
    String.raw`  j="$j,\"$a\""`,
    'done',
    String.raw`printf '{"t":"%s","node":"${node}","argv":[%s],"exit":%d,"ms":%d}\n' "$(date -u -d @$((s/1000)) +%Y-%m-%dT%H:%M:%S).$(printf %03d $((s%1000)))Z" "$j" "$rc" "$((e-s))" >> ` +
      q(path.join(labDir, 'journal.jsonl')),
    'exit $rc',
    '',
  ].join('\n');
}

function emptyCluster(s: LabState, epoch = newEpoch()): Cluster {
  s.seq += 1;
  return {
    id: `c${s.seq}`,
    epoch,
    term: 1,
    index: 1000 + Math.floor(Math.random() * 9000),
    members: [],
    leader: null,
    rebalanceAt: null,
    available: true,
    k8sNodes: [],
    deployments: [],
    pods: [],
    pdbs: [],
    recovery: null,
  };
}

export function openBytes(s: LabState): number {
  return s.profile === 'realistic' ? 8 * 1024 * 1024 : 64 * 1024;
}

function setLocks(labDir: string, node: string, worker: boolean, clustered: boolean): void {
  const locks = snapPaths(labDir, node).locks;
  const set = (f: string, on: boolean) => (on ? fs.writeFileSync(path.join(locks, f), '') : fs.rmSync(path.join(locks, f), { force: true }));
  set('ha-cluster', true);
  set('no-apiserver-proxy', !worker);
  set('clustered.lock', worker);
  set('no-k8s-dqlite', worker);
  set('no-cert-reissue', clustered);
}
export { setLocks };

function kubeSystem(c: Cluster, node: string, now: number): void {
  addDeployment(c, { ns: 'kube-system', name: 'coredns', replicas: 1 }, [node], now);
  addDeployment(c, { ns: 'kube-system', name: 'calico-kube-controllers', replicas: 1 }, [node], now);
  ensureDaemonSets(c, now);
}

/** A node on its own: a one-member dqlite at 127.0.0.1:19001 with the bootstrap ID, as after install or leave. */
export function startAlone(labDir: string, s: LabState, n: NodeState, now: number): Cluster {
  const c = emptyCluster(s);
  const member: Member = { id: BOOTSTRAP_ID, address: LOCAL_DQLITE, role: VOTER, node: n.name };
  c.members.push(member);
  c.leader = member.address;
  c.k8sNodes.push({ name: n.name, created: now, cordoned: false, worker: false });
  kubeSystem(c, n.name, now);
  s.clusters[c.id] = c;
  n.cluster = c.id;
  n.worker = false;
  n.dqlite = { id: BOOTSTRAP_ID, address: LOCAL_DQLITE, ok: true, error: null };
  const p = snapPaths(labDir, n.name);
  writeFreshBackend(
    p.backend,
    { member, members: c.members, epoch: c.epoch, term: c.term, index: c.index, now, openBytes: openBytes(s), origin: n.name },
    readFailureDomain(p.haConf),
  );
  setLocks(labDir, n.name, false, false);
  return c;
}

/** The `--formed` lab: control planes in one HA dqlite cluster (settled roles), workers joined, a workload with a PDB. */
export function startFormed(labDir: string, s: LabState, nodes: NodeState[], now: number): Cluster {
  const c = emptyCluster(s);
  const cps = nodes.filter((n) => n.role === 'controlplane');
  cps.forEach((n, i) => {
    const address = `${n.address}:${DQLITE_PORT}`;
    const id = i === 0 ? BOOTSTRAP_ID : generateId(address);
    const role = cps.length < 3 ? (i === 0 ? VOTER : SPARE) : i < 3 ? VOTER : i < 6 ? STANDBY : SPARE;
    c.members.push({ id, address, role, node: n.name });
    n.dqlite = { id, address, ok: true, error: null };
  });
  c.leader = c.members[0]?.address ?? null;
  const seedCrt = cps[0] ? path.join(snapPaths(labDir, cps[0].name).backend, 'cluster.crt') : undefined;
  for (const n of nodes) {
    n.cluster = c.id;
    n.worker = n.role === 'worker';
    c.k8sNodes.push({ name: n.name, created: now, cordoned: false, worker: n.worker });
    const p = snapPaths(labDir, n.name);
    if (seedCrt && n !== cps[0]) {
      fs.copyFileSync(seedCrt, path.join(p.backend, 'cluster.crt'));
      fs.copyFileSync(seedCrt.replace(/\.crt$/, '.key'), path.join(p.backend, 'cluster.key'));
      copyCaFiles(labDir, cps[0].name, n.name); // every node of a formed cluster holds the first one's CA
    }
    const member = c.members.find((m) => m.node === n.name);
    if (member) {
      writeFreshBackend(
        p.backend,
        { member, members: c.members, epoch: c.epoch, term: c.term, index: c.index, now, openBytes: openBytes(s), origin: n.name },
        readFailureDomain(p.haConf),
      );
    } else {
      n.dqlite = { id: '', address: '', ok: true, error: null };
      fs.rmSync(p.backend, { recursive: true, force: true });
      fs.mkdirSync(p.backend, { recursive: true });
    }
    setLocks(labDir, n.name, n.worker, true);
  }
  const names = nodes.map((n) => n.name);
  addDeployment(c, { ns: 'kube-system', name: 'coredns', replicas: 1 }, names, now);
  addDeployment(c, { ns: 'kube-system', name: 'calico-kube-controllers', replicas: 1 }, names.slice(1).concat(names[0]), now);
  addDeployment(c, { ns: 'default', name: 'microbot', replicas: Math.min(3, names.length + 1) }, names, now);
  c.pdbs.push({ ns: 'default', name: 'microbot', app: 'microbot', minAvailable: 1 });
  ensureDaemonSets(c, now);
  s.clusters[c.id] = c;
  return c;
}

export { nodeRoot };
