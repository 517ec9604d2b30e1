/**
 * The dqlite backend directory as the quorum-recovery procedure sees it (behaviour reference §7): which files are
 * raft data (segments, snapshots, metadata), how new each node's data is, which node is the template, and the
 * survivors-only `cluster.yaml` (rendered by ./dqlite, which also builds `.reconfigure`). No I/O here.
 */
import { andThen, command } from '../../common/shell';
import { renderClusterYaml } from './dqlite';
import { type DqliteMember, type DqliteRole } from '../../common/dqlite';

export type BackendFileKind =
  | 'closed-segment'
  | 'open-segment'
  | 'snapshot'
  | 'snapshot-meta'
  | 'metadata'
  | 'cluster-yaml'
  | 'info-yaml'
  | 'other';

export interface BackendFile {
  name: string;
  size: number;
  /** Present when the listing was taken with checksums. */
  sha256?: string;
}

const CLOSED = /^(\d{16})-(\d{16})$/;
const OPEN = /^open-\d+$/;
const SNAPSHOT = /^snapshot-(\d+)-(\d+)-(\d+)$/;
const SNAPSHOT_META = /^snapshot-\d+-\d+-\d+\.meta$/;

export function classifyBackendFile(name: string): BackendFileKind {
  if (CLOSED.test(name)) return 'closed-segment';
  if (OPEN.test(name)) return 'open-segment';
  if (SNAPSHOT.test(name)) return 'snapshot';
  if (SNAPSHOT_META.test(name)) return 'snapshot-meta';
  if (name === 'metadata1' || name === 'metadata2') return 'metadata';
  if (name === 'cluster.yaml') return 'cluster-yaml';
  if (name === 'info.yaml') return 'info-yaml';
  return 'other';
}

const LISTING_SPLIT = '--- sha256 ---';

/**
 * List the regular files directly in `dir` with their sizes and, optionally, sha256 (one line, run as root:
 * `backend/` is 0660 root). Sockets such as `kine.sock` are not regular files and are left out.
 */
export function backendListingCommand(dir: string, withChecksums: boolean): string {
  const sizes = command('find', dir, '-maxdepth', '1', '-type', 'f', '-printf', '%s %f\\n');
  if (!withChecksums) return sizes;
  const sums = command('find', dir, '-maxdepth', '1', '-type', 'f', '-exec', 'sha256sum', '{}', '+');
  return andThen(sizes, command('echo', LISTING_SPLIT), sums);
}

/** Parse `backendListingCommand` output; names sorted. */
export function parseBackendListing(stdout: string): BackendFile[] {
  const [sizePart, sumPart = ''] = stdout.split(`${LISTING_SPLIT}\n`);
  const files = new Map<string, BackendFile>();
  for (const line of sizePart.split('\n')) {
    const m = /^(\d+) (.+)$/.exec(line.trim());
    if (m) files.set(m[2], { name: m[2], size: Number(m[1]) });
  }
  for (const line of sumPart.split('\n')) {
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line.trim());
    if (!m) continue;
    const name = m[2].slice(m[2].lastIndexOf('/') + 1);
    const f = files.get(name);
    if (f) f.sha256 = m[1];
  }
  return [...files.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** How new a node's raft data is: compare term first, then index. */
export interface RaftPosition {
  term: number;
  index: number;
  /** Human-readable evidence: the newest snapshot and the last closed segment. */
  evidence: string;
}

/**
 * The newest raft entry a backend's file names prove: the highest snapshot term, and the highest index covered by
 * a snapshot or a closed segment. Open segments carry no index range in their names and do not count.
 */
export function raftPosition(files: Array<Pick<BackendFile, 'name'>>): RaftPosition {
  let snap: { term: number; index: number; name: string } | undefined;
  let lastSegment: { end: number; name: string } | undefined;
  let open = 0;
  for (const { name } of files) {
    const s = SNAPSHOT.exec(name);
    if (s) {
      const term = Number(s[1]);
      const index = Number(s[2]);
      if (!snap || term > snap.term || (term === snap.term && index > snap.index)) snap = { term, index, name };
    }
    const c = CLOSED.exec(name);
    if (c && (!lastSegment || Number(c[2]) > lastSegment.end)) lastSegment = { end: Number(c[2]), name };
    if (OPEN.test(name)) open++;
  }
  const term = snap?.term ?? 0;
  const index = Math.max(snap?.index ?? 0, lastSegment?.end ?? 0);
  const evidence = [
    snap ? `newest snapshot ${snap.name} (term ${snap.term}, index ${snap.index})` : 'no snapshot',
    lastSegment ? `last closed segment ${lastSegment.name} (ends at index ${lastSegment.end})` : 'no closed segment',
    `${open} open segment${open === 1 ? '' : 's'}`,
  ].join('; ');
  return { term, index, evidence };
}

export function compareRaftPositions(a: RaftPosition, b: RaftPosition): number {
  return a.term !== b.term ? a.term - b.term : a.index - b.index;
}

export interface TemplateChoice {
  template: string;
  /** One line per candidate, then the reason for the choice. */
  evidence: string[];
}

/**
 * The template node: the candidate with the newest data (highest term, then index; inventory order breaks ties),
 * or the operator's override. The evidence is shown either way.
 */
export function chooseTemplate(candidates: Array<{ node: string; position: RaftPosition }>, override?: string): TemplateChoice {
  if (candidates.length === 0) throw new Error('no survivor to choose a template from');
  let best = candidates[0];
  for (const c of candidates.slice(1)) if (compareRaftPositions(c.position, best.position) > 0) best = c;
  const evidence = candidates.map((c) => `${c.node}: term ${c.position.term}, index ${c.position.index} (${c.position.evidence})`);
  if (override) {
    const chosen = candidates.find((c) => c.node === override);
    if (!chosen) throw new Error(`--template ${override} is not a survivor (survivors: ${candidates.map((c) => c.node).join(', ')})`);
    const behind = compareRaftPositions(chosen.position, best.position) < 0;
    evidence.push(
      `template ${override} chosen by the operator (--template)` +
        (behind ? `; WARNING: ${best.node} has newer data, entries after term ${chosen.position.term} index ${chosen.position.index} are lost` : ''),
    );
    return { template: override, evidence };
  }
  evidence.push(`template ${best.node}: newest raft data (highest term, then highest index)`);
  return { template: best.node, evidence };
}

/** Roles for the rebuilt cluster: at most 3 voters, then up to 3 stand-bys, the rest spares. */
export function rolesFor(count: number): DqliteRole[] {
  return Array.from({ length: count }, (_, i) => (i < 3 ? 'voter' : i < 6 ? 'stand-by' : 'spare'));
}

/** The survivors-only `cluster.yaml`, ID and Address exactly as each survivor's own `info.yaml` has them. */
export function survivorsClusterYaml(survivors: Array<Pick<DqliteMember, 'id' | 'address'>>): string {
  const roles = rolesFor(survivors.length);
  return renderClusterYaml(survivors.map((s, i) => ({ id: s.id, address: s.address, role: roles[i] })));
}

/** Does `info` appear in `cluster` with the same ID and Address (go-dqlite refuses to start otherwise)? */
export function infoAgreesWithCluster(info: Pick<DqliteMember, 'id' | 'address'>, cluster: DqliteMember[]): boolean {
  return cluster.some((m) => m.id === info.id && m.address === info.address);
}

/**
 * A node's own identity and membership in its backend. Kept when another machine's raft data is restored onto it (a
 * restore drill), as a quorum recovery keeps every survivor's own info.yaml and certificate pair.
 */
export function isNodeIdentityFile(name: string): boolean {
  return ['info.yaml', 'cluster.yaml', 'cluster.crt', 'cluster.key', 'failure-domain'].includes(name);
}

/** Files that hold the datastore's entries: a backup with none of them holds no data (canonical/microk8s#4259). */
export function holdsRaftEntries(name: string): boolean {
  return ['closed-segment', 'open-segment', 'snapshot'].includes(classifyBackendFile(name));
}

/** Raft files a follower must lose before the template's are copied in (behaviour reference §7 step 6). */
export function isFollowerLeftover(name: string): boolean {
  return ['closed-segment', 'open-segment', 'snapshot', 'snapshot-meta', 'metadata'].includes(classifyBackendFile(name));
}

/** Files copied from the template to every other survivor: cluster.yaml, snapshots with .meta, closed segments. */
export function isCopiedFromTemplate(name: string): boolean {
  return ['cluster-yaml', 'closed-segment', 'snapshot', 'snapshot-meta'].includes(classifyBackendFile(name));
}
