/**
 * Restore drills: find the backup in the engine's state directory, make a fresh lab of the cluster's shape under
 * that state directory, prove that the restored lab serves, and remove the lab. The restore itself reuses the
 * restore-backup and quorum-recovery activities on the lab's inventory. Nothing here opens a session to the
 * cluster's own nodes: every node these activities reach is a lab node.
 */
import { ApplicationFailure, heartbeat } from '@temporalio/activity';
import * as fs from 'fs';
import * as path from 'path';
import { FailureType } from '../common/constants';
import { type DrillBackup, type DrillLab, type DrillTopology, type ListedNode, type ServeVerdict, judgeServed } from '../common/drill';
import type { Inventory } from '../common/inventory';
import { Lab, LabInputError } from '../lab';
import { labProcesses } from '../lab/processes';
import { BACKUP_ID, backupDir, findBackupRecord } from './backup';
import { sha256OfFile } from './backup-archive';
import { type ActivityDeps, openNode } from './deps';
import { dqliteCommand, parseLeader } from './microk8s/dqlite';
import { getNodesCommand, parseApiUnavailable, parseNodes } from './microk8s/kubectl';
import { holdsRaftEntries } from './microk8s/raft';

function refuse(type: string, message: string): never {
  throw ApplicationFailure.create({ type, message, nonRetryable: true });
}

const firstLine = (text: string) => text.trim().split('\n')[0]?.trim() || 'no output';

export function createDrillActivities(deps: ActivityDeps) {
  /** The backup to drill, by id or `latest`, with its sha256 checked against the tarball now. */
  async function findBackup(input: { cluster: string; backup: string }): Promise<DrillBackup> {
    if (input.backup !== 'latest' && !BACKUP_ID.test(input.backup)) refuse(FailureType.InvalidInput, `--backup ${JSON.stringify(input.backup)}: not latest or a backup id`);
    const record = findBackupRecord(deps.stateDir, input.cluster, input.backup);
    if (!record) {
      const where = backupDir(deps.stateDir, input.cluster);
      refuse(
        FailureType.InvalidInput,
        input.backup === 'latest'
          ? `--backup latest: cluster ${input.cluster} has no backups in ${where}; take one first (runbook backup)`
          : `--backup ${input.backup}: no such backup of cluster ${input.cluster} in ${where}; see runbook backups list`,
      );
    }
    return {
      id: record.id,
      cluster: record.cluster,
      node: record.node,
      path: record.path,
      createdAt: record.createdAt,
      size: record.size,
      sha256: record.sha256,
      files: record.files.length,
      stopped: record.stopped,
      ...(record.label ? { label: record.label } : {}),
      ...(record.channel ? { channel: record.channel } : {}),
      ...(record.kubernetesNodes ? { kubernetesNodes: record.kubernetesNodes } : {}),
      intact: sha256OfFile(record.path) === record.sha256,
      raftEntryFiles: (record.entries ?? []).filter((e) => holdsRaftEntries(e.path)).length,
    };
  }

  /**
   * A fresh lab of the cluster's shape, formed as one HA cluster, under the engine's state directory. Its name comes
   * from the drill's workflow ID, so a retry after a crash first removes what an earlier attempt left; a lab of that
   * name that no drill of this cluster made is refused, never removed.
   */
  async function makeDrillLab(input: { name: string; owner: string; topology: DrillTopology }): Promise<DrillLab> {
    const ours = (owner: string | undefined) => owner === input.owner;
    const t = input.topology;
    const beat = setInterval(() => heartbeat({ making: input.name }), 5_000);
    try {
      const replaced = await Lab.destroy(input.name, deps.stateDir, ours);
      const createdAt = new Date().toISOString();
      const lab = await Lab.up({ name: input.name, controlPlanes: t.controlPlanes, workers: t.workers, channel: t.channel, formed: true, profile: 'fast', stateDir: deps.stateDir, owner: input.owner });
      return { name: lab.name, dir: lab.dir, createdAt, inventory: lab.inventory, replaced };
    } catch (err) {
      if (err instanceof LabInputError) refuse(FailureType.InvalidInput, `drill lab ${input.name}: ${err.message}`);
      throw err;
    } finally {
      clearInterval(beat);
    }
  }

  /**
   * The proof: a dqlite leader, `kubectl get nodes` answering, and the Node objects the backup's cluster had among
   * those listed, created before the lab was (judgeServed). Read-only.
   */
  async function proveItServes(input: {
    inventory: Inventory;
    controlPlanes: string[];
    cluster: string;
    expected: string[];
    labCreatedAt: string;
  }): Promise<ServeVerdict> {
    const { inventory } = input;
    let leader: { address: string; node?: string } | undefined;
    let leaderProblem: string | undefined;
    for (const name of input.controlPlanes) {
      const sh = openNode(deps, inventory, name);
      const r = await sh.run(dqliteCommand(sh.node, '.leader', { format: 'tabular' }), { timeoutMs: 20_000 });
      const address = r.exitCode === 0 ? parseLeader(r.stdout) : undefined;
      if (address) {
        leader = { address, node: inventory.nodes.find((n) => address === `${n.address}:19001`)?.name };
        break;
      }
      leaderProblem = `${name}: ${r.exitCode === 0 ? '.leader printed no address' : firstLine(r.stderr || r.stdout)}`;
    }
    let listed: ListedNode[] = [];
    let apiProblem: string | undefined;
    if (leader) {
      const via = leader.node ?? input.controlPlanes[0];
      const sh = openNode(deps, inventory, via);
      const k = await sh.run(getNodesCommand(sh.node), { timeoutMs: 30_000 });
      if (k.exitCode === 0) listed = parseNodes(k.stdout).map((n) => ({ name: n.name, ready: n.ready, ...(n.created ? { created: n.created } : {}) }));
      else apiProblem = `${via}: ${parseApiUnavailable(k.stderr)?.line ?? firstLine(k.stderr)}`;
    }
    const verdict = judgeServed({ cluster: input.cluster, leader, leaderProblem, apiProblem, listed, expected: input.expected, labCreatedAt: input.labCreatedAt });
    return { ...verdict, listed };
  }

  /**
   * Remove the drill lab (a complete or a half-made one), and check that nothing of it is left. Idempotent. A lab of
   * that name that this drill did not make (makeDrillLab refused it) is not its to remove: it is left as it is.
   */
  async function tearDownDrillLab(input: { name: string; owner: string }): Promise<{ name: string; removed: boolean }> {
    const dir = path.join(Lab.labsDir(path.resolve(deps.stateDir)), input.name);
    let removed: boolean;
    try {
      removed = await Lab.destroy(input.name, deps.stateDir, (owner) => owner === input.owner);
    } catch (err) {
      if (err instanceof LabInputError) return { name: input.name, removed: false };
      throw err;
    }
    const left = labProcesses(dir);
    if (fs.existsSync(dir) || left.length) {
      throw ApplicationFailure.create({ type: FailureType.CommandFailed, message: `drill lab ${input.name} is not gone yet (${fs.existsSync(dir) ? dir : `processes ${left.join(', ')}`})` });
    }
    return { name: input.name, removed };
  }

  return { findBackup, makeDrillLab, proveItServes, tearDownDrillLab };
}
