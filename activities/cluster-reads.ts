/**
 * What the formation and removal activities share: reading a node's Kubernetes and dqlite view, its locks and
 * backend files, and the conventions of their results (failures that are not retried, scrubbed audit records).
 */
import { ApplicationFailure } from '@temporalio/common';
import type { CommandRecord } from '../common/audit';
import { FailureType } from '../common/constants';
import { type NodeSpec, nodePaths, type Role } from '../common/inventory';
import { clusterMembersCommand, parseClusterYaml, parseDqliteCluster, parseInfoYaml } from './microk8s/dqlite';
import { type DqliteMember } from '../common/dqlite';
import { dqliteAddress } from './microk8s/ports';
import { listLocksCommand, parseLocks } from './microk8s/services';
import { readFileCommand } from './microk8s/files';
import { getNodesCommand, type KubeNode, parseNodes } from './microk8s/kubectl';
import type { ExecResult, NodeSession, RunOptions } from './ssh';

export interface Step<T = undefined> {
  /** Every remote command the step ran: added by the command audit (activities/ssh/audit.ts), not by the step. */
  commands?: CommandRecord[];
  outcome: string;
  detail?: T;
}

export const LOCK = {
  ha: 'ha-cluster',
  worker: 'clustered.lock',
  stopped: 'stopped.lock',
  joining: 'join-in-progress',
} as const;

/** Below 3 dqlite members the leader keeps one voter; from 3 on, three (§2 "dqlite roles after a join"). */
export function expectedVoters(members: number): number {
  return members >= 3 ? 3 : Math.min(1, members);
}

export function refuse(type: string, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true });
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Defence in depth over the SSH layer's own redaction: no record leaves an activity with the token in it. */
export function scrub(records: readonly CommandRecord[], secrets: string[]): CommandRecord[] {
  const clean = (s: string) => secrets.reduce((acc, t) => acc.split(t).join('<redacted>'), s);
  return records.map((r) => ({ ...r, command: clean(r.command), stdoutTail: clean(r.stdoutTail), stderrTail: clean(r.stderrTail) }));
}

/**
 * Run a line and insist on an exit status: a command that ended without one (the connection dropped) must not be
 * read as "file missing" or "join failed". The activity is retried instead; every step here is safe to repeat.
 */
export async function exec(sh: NodeSession, line: string, opts?: RunOptions): Promise<ExecResult> {
  const r = await sh.run(line, opts);
  if (r.exitCode === null) {
    const what = line.length > 60 ? `${line.slice(0, 60)}…` : line;
    throw ApplicationFailure.retryable(`${sh.node.name}: no exit status for "${what}" (connection lost${r.signal ? `, ${r.signal}` : ''})`, FailureType.ConnectionLost);
  }
  return r;
}

export function excerptOf(text: string, secrets: string[] = []): string {
  const lines = text.trim().split('\n').filter(Boolean);
  const short = lines.slice(-3).join(' / ').slice(0, 300);
  return secrets.reduce((acc, t) => acc.split(t).join('<redacted>'), short);
}

export async function kubeNodes(sh: NodeSession, on: NodeSpec): Promise<KubeNode[]> {
  const r = await exec(sh, getNodesCommand(on), { quiet: true, timeoutMs: 60_000 });
  if (r.exitCode !== 0) {
    throw ApplicationFailure.retryable(`kubectl get nodes on ${on.name} failed: ${excerptOf(r.stderr || r.stdout)}`, FailureType.KubeApiUnavailable);
  }
  return parseNodes(r.stdout);
}

export async function dqliteMembers(sh: NodeSession, on: NodeSpec): Promise<DqliteMember[]> {
  const r = await exec(sh, clusterMembersCommand(on, { timeoutMs: 4_000 }), { quiet: true, timeoutMs: 60_000 });
  if (r.exitCode !== 0) {
    throw ApplicationFailure.retryable(`dqlite .cluster on ${on.name} failed: ${excerptOf(r.stderr || r.stdout)}`, FailureType.DqliteUnavailable);
  }
  return parseDqliteCluster(r.stdout);
}

export async function locksOf(sh: NodeSession, node: NodeSpec): Promise<string[]> {
  return parseLocks((await exec(sh, listLocksCommand(node), { quiet: true })).stdout);
}

export async function localMembers(sh: NodeSession, node: NodeSpec): Promise<{ own?: string; members: DqliteMember[] }> {
  const p = nodePaths(node);
  const info = (await exec(sh, readFileCommand(p.infoYaml), { quiet: true })).stdout;
  const cluster = (await exec(sh, readFileCommand(p.clusterYaml), { quiet: true })).stdout;
  return {
    own: info.trim() ? parseInfoYaml(info).address : undefined,
    members: cluster.trim() ? parseClusterYaml(cluster) : [],
  };
}

/** True when `node` already belongs to the primary's cluster, judged from the node's own files. */
export async function alreadyJoined(sh: NodeSession, node: NodeSpec, primary: NodeSpec, as: Role): Promise<boolean> {
  if (as === 'worker') return (await locksOf(sh, node)).includes(LOCK.worker);
  const { members } = await localMembers(sh, node);
  return members.some((m) => m.address === dqliteAddress(primary));
}
