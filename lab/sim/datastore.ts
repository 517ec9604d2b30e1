/**
 * The Kubernetes objects are the dqlite data (behaviour reference §7: kine keeps them in the raft log), so a copy of a
 * backend directory must carry them. The lab keeps a cluster's objects in state.json and also writes them into the
 * raft files: every running member's open segment `open-1` holds the current objects on the line after its header
 * (`LABDATA <base64 of JSON>`), rewritten when they change, and a `.reconfigure` writes them into the new snapshot.
 * A backup (a tar of the backend) therefore holds the objects of its moment, and a backend restored into another
 * cluster brings them back there (sim/dqlite.ts): a restore drill's proof reads what the backup really held.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { OPEN_SEGMENT, SNAPSHOT, snapPaths } from './backend';
import { type Cluster, type Deployment, type K8sNode, type LabState, type Pdb, ensureDaemonSets, newPod, servicesUp } from './model';

/** What the datastore holds of a cluster: its Node objects, Deployments and PodDisruptionBudgets (pods follow). */
export interface StoredObjects {
  nodes: K8sNode[];
  deployments: Deployment[];
  pdbs: Pdb[];
}

const MARK = 'LABDATA ';
/** The header line is at most this long; the data line follows it. */
const HEADER_MAX = 200;

export function storedObjects(c: Cluster): StoredObjects {
  return { nodes: c.k8sNodes, deployments: c.deployments, pdbs: c.pdbs };
}

function hashOf(o: StoredObjects): string {
  return createHash('sha256').update(JSON.stringify(o)).digest('hex').slice(0, 16);
}

/**
 * Write the objects into a raft file in place, after its `LABRAFT` header: owner and mode stay as they are (the
 * backend is root's, group microk8s). False when the file is missing or not a lab raft file.
 */
export function writeObjects(file: string, o: StoredObjects): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r+');
  } catch {
    return false;
  }
  try {
    const size = fs.fstatSync(fd).size;
    const head = Buffer.alloc(Math.min(size, 1 << 18));
    fs.readSync(fd, head, 0, head.length, 0);
    const headerEnd = head.subarray(0, HEADER_MAX).indexOf(0x0a);
    if (headerEnd < 0 || !head.subarray(0, headerEnd).toString('latin1').startsWith('LABRAFT ')) return false;
    const line = Buffer.from(`${MARK}${Buffer.from(JSON.stringify(o)).toString('base64')}\n`);
    // Blank out a longer data line left by an earlier write, so nothing of it reads as data.
    const old = head.subarray(headerEnd + 1);
    const oldEnd = old.subarray(0, MARK.length).toString('latin1') === MARK ? old.indexOf(0x0a) + 1 : 0;
    const body = Buffer.alloc(Math.max(line.length, oldEnd));
    line.copy(body);
    fs.writeSync(fd, body, 0, body.length, headerEnd + 1);
    return true;
  } finally {
    fs.closeSync(fd);
  }
}

/** The objects a raft file holds, if it holds a data line. */
function objectsIn(file: string): StoredObjects | undefined {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const head = Buffer.alloc(Math.min(fs.fstatSync(fd).size, 1 << 18));
      fs.readSync(fd, head, 0, head.length, 0);
      const headerEnd = head.indexOf(0x0a);
      const rest = head.subarray(headerEnd + 1);
      if (headerEnd < 0 || rest.subarray(0, MARK.length).toString('latin1') !== MARK) return undefined;
      const end = rest.indexOf(0x0a);
      if (end < 0) return undefined;
      const o = JSON.parse(Buffer.from(rest.subarray(MARK.length, end).toString('latin1'), 'base64').toString('utf8')) as StoredObjects;
      return Array.isArray(o?.nodes) ? { nodes: o.nodes, deployments: o.deployments ?? [], pdbs: o.pdbs ?? [] } : undefined;
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

/** The newest objects in a backend directory: the open segments (the last entries), else the newest snapshot. */
export function readObjects(dir: string): StoredObjects | undefined {
  const names = fs.existsSync(dir) ? fs.readdirSync(dir) : [];
  const index = (f: string) => Number(f.split('-')[2] ?? 0);
  const snapshots = names.filter((f) => SNAPSHOT.test(f)).sort((a, b) => index(b) - index(a));
  for (const f of [...names.filter((n) => OPEN_SEGMENT.test(n)).sort(), ...snapshots]) {
    const o = objectsIn(path.join(dir, f));
    if (o) return o;
  }
  return undefined;
}

/**
 * Keep every running member's `open-1` in line with its cluster's objects, as dqlite appends each change to the
 * log of the members that are up. A stopped or failed member keeps what it had (a backup of it holds that).
 * Files the caller may not write (a command run as the lab's unprivileged user) are left for a later command.
 */
export function syncObjects(labDir: string, s: LabState, now: number): void {
  for (const c of Object.values(s.clusters)) {
    const o = storedObjects(c);
    const hash = hashOf(o);
    for (const m of c.members) {
      const n = m.node ? s.nodes[m.node] : undefined;
      if (!n || n.cluster !== c.id || n.worker || !servicesUp(n, now) || !n.dqlite.ok || n.dqlite.dataHash === hash) continue;
      if (writeObjects(path.join(snapPaths(labDir, n.name).backend, 'open-1'), o)) n.dqlite.dataHash = hash;
    }
  }
}

/**
 * A cluster whose log now comes from another cluster's backup (`.reconfigure` of restored files): its objects are
 * what that data holds (nothing when it holds none). The kubelets of the cluster's own machines register their Node
 * objects again, created now: they are not the backup's.
 */
export function adoptObjects(s: LabState, c: Cluster, o: StoredObjects | undefined, now: number): void {
  c.k8sNodes = (o?.nodes ?? []).map((k) => ({ ...k }));
  c.deployments = (o?.deployments ?? []).map((d) => ({ ...d }));
  c.pdbs = (o?.pdbs ?? []).map((p) => ({ ...p }));
  for (const n of Object.values(s.nodes)) {
    if (n.cluster === c.id && !c.k8sNodes.some((k) => k.name === n.name)) c.k8sNodes.push({ name: n.name, created: now, cordoned: false, worker: n.worker });
  }
  c.pods = [];
  for (const d of c.deployments) for (let i = 0; i < d.replicas; i++) c.pods.push(newPod(c, d, 'ReplicaSet', null, now));
  ensureDaemonSets(c, now);
}
