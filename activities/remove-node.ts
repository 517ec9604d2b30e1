/**
 * remove-node's activities: survey where the node stands and whether removing it endangers quorum, drain it, let it
 * leave, remove it from the cluster, and wait until Kubernetes and dqlite no longer list it.
 */
import { heartbeat, sleep } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { type Inventory, type NodeSpec, type Role } from '../common/inventory';
import { type ActivityDeps, findNode, openNode } from './deps';
import { type DqliteMember, type DqliteRole } from '../common/dqlite';
import { classifyLeave, classifyRemoveNode, leaveCommand, removeNodeCommand } from './microk8s/join';
import { dqliteAddress } from './microk8s/ports';
import { listLocksCommand, parseLocks } from './microk8s/services';
import { drainCommand, isNodeNotFound, type KubeNode, parseDrainOutput } from './microk8s/kubectl';
import type { NodeSession } from './ssh';
import {
  LOCK,
  type Step,
  dqliteMembers,
  excerptOf,
  exec,
  expectedVoters,
  kubeNodes,
  localMembers,
  locksOf,
  messageOf,
  refuse,
  } from './cluster-reads';
import type { FormOptions } from '../common/form';
import { FailureType } from '../common/constants';

export interface RemovalSurvey {
  node: string;
  /** The control-plane node that runs `remove-node` and answers for the cluster. */
  remover: string;
  reachable: boolean;
  inKubernetes: boolean;
  role: Role;
  dqliteRole?: DqliteRole;
  members: DqliteMember[];
  /** Why this removal is dangerous and what to do instead; the workflow asks before going on. */
  guard?: string;
  problems: string[];
  /** Nothing left to do: the node is in neither Kubernetes nor dqlite. */
  gone: boolean;
  /** The node answers and believes it is clustered (a worker lock, or more than one dqlite member it knows). */
  clustered?: boolean;
  lines: string[];
}

export function createRemoveNodeActivities(deps: ActivityDeps) {
  const session = (inv: Inventory, node: NodeSpec): NodeSession => openNode(deps, inv, node);

  return {

    /** Where the node stands, who can remove it, and whether removing it endangers quorum or HA. */
    async surveyRemoval({
      inventory,
      node: nodeName,
      forceLost,
    }: {
      inventory: Inventory;
      node: string;
      forceLost: boolean;
    }): Promise<RemovalSurvey> {
      const target = findNode(inventory, nodeName);
      const reachability = new Map<string, boolean>();
      await Promise.all(
        inventory.nodes.map(async (n) => {
          try {
            const r = await exec(session(inventory, n), listLocksCommand(n), { quiet: true, timeoutMs: 20_000 });
            reachability.set(n.name, true);
            if (parseLocks(r.stdout).includes(LOCK.worker)) reachability.set(`${n.name}:worker`, true);
          } catch (err) {
            // A dropped command is not a lost node: retry the survey rather than misjudge quorum.
            if (err instanceof ApplicationFailure && err.type === 'ConnectionLost') throw err;
            reachability.set(n.name, false);
          }
        }),
      );
      const problems: string[] = [];
      const candidates = inventory.nodes.filter(
        (n) => n.name !== target.name && n.role === 'controlplane' && reachability.get(n.name) && !reachability.get(`${n.name}:worker`),
      );
      let remover: NodeSpec | undefined;
      let kube: KubeNode[] = [];
      let members: DqliteMember[] = [];
      const errors: string[] = [];
      for (const c of candidates) {
        try {
          const sh = session(inventory, c);
          [kube, members] = await Promise.all([kubeNodes(sh, c), dqliteMembers(sh, c)]);
          remover = c;
          break;
        } catch (err) {
          errors.push(`${c.name}: ${messageOf(err)}`);
        }
      }
      const reachable = reachability.get(target.name) ?? false;
      const base: RemovalSurvey = {
        node: target.name,
        remover: remover?.name ?? '',
        reachable,
        inKubernetes: false,
        role: target.role,
        members,
        problems,
        gone: false,
        clustered: false,
        lines: [],
      };
      if (!remover) {
        problems.push(
          `no other control-plane node of ${inventory.cluster} answers (${errors.join('; ') || 'none reachable over SSH'}); ` +
            `if quorum is lost, run "runbook recover-quorum" instead`,
        );
        return base;
      }
      const k = kube.find((x) => x.name === target.name || x.internalIP === target.address);
      const member = members.find((m) => m.address === dqliteAddress(target));
      base.inKubernetes = !!k;
      base.dqliteRole = member?.role;
      base.role = member ? 'controlplane' : k?.role === 'worker' ? 'worker' : target.role;
      let stillClustered = false;
      if (reachable) {
        const sh = session(inventory, target);
        stillClustered = (await locksOf(sh, target)).includes(LOCK.worker) || (await localMembers(sh, target)).members.length > 1;
      }
      base.gone = !k && !member && !stillClustered;
      base.clustered = stillClustered;
      if (!reachable && !forceLost) {
        problems.push(`${target.name} is unreachable over SSH; if it is gone for good, rerun with --force-lost (remove-node --force)`);
      }
      if (member) base.guard = quorumGuard(target, members, inventory, reachability);
      base.lines = removalLines(base, target, forceLost);
      return base;
    },

    /** `kubectl drain` the departing node from a control-plane node; a node Kubernetes no longer knows is skipped. */
    async drainDepartingNode({ inventory, remover, node }: { inventory: Inventory; remover: string; node: string }): Promise<Step> {
      const on = findNode(inventory, remover);
      const sh = session(inventory, on);
      const r = await exec(sh, drainCommand(on, node, { timeoutS: 300 }), { timeoutMs: 360_000 });
      if (r.exitCode !== 0 && isNodeNotFound(r.stderr)) return { outcome: 'not-in-kubernetes' };
      const d = parseDrainOutput(r.stdout, r.stderr, r.exitCode ?? 1);
      if (!d.drained) {
        const why = d.blockedByPdb.length ? `PodDisruptionBudget blocks ${d.blockedByPdb.join(', ')}` : (d.message ?? 'drain failed');
        throw refuse(FailureType.DrainFailed, `drain ${node} failed: ${why}; fix it, then rerun (the node stays cordoned)`);
      }
      return { outcome: 'drained' };
    },

    /** `microk8s leave` on the departing node, unless it already left. */
    async leaveCluster({ inventory, node: nodeName }: { inventory: Inventory; node: string }): Promise<Step> {
      const node = findNode(inventory, nodeName);
      const sh = session(inventory, node);
      const locks = await locksOf(sh, node);
      const clustered = locks.includes(LOCK.worker) || (await localMembers(sh, node)).members.length > 1;
      if (!clustered) return { outcome: 'already-left' };
      const r = await exec(sh, leaveCommand(node), { timeoutMs: 600_000 });
      const outcome = classifyLeave(r.exitCode, r.stdout, r.stderr);
      if (outcome === 'only-voter') {
        throw refuse(FailureType.OnlyVoter, `${node.name} holds the only copy of the Kubernetes database; remove the other nodes first or grow to 3 control-plane nodes`);
      }
      if (outcome === 'failed') throw ApplicationFailure.retryable(`microk8s leave on ${node.name} failed: ${excerptOf(r.stdout + r.stderr)}`);
      return { outcome };
    },

    /** `remove-node` on a remaining control-plane node (`--force` for a lost node); idempotent. */
    async removeNodeFromCluster({
      inventory,
      remover,
      node: nodeName,
      force,
    }: {
      inventory: Inventory;
      remover: string;
      node: string;
      force: boolean;
    }): Promise<Step> {
      const on = findNode(inventory, remover);
      const node = findNode(inventory, nodeName);
      const sh = session(inventory, on);
      const [kube, members] = await Promise.all([kubeNodes(sh, on), dqliteMembers(sh, on)]);
      const k = kube.find((x) => x.name === node.name || x.internalIP === node.address);
      const inDqlite = members.some((m) => m.address === dqliteAddress(node));
      if (!k && !inDqlite) return { outcome: 'already-removed' };
      const target = k ? k.name : node.address;
      const r = await exec(sh, removeNodeCommand(on, target, force || !k), { timeoutMs: 300_000 });
      const outcome = classifyRemoveNode(r.exitCode, r.stdout, r.stderr);
      if (outcome === 'registered-with-dqlite') {
        throw refuse(
          FailureType.StillDqliteMember,
          `${node.name} is still a dqlite member: "microk8s leave" has not completed on it; rerun, or use --force-lost if it is gone for good`,
        );
      }
      if (outcome === 'failed' || outcome === 'run-on-worker') {
        throw ApplicationFailure.retryable(`remove-node ${target} on ${on.name} failed: ${excerptOf(r.stdout + r.stderr)}`);
      }
      return { outcome };
    },

    /** Poll until the node is gone from Kubernetes and dqlite, and dqlite roles have settled. */
    async waitNodeRemoved({
      inventory,
      remover,
      node: nodeName,
      options,
    }: {
      inventory: Inventory;
      remover: string;
      node: string;
      options: Pick<FormOptions, 'pollMs' | 'settleTimeoutMs'>;
    }): Promise<Step<{ members: number; voters: number }>> {
      const on = findNode(inventory, remover);
      const node = findNode(inventory, nodeName);
      const sh = session(inventory, on);
      const deadline = Date.now() + options.settleTimeoutMs;
      let missing = '';
      for (;;) {
        try {
          const [kube, members] = await Promise.all([kubeNodes(sh, on), dqliteMembers(sh, on)]);
          const voters = members.filter((m) => m.role === 'voter').length;
          const wants: string[] = [];
          if (kube.some((x) => x.name === node.name || x.internalIP === node.address)) wants.push(`${node.name} is still in kubectl get nodes`);
          if (members.some((m) => m.address === dqliteAddress(node))) wants.push(`${dqliteAddress(node)} is still in dqlite .cluster`);
          if (voters !== expectedVoters(members.length)) wants.push(`dqlite roles not settled (${voters} voter(s))`);
          if (wants.length === 0) return { outcome: 'removed', detail: { members: members.length, voters } };
          missing = wants.join('; ');
        } catch (err) {
          missing = messageOf(err);
        }
        heartbeat({ node: node.name, waiting: missing });
        if (Date.now() >= deadline) throw refuse(FailureType.RemovalNotConverged, `${node.name} removal did not settle: ${missing}`);
        await sleep(options.pollMs);
      }
    },
  };
}

/**
 * Refuse (unless approved) a removal that leaves too few reachable voters for quorum, or turns an HA cluster into
 * one with fewer than 3 control-plane nodes.
 */
export function quorumGuard(target: NodeSpec, members: DqliteMember[], inventory: Inventory, reachable: Map<string, boolean>): string | undefined {
  const voters = members.filter((m) => m.role === 'voter');
  const quorum = Math.floor(voters.length / 2) + 1;
  const alive = voters.filter((m) => {
    if (m.address === dqliteAddress(target)) return false;
    const n = inventory.nodes.find((x) => dqliteAddress(x) === m.address);
    return n ? reachable.get(n.name) === true : true;
  });
  if (alive.length < quorum) {
    return (
      `removing ${target.name} leaves ${alive.length} reachable voter(s) of ${voters.length}, below the quorum of ${quorum}: ` +
      `the cluster could not commit the removal or would lose its database. If the other lost nodes will never return, ` +
      `run "runbook recover-quorum" instead; otherwise bring them back first`
    );
  }
  const after = members.length - 1;
  if (voters.length >= 3 && after < 3) {
    return (
      `removing ${target.name} leaves ${after} control-plane node(s): no high availability (1 voter; losing it loses the cluster). ` +
      `Add a control-plane node first (list it in the inventory and run "runbook form"), then remove ${target.name}`
    );
  }
  return undefined;
}

function removalLines(s: RemovalSurvey, target: NodeSpec, forceLost: boolean): string[] {
  if (s.gone) return [`${target.name} is in neither Kubernetes nor dqlite: nothing to remove`];
  const lines = [`remove ${target.name} (${s.role}${s.dqliteRole ? `, dqlite ${s.dqliteRole}` : ''}) using ${s.remover}`];
  if (forceLost) {
    lines.push(`1. on ${s.remover}: microk8s remove-node ${target.name} --force (the node is lost)`);
  } else {
    if (s.inKubernetes) lines.push(`1. drain ${target.name}`);
    lines.push(`2. on ${target.name}: microk8s leave`);
    lines.push(`3. on ${s.remover}: microk8s remove-node ${target.name}`);
  }
  lines.push('4. verify it is gone from kubectl get nodes and dqlite .cluster, and dqlite roles settled');
  if (s.guard) lines.push(`WARNING: ${s.guard}`);
  return lines;
}
