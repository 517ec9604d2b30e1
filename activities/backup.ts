/**
 * Backups of a node's dqlite backend directory, kept off the node: `tar` streams through the worker into
 * `<stateDir>/backups/<cluster>/<id>.tar` (+ `<id>.json`). The tar content never enters workflow history; only
 * its id, path, size and checksums do. A backup is kept only after reading it back and matching it to the node.
 */
import { activityInfo, ApplicationFailure } from '@temporalio/activity';
import { createHash } from 'crypto';
import * as fs from 'fs';
import { readLocalFileSync } from '../local/files';
import * as path from 'path';
import { Writable } from 'stream';
import type { FileChange } from '../common/audit';
import { FailureType } from '../common/constants';
import { nodePaths } from '../common/inventory';
import { readArchive, sha256OfFile } from './backup-archive';
import type { ArchiveEntry, BackupNodeInput, BackupNodeResult, BackupRecord, RestoreNodeBackupInput, RestoreNodeBackupResult } from '../common/backup';
import { type ActivityDeps, findNode, openNode } from './deps';
import { backendListingCommand, type BackendFile, classifyBackendFile, isNodeIdentityFile, parseBackendListing } from './microk8s/raft';
import type { NodeSession } from './ssh/types';
import { copyKeepingCommand, dirExistsCommand, makeDirCommand, moveCommand, removeFilesCommand, removeTreeCommand, tarDirectoryCommand, untarIntoCommand } from './microk8s/files';
import { getNodesCommand, parseNodes } from './microk8s/kubectl';
import { stoppedLockCommand } from './microk8s/services';
import { UnexpectedOutputError } from './microk8s/unexpected-output';
import { parseSnapList, snapListCommand } from './microk8s/snap';

export const BACKUP_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

export function backupDir(stateDir: string, cluster: string): string {
  return path.join(stateDir, 'backups', cluster);
}

function precondition(message: string): never {
  throw ApplicationFailure.create({ type: FailureType.PreconditionFailed, message, nonRetryable: true });
}

/** Is microk8s stopped on this node (`microk8s stop` leaves `stopped.lock`)? */
export async function isStopped(sh: NodeSession): Promise<boolean> {
  const r = await sh.run(stoppedLockCommand(sh.node));
  return r.exitCode === 0;
}

/**
 * What a restore needs to know besides the files, read best-effort (a backup is never refused for these): the snap
 * channel, and on a running node the Node objects the API lists right now, which the copy that follows holds.
 */
async function describeNode(sh: NodeSession, stopped: boolean): Promise<{ channel?: string; kubernetesNodes?: string[] }> {
  const out: { channel?: string; kubernetesNodes?: string[] } = {};
  try {
    const snap = await sh.run(snapListCommand(), { timeoutMs: 20_000 });
    if (snap.exitCode === 0) out.channel = parseSnapList(snap.stdout).tracking;
    if (!stopped) {
      const k = await sh.run(getNodesCommand(sh.node), { timeoutMs: 20_000 });
      if (k.exitCode === 0) out.kubernetesNodes = parseNodes(k.stdout).map((n) => n.name).sort();
    }
  } catch (err) {
    if (err instanceof UnexpectedOutputError) return out;
    throw err;
  }
  return out;
}

/** The backend's regular files with sizes and sha256, or undefined when the directory does not exist. */
export async function listBackend(sh: NodeSession, dir: string, withChecksums = true): Promise<BackendFile[] | undefined> {
  const exists = await sh.run(dirExistsCommand(dir));
  if (exists.exitCode !== 0) return undefined;
  const r = await sh.check(backendListingCommand(dir, withChecksums));
  return parseBackendListing(r.stdout);
}

/** On a running node these must be in a hot backup unchanged; raft files may legitimately move on meanwhile. */
const ALWAYS_PRESENT = ['cluster.crt', 'cluster.key', 'info.yaml'];
const IMMUTABLE_KINDS = ['closed-segment', 'snapshot', 'snapshot-meta'];

/**
 * Why an archive does not match the node's files, or undefined when it does. `exact` (node stopped): the same
 * files with the same sha256. Otherwise: the identity files are present and unchanged, and any closed segment or
 * snapshot present on both sides is identical.
 */
export function archiveMismatch(entries: ArchiveEntry[], listing: BackendFile[], exact: boolean): string | undefined {
  const inArchive = new Map(entries.map((e) => [e.path, e]));
  for (const f of listing) {
    const e = inArchive.get(f.name);
    const required = exact || ALWAYS_PRESENT.includes(f.name);
    if (!e) {
      if (required) return `${f.name} is on the node but not in the archive`;
      continue;
    }
    if (!(required || IMMUTABLE_KINDS.includes(classifyBackendFile(f.name)))) continue;
    if (f.sha256 && e.sha256 !== f.sha256) return `${f.name}: sha256 in the archive ${e.sha256} differs from the node's ${f.sha256}`;
  }
  if (exact) {
    const names = new Set(listing.map((f) => f.name));
    const extra = entries.find((e) => !names.has(e.path));
    if (extra) return `${extra.path} is in the archive but not on the node`;
  }
  return undefined;
}

function readRecord(file: string): BackupRecord | undefined {
  try {
    return JSON.parse(readLocalFileSync(file, 'backup record').data.toString('utf8')) as BackupRecord;
  } catch {
    return undefined;
  }
}

/** The clusters with a backups directory, by name (only names the engine could have written). */
export function listBackupClusters(stateDir: string): string[] {
  const root = path.join(stateDir, 'backups');
  if (!fs.existsSync(root)) return [];
  return fs
    .readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(d.name))
    .map((d) => d.name)
    .sort();
}

/** Every backup of a cluster, newest first. */
export function listBackupRecords(stateDir: string, cluster: string): BackupRecord[] {
  const dir = backupDir(stateDir, cluster);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => readRecord(path.join(dir, f)))
    .filter((r): r is BackupRecord => !!r && fs.existsSync(r.path))
    .sort((a, b) => (a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1));
}

/** One backup of the cluster by id, or its newest for `latest` (what `--backup` takes); undefined when there is none. */
export function findBackupRecord(stateDir: string, cluster: string, backup: string): BackupRecord | undefined {
  const records = listBackupRecords(stateDir, cluster);
  return backup === 'latest' ? records[0] : records.find((r) => r.id === backup);
}

/** Keep the newest `keep` backups of the cluster, always counting the one just made (`protect`) among them. */
function prune(stateDir: string, cluster: string, keep: number, protect: string): string[] {
  const records = listBackupRecords(stateDir, cluster);
  const others = records.filter((r) => r.id !== protect);
  const doomed = others.slice(Math.max(0, keep - 1));
  for (const r of doomed) {
    fs.rmSync(r.path, { force: true });
    fs.rmSync(path.join(backupDir(stateDir, cluster), `${r.id}.json`), { force: true });
  }
  return doomed.map((r) => r.id);
}

function writeJsonAtomically(file: string, value: unknown): void {
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  fs.renameSync(tmp, file);
}

function defaultBackupId(node: string): string {
  const info = activityInfo();
  const wf = info.workflowExecution;
  return `${wf?.workflowId ?? 'standalone'}-${wf?.runId.slice(0, 8) ?? 'x'}-${info.activityId}-${node}`;
}

/** Local tarball sink that hashes and counts as the bytes arrive. */
function hashingFileSink(file: string) {
  const fd = fs.openSync(file, 'w');
  const hash = createHash('sha256');
  let bytes = 0;
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      try {
        fs.writeSync(fd, chunk);
        hash.update(chunk);
        bytes += chunk.length;
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
  });
  return {
    stream,
    finish(): { sha256: string; bytes: number } {
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      return { sha256: hash.digest('hex'), bytes };
    },
    abandon(): void {
      try {
        fs.closeSync(fd);
      } catch {
        /* already closed */
      }
      fs.rmSync(file, { force: true });
    },
  };
}

export function createBackupActivities(deps: ActivityDeps) {
  /** Back up one control-plane node's backend directory off the node. Idempotent by id. */
  async function backupNode(input: BackupNodeInput): Promise<BackupNodeResult> {
    const { inventory } = input;
    const node = findNode(inventory, input.node);
    if (node.role !== 'controlplane') precondition(`${node.name} is a worker: it has no dqlite backend to back up`);
    const id = input.id ?? defaultBackupId(node.name);
    if (!BACKUP_ID.test(id)) {
      throw ApplicationFailure.create({ type: FailureType.InvalidInput, message: `backup id ${JSON.stringify(id)} must match ${BACKUP_ID}`, nonRetryable: true });
    }
    const dir = backupDir(deps.stateDir, inventory.cluster);
    fs.mkdirSync(dir, { recursive: true });
    const tarPath = path.join(dir, `${id}.tar`);
    const jsonPath = path.join(dir, `${id}.json`);
    const pruneNow = () => (input.keep ? prune(deps.stateDir, inventory.cluster, input.keep, id) : []);

    const existing = readRecord(jsonPath);
    if (existing && fs.existsSync(tarPath) && existing.node === node.name && sha256OfFile(tarPath) === existing.sha256) {
      return { ...existing, reused: true, pruned: pruneNow(), commands: [] };
    }

    const sh = openNode(deps, inventory, node);
    const backend = nodePaths(node).backend;
    const stopped = await isStopped(sh);
    if (input.stopped && !stopped) {
      precondition(`microk8s is running on ${node.name}; a --stopped backup needs it stopped first (microk8s stop)`);
    }
    const described = await describeNode(sh, stopped);
    const listing = await listBackend(sh, backend);
    if (!listing) precondition(`${node.name} has no backend directory at ${backend}`);

    const partial = `${tarPath}.partial`;
    const sink = hashingFileSink(partial);
    let streamed: { sha256: string; bytes: number };
    try {
      const r = await sh.download(tarDirectoryCommand(backend), sink.stream, {
        timeoutMs: 30 * 60_000,
      });
      if (r.exitCode !== 0) {
        throw ApplicationFailure.create({
          type: FailureType.CommandFailed,
          message: `tar of ${backend} on ${node.name} exited ${r.exitCode}: ${r.stderr.trim().slice(-500)}`,
        });
      }
      streamed = sink.finish();
    } catch (err) {
      sink.abandon();
      throw err;
    }

    // Read it back: the bytes on disk must be the bytes streamed, and the files inside must be the node's files.
    const reading = readArchive(partial);
    const problem =
      reading.sha256 !== streamed.sha256
        ? `the file on disk (sha256 ${reading.sha256}) is not what was streamed (${streamed.sha256})`
        : !reading.complete
          ? reading.problem
          : archiveMismatch(reading.entries, listing, stopped);
    if (problem) {
      fs.rmSync(partial, { force: true });
      throw ApplicationFailure.create({
        type: FailureType.BackupUnverifiable,
        message: `backup ${id} of ${node.name} could not be verified and was not kept: ${problem}`,
      });
    }
    fs.renameSync(partial, tarPath);
    const record: BackupRecord = {
      id,
      cluster: inventory.cluster,
      node: node.name,
      path: tarPath,
      sha256: reading.sha256,
      size: reading.size,
      files: reading.entries.map((e) => e.path),
      entries: reading.entries,
      backend,
      stopped,
      label: input.label,
      createdAt: new Date().toISOString(),
      ...described,
    };
    writeJsonAtomically(jsonPath, record);
    return { ...record, reused: false, pruned: pruneNow() };
  }

  /** Backups of a cluster on the engine's machine, newest first. */
  async function listBackups(input: { cluster: string; node?: string }): Promise<BackupRecord[]> {
    return listBackupRecords(deps.stateDir, input.cluster).filter((r) => !input.node || r.node === input.node);
  }

  /** One backup's record, checked against its tarball. */
  async function describeBackup(input: { cluster: string; backupId: string }): Promise<BackupRecord & { intact: boolean }> {
    if (!BACKUP_ID.test(input.backupId)) {
      throw ApplicationFailure.create({ type: FailureType.InvalidInput, message: `backup id ${JSON.stringify(input.backupId)} is not a backup id`, nonRetryable: true });
    }
    const record = readRecord(path.join(backupDir(deps.stateDir, input.cluster), `${input.backupId}.json`));
    if (!record || !fs.existsSync(record.path)) {
      throw ApplicationFailure.create({
        type: FailureType.InvalidInput,
        message: `no backup ${input.backupId} for cluster ${input.cluster} in ${backupDir(deps.stateDir, input.cluster)}; see runbook backups list`,
        nonRetryable: true,
      });
    }
    return { ...record, intact: sha256OfFile(record.path) === record.sha256 };
  }

  /**
   * Put a backup back on a stopped node: stream it up into a staging directory, verify every file's sha256 there,
   * then swap it in for the backend directory. Rerunning after a crash at any point converges on the backup.
   */
  async function restoreNodeBackup(input: RestoreNodeBackupInput): Promise<RestoreNodeBackupResult> {
    const { inventory } = input;
    const node = findNode(inventory, input.node);
    const record = await describeBackup({ cluster: input.backupCluster ?? inventory.cluster, backupId: input.backupId });
    if (!input.dataOnly && record.node !== node.name) precondition(`backup ${record.id} was taken on ${record.node}, not ${node.name}: its info.yaml belongs to ${record.node}`);
    if (!record.intact) {
      throw ApplicationFailure.create({ type: FailureType.BackupCorrupt, message: `backup ${record.id} no longer matches its recorded sha256 ${record.sha256}`, nonRetryable: true });
    }
    const sh = openNode(deps, inventory, node);
    if (!(await isStopped(sh))) precondition(`microk8s is running on ${node.name}; stop it before restoring a backup`);
    const backend = nodePaths(node).backend;
    const before = (await listBackend(sh, backend)) ?? [];
    const inBackup = new Map(record.entries.map((e) => [e.path, { size: e.size, sha256: e.sha256 }]));
    // What the backend holds afterwards: the backup's files; with dataOnly its raft data and this node's identity.
    const kept = input.dataOnly ? before.filter((f) => isNodeIdentityFile(f.name)) : [];
    const target = new Map([
      ...[...inBackup].filter(([name]) => !input.dataOnly || !isNodeIdentityFile(name)),
      ...kept.map((f) => [f.name, { size: f.size, sha256: f.sha256 ?? '' }] as const),
    ]);
    const holds = (files: BackendFile[], want: Map<string, { sha256: string }>) =>
      files.length === want.size && files.every((f) => want.get(f.name)?.sha256 === f.sha256);

    if (before.length && holds(before, target)) {
      return { node: node.name, backupId: record.id, alreadyRestored: true, changes: [] };
    }
    const staging = `${backend}.restore-${record.id}`;
    const unverified = async (what: string) => {
      await sh.run(removeTreeCommand(staging));
      throw ApplicationFailure.create({ type: FailureType.RestoreUnverified, message: `${what}; nothing was swapped in` });
    };
    await sh.check(removeTreeCommand(staging));
    await sh.check(makeDirCommand(staging));
    const up = await sh.upload(untarIntoCommand(staging), fs.createReadStream(record.path), { timeoutMs: 30 * 60_000 });
    if (up.exitCode !== 0) {
      throw ApplicationFailure.create({ type: FailureType.CommandFailed, message: `untar into ${staging} on ${node.name} exited ${up.exitCode}: ${up.stderr.trim().slice(-500)}` });
    }
    if (!holds((await listBackend(sh, staging)) ?? [], inBackup)) await unverified(`the files unpacked on ${node.name} do not match backup ${record.id}`);
    if (input.dataOnly) {
      const foreign = record.entries.filter((e) => isNodeIdentityFile(e.path) && !kept.some((k) => k.name === e.path));
      if (foreign.length) await sh.check(removeFilesCommand(...foreign.map((e) => `${staging}/${e.path}`)));
      for (const f of kept) await sh.check(copyKeepingCommand(`${backend}/${f.name}`, `${staging}/${f.name}`));
      if (!holds((await listBackend(sh, staging)) ?? [], target)) await unverified(`the backup's data with ${node.name}'s own identity files does not check out in ${staging}`);
    }
    await sh.check(removeTreeCommand(backend));
    await sh.check(moveCommand(staging, backend));

    const old = new Map(before.map((f) => [f.name, f]));
    const changes: FileChange[] = [];
    for (const f of before) {
      if (!target.has(f.name)) changes.push({ node: node.name, path: `${backend}/${f.name}`, action: 'deleted', size: f.size, sha256: f.sha256 ?? '' });
    }
    for (const [name, e] of target) {
      const o = old.get(name);
      if (o?.sha256 === e.sha256) continue;
      changes.push({ node: node.name, path: `${backend}/${name}`, action: o ? 'rewritten' : 'created', size: e.size, sha256: e.sha256 });
    }
    return { node: node.name, backupId: record.id, alreadyRestored: false, changes };
  }

  return { backupNode, listBackups, describeBackup, restoreNodeBackup };
}
