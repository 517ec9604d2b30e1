/**
 * A node's snap layout and its real dqlite backend files. Every raft file (closed segment, open segment,
 * snapshot, .meta) starts with a header naming its data generation (epoch) and the node that wrote it, followed
 * by random bytes, so copies can be verified by content and leftovers from before a `.reconfigure` are detected.
 * metadata1/2 are 32 bytes (format, version, term, voted_for) with the epoch in voted_for.
 */
import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { Cluster, DqliteRole, LabState, Member } from './model';

export function nodeRoot(labDir: string, node: string): string {
  return path.join(labDir, 'nodes', node, 'root');
}

export function snapPaths(labDir: string, node: string) {
  const root = nodeRoot(labDir, node);
  const snapData = path.join(root, 'var/snap/microk8s');
  const data = path.join(snapData, 'current');
  return {
    root,
    snapBin: path.join(root, 'snap/bin'),
    snap: path.join(root, 'snap/microk8s'),
    snapData,
    common: path.join(snapData, 'common'),
    data,
    backend: path.join(data, 'var/kubernetes/backend'),
    locks: path.join(data, 'var/lock'),
    tokens: path.join(data, 'credentials/cluster-tokens.txt'),
    serverCrt: path.join(data, 'certs/server.crt'),
    haConf: path.join(data, 'args/ha-conf'),
  };
}

export const CLOSED_SEGMENT = /^\d{16}-\d{16}$/;
export const OPEN_SEGMENT = /^open-\d+$/;
export const SNAPSHOT = /^snapshot-\d+-\d+-\d+$/;
export const SNAPSHOT_META = /^snapshot-\d+-\d+-\d+\.meta$/;
export const METADATA = /^metadata[12]$/;

export function isRaftFile(name: string): boolean {
  return [CLOSED_SEGMENT, OPEN_SEGMENT, SNAPSHOT, SNAPSHOT_META, METADATA].some((r) => r.test(name));
}

export function formatMembersYaml(members: Array<{ id: string; address: string; role: number }>): string {
  return members.map((m) => `- ID: ${m.id}\n  Address: ${m.address}\n  Role: ${m.role}\n`).join('');
}

export function formatInfoYaml(m: { id: string; address: string; role: number }): string {
  return `ID: ${m.id}\nAddress: ${m.address}\nRole: ${m.role}\n`;
}

export interface YamlMember {
  id: string;
  address: string;
  role: DqliteRole;
}

function toMember(v: unknown, where: string): YamlMember {
  if (!v || typeof v !== 'object') throw new Error(`${where}: expected a mapping with ID, Address and Role`);
  const o = v as Record<string, unknown>;
  const id = o.ID;
  if (typeof id !== 'bigint' && typeof id !== 'number') throw new Error(`${where}: ID must be an unsigned integer`);
  if (typeof o.Address !== 'string') throw new Error(`${where}: Address must be a string`);
  const role = o.Role === undefined ? 0 : Number(o.Role);
  if (![0, 1, 2].includes(role)) throw new Error(`${where}: Role must be 0, 1 or 2`);
  return { id: BigInt(id).toString(), address: o.Address, role: role as DqliteRole };
}

/** cluster.yaml: a YAML list of {ID, Address, Role}. Key order and style are free, as for go-dqlite. */
export function parseMembersYaml(text: string): YamlMember[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const YAML = require('yaml') as typeof import('yaml');
  const doc = YAML.parse(text, { intAsBigInt: true }) as unknown;
  if (doc === null || doc === undefined) return [];
  if (!Array.isArray(doc)) throw new Error('cluster.yaml must be a YAML list');
  return doc.map((v, i) => toMember(v, `entry ${i}`));
}

export function parseInfoYaml(text: string): YamlMember {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const YAML = require('yaml') as typeof import('yaml');
  return toMember(YAML.parse(text, { intAsBigInt: true }), 'info.yaml');
}

function header(epoch: string, origin: string, name: string): string {
  return `LABRAFT epoch=${epoch} origin=${origin} file=${name}\n`;
}

/** The epoch a raft file belongs to, or undefined for a file that is not one of ours. */
export function epochOf(file: string): string | undefined {
  try {
    const buf = Buffer.alloc(200);
    const fd = fs.openSync(file, 'r');
    const n = fs.readSync(fd, buf, 0, 200, 0);
    fs.closeSync(fd);
    if (METADATA.test(path.basename(file))) return n >= 32 ? buf.subarray(24, 32).toString('hex') : undefined;
    return /^LABRAFT epoch=([0-9a-f]{16}) /.exec(buf.subarray(0, n).toString('latin1'))?.[1];
  } catch {
    return undefined;
  }
}

export function sha256File(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

export interface RaftWrite {
  epoch: string;
  origin: string;
  term: number;
  index: number;
  now: number;
  openBytes: number;
  /** Write only the files a node creates when it starts (open segments, metadata). */
  startOnly?: boolean;
}

function writeMetadata(dir: string, w: RaftWrite): void {
  for (const [i, name] of ['metadata1', 'metadata2'].entries()) {
    const b = Buffer.alloc(32);
    b.writeBigUInt64LE(1n, 0);
    b.writeBigUInt64LE(BigInt(i + 1), 8);
    b.writeBigUInt64LE(BigInt(w.term), 16);
    Buffer.from(w.epoch, 'hex').copy(b, 24);
    fs.writeFileSync(path.join(dir, name), b);
  }
}

function writeOpen(dir: string, w: RaftWrite): void {
  for (let i = 1; i <= 3; i++) {
    const name = `open-${i}`;
    const file = path.join(dir, name);
    fs.writeFileSync(file, header(w.epoch, w.origin, name));
    fs.truncateSync(file, w.openBytes); // preallocated like raft's open segments (sparse here)
  }
}

/** Raft files of one node: two closed segments, a snapshot with its .meta, open segments and metadata. */
export function writeRaftFiles(dir: string, w: RaftWrite): void {
  if (!w.startOnly) {
    // Followers' logs differ in boundaries and snapshot times: names carry per-node jitter.
    const jitter = Math.floor(Math.random() * 40);
    const last = w.index + jitter;
    const pad = (n: number) => String(n).padStart(16, '0');
    const segs = [`${pad(Math.max(1, last - 1999))}-${pad(last - 1000)}`, `${pad(last - 999)}-${pad(last)}`];
    const snap = `snapshot-${w.term}-${last - 500}-${w.now % 1_000_000_000}`;
    for (const name of [...segs, snap, `${snap}.meta`]) {
      fs.writeFileSync(path.join(dir, name), Buffer.concat([Buffer.from(header(w.epoch, w.origin, name)), randomBytes(name.endsWith('.meta') ? 64 : 4096)]));
    }
  }
  writeOpen(dir, w);
  writeMetadata(dir, w);
}

export function removeRaftFiles(dir: string): void {
  for (const f of fs.readdirSync(dir)) if (isRaftFile(f)) fs.rmSync(path.join(dir, f), { force: true });
}

export function newEpoch(): string {
  return randomBytes(8).toString('hex');
}

/** Keep cluster.yaml of running members in line with the leader's view (as go-dqlite does). */
export function syncClusterYamls(labDir: string, s: LabState, c: Cluster, include: (node: string) => boolean): void {
  const text = formatMembersYaml(c.members);
  for (const m of c.members) {
    if (!m.node || !include(m.node) || s.nodes[m.node]?.cluster !== c.id) continue;
    const file = path.join(snapPaths(labDir, m.node).backend, 'cluster.yaml');
    if (fs.existsSync(path.dirname(file))) fs.writeFileSync(file, text);
  }
}

export interface FreshBackend {
  member: { id: string; address: string; role: DqliteRole };
  members: Member[] | YamlMember[];
  epoch: string;
  term: number;
  index: number;
  now: number;
  openBytes: number;
  origin: string;
}

/** Empty a backend dir (keeping cluster.crt/key) and write a node's initial files. */
export function writeFreshBackend(dir: string, b: FreshBackend, failureDomain = '1'): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const f of fs.readdirSync(dir)) {
    if (f !== 'cluster.crt' && f !== 'cluster.key') fs.rmSync(path.join(dir, f), { recursive: true, force: true });
  }
  fs.writeFileSync(path.join(dir, 'info.yaml'), formatInfoYaml(b.member));
  fs.writeFileSync(path.join(dir, 'cluster.yaml'), formatMembersYaml(b.members));
  fs.writeFileSync(path.join(dir, 'failure-domain'), `${failureDomain}\n`);
  writeRaftFiles(dir, { epoch: b.epoch, origin: b.origin, term: b.term, index: b.index, now: b.now, openBytes: b.openBytes });
}

export function readFailureDomain(haConf: string): string {
  try {
    return /failure-domain=(\d+)/.exec(fs.readFileSync(haConf, 'utf8'))?.[1] ?? '1';
  } catch {
    return '1';
  }
}

const sameMember = (a: { id: string; address: string }, b: { id: string; address: string }) => a.id === b.id && a.address === b.address;

/**
 * Would k8s-dqlite on this node start and rejoin its cluster? Judged from the real files. Returns the error
 * the node's k8s-dqlite fails with, or null.
 */
export function judgeBackend(labDir: string, s: LabState, node: string, c: Cluster): string | null {
  const n = s.nodes[node];
  const dir = snapPaths(labDir, node).backend;
  const info = path.join(dir, 'info.yaml');
  const clusterYaml = path.join(dir, 'cluster.yaml');
  if (!fs.existsSync(dir)) return `open ${dir}: no such file or directory`;
  if (fs.existsSync(info) !== fs.existsSync(clusterYaml)) return 'inconsistent info.yaml and cluster.yaml';
  if (!fs.existsSync(info)) return 'inconsistent info.yaml and cluster.yaml';
  let me: YamlMember;
  let listed: YamlMember[];
  try {
    me = parseInfoYaml(fs.readFileSync(info, 'utf8'));
    listed = parseMembersYaml(fs.readFileSync(clusterYaml, 'utf8'));
  } catch (e) {
    return `parse backend yaml: ${(e as Error).message}`;
  }
  const ownAddress = n.dqlite.address;
  if (me.address !== ownAddress) return `address "${me.address}" in info.yaml does not match "${ownAddress}"`;
  if (!listed.some((m) => sameMember(m, me))) return `info.yaml (ID ${me.id}, Address ${me.address}) does not match any entry of cluster.yaml`;
  const files = fs.readdirSync(dir).filter(isRaftFile);
  const r = c.recovery;
  const inRecovery = r && r.members.some((m) => sameMember(m, me)) && !r.rejoined.includes(node);
  if (!inRecovery) {
    const stale = files.filter((f) => epochOf(path.join(dir, f)) !== c.epoch);
    return stale.length ? `raft log of this node does not belong to the cluster's data (stale files: ${stale.sort().join(', ')})` : null;
  }
  const key = (m: { id: string; address: string }) => `${m.id}@${m.address}`;
  const want = new Set(r.members.map(key));
  const have = new Set(listed.map(key));
  if (want.size !== have.size || [...want].some((k) => !have.has(k))) {
    return 'cluster.yaml does not match the membership written by .reconfigure on the template node';
  }
  const problems: string[] = [];
  for (const f of files.sort()) {
    const full = path.join(dir, f);
    if (METADATA.test(f) || OPEN_SEGMENT.test(f)) {
      if (epochOf(full) !== r.epoch) problems.push(`leftover ${f} from before the reconfigure`);
    } else if (!(f in r.files)) problems.push(`leftover ${f} from before the reconfigure`);
    else if (sha256File(full) !== r.files[f]) problems.push(`${f} differs from the template's`);
  }
  for (const f of Object.keys(r.files)) if (!files.includes(f)) problems.push(`missing ${f} (not copied from the template)`);
  return problems.length ? `raft: cannot rejoin after reconfigure: ${problems.join('; ')}` : null;
}

export function manifest(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fs.readdirSync(dir)) {
    if (CLOSED_SEGMENT.test(f) || SNAPSHOT.test(f) || SNAPSHOT_META.test(f)) out[f] = sha256File(path.join(dir, f));
  }
  return out;
}
