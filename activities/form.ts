/**
 * Activities of the `form` and `remove-node` runbooks. Each one observes before it acts, so a retry after a crash
 * at any line is safe: a node that is already a member is never joined again, a node already gone is not removed
 * twice. Join tokens are minted here and never leave `joinNode` (they are redacted from every record).
 */
import { randomBytes } from 'crypto';
import { heartbeat, sleep } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { type Inventory, type NodeSpec, nodePaths } from '../common/inventory';
import { type ActivityDeps, findNode, openNode } from './deps';
import { dqliteCommand, removeShellCommand } from './microk8s/dqlite';
import { type DqliteMember } from '../common/dqlite';
import { addNodeCommand, classifyJoin, classifyLeave, classifyRemoveNode, explainJoin, joinCommand, joinUrlFromAddNode, leaveCommand, joinStateCommand, parseUnconvergedJoin, JOIN_RUNNING_COMMAND, clearJoinLockCommand, parseJoinRunning, removeNodeCommand } from './microk8s/join';
import { dqliteAddress } from './microk8s/ports';
import { haConfContent, parseHaConf, writeHaConfCommand } from './microk8s/ha-conf';
import { readFileCommand } from './microk8s/files';
import { type KubeNode } from './microk8s/kubectl';
import type { NodeSession } from './ssh';
import {
  LOCK,
  type Step,
  alreadyJoined,
  dqliteMembers,
  excerptOf,
  exec,
  expectedVoters,
  kubeNodes,
  locksOf,
  messageOf,
  refuse,
  scrub,
  } from './cluster-reads';
import type { FormOptions, JoinResult, JoinStepInput, Verification, VerifiedNode } from '../common/form';
import { FailureType } from '../common/constants';
import { startCommand, stopCommand } from './microk8s/services';

export function createFormActivities(deps: ActivityDeps) {
  const session = (inv: Inventory, node: NodeSpec): NodeSession => openNode(deps, inv, node);

  /**
   * A control-plane join that exited 0 converged only if the primary's dqlite lists the node (§2: join prints
   * success and exits 0 even when it never did). A few polls, as join.py's own loop may end just before.
   */
  async function joinConverged(shP: NodeSession, primary: NodeSpec, node: NodeSpec, options: FormOptions): Promise<boolean> {
    for (let poll = 1; ; poll++) {
      if ((await dqliteMembers(shP, primary)).some((m) => m.address === dqliteAddress(node))) return true;
      if (poll >= 3) return false;
      await sleep(options.pollMs);
    }
  }

  /** A join left half done by an earlier attempt (the worker died before undoing it): init.yaml, no info.yaml. */
  async function leftUnconverged(shP: NodeSession, shN: NodeSession, primary: NodeSpec, node: NodeSpec): Promise<boolean> {
    const files = await exec(shN, joinStateCommand(node), { quiet: true });
    if (!parseUnconvergedJoin(files.stdout)) return false;
    return !(await dqliteMembers(shP, primary)).some((m) => m.address === dqliteAddress(node));
  }

  /** The fix for the join trap (§9 row 6): `microk8s leave` on the node, so that it can join again from scratch. */
  async function undoUnconvergedJoin(shN: NodeSession, node: NodeSpec): Promise<void> {
    const r = await exec(shN, leaveCommand(node), { timeoutMs: 600_000 });
    const outcome = classifyLeave(r.exitCode, r.stdout, r.stderr);
    if (outcome === 'left' || outcome === 'not-clustered') return;
    throw ApplicationFailure.retryable(
      `microk8s leave on ${node.name} (undoing a join that did not converge) failed: ${excerptOf(r.stdout + r.stderr)}`,
      'LeaveFailed',
    );
  }

  async function removeStale(shP: NodeSession, primary: NodeSpec, node: NodeSpec): Promise<void> {
    const address = dqliteAddress(node);
    if (!(await dqliteMembers(shP, primary)).some((m) => m.address === address)) return;
    const r = await exec(shP, removeNodeCommand(primary, node.address, true), { timeoutMs: 180_000 });
    const outcome = classifyRemoveNode(r.exitCode, r.stdout, r.stderr);
    // `remove-node <ip> --force` exits 1 when Kubernetes does not know the node, even after removing it from dqlite.
    if (outcome !== 'removed' && outcome !== 'unknown-to-kubernetes') {
      throw ApplicationFailure.retryable(`remove-node ${node.address} --force on ${primary.name} failed: ${excerptOf(r.stdout + r.stderr)}`);
    }
    if ((await dqliteMembers(shP, primary)).some((m) => m.address === address)) {
      await shP.check(dqliteCommand(primary, removeShellCommand(address)), { timeoutMs: 60_000 });
    }
  }

  return {
    /** Mint a short-lived token on the primary and join `node` with it; the token never leaves this activity. */
    async joinNode({
      inventory,
      primary: primaryName,
      node: nodeName,
      as,
      options,
    }: JoinStepInput): Promise<JoinResult> {
      const primary = findNode(inventory, primaryName);
      const node = findNode(inventory, nodeName);
      const shP = session(inventory, primary);
      const shN = session(inventory, node);
      const tokens: string[] = [];
      let unconverged = 0;
      const result = (outcome: JoinResult['outcome'], attempts: number, staleRemoved: boolean): JoinResult => ({
        node: node.name,
        outcome,
        attempts,
        staleRemoved,
        unconverged,
        commands: scrub([...shP.records, ...shN.records], tokens),
      });

      if (await alreadyJoined(shN, node, primary, as)) return result('already-member', 0, false);
      // A join an earlier attempt started may still be running on the node (the worker died, not the join); a lock
      // whose join is gone (killed mid-way) is stale: clear it rather than wait for it.
      if ((await locksOf(shN, node)).includes(LOCK.joining) && parseJoinRunning((await exec(shN, JOIN_RUNNING_COMMAND, { quiet: true })).exitCode) === 'none') {
        await exec(shN, clearJoinLockCommand(node));
        heartbeat({ node: node.name, cleared: 'a stale join lock (no join running)' });
      }
      if ((await locksOf(shN, node)).includes(LOCK.joining)) {
        const deadline = Date.now() + options.settleTimeoutMs;
        while (Date.now() < deadline && (await locksOf(shN, node)).includes(LOCK.joining)) {
          heartbeat({ node: node.name, waiting: 'an earlier join to finish' });
          await sleep(options.pollMs);
          if (await alreadyJoined(shN, node, primary, as)) return result('already-member', 0, false);
        }
      }

      if (as === 'controlplane' && (await leftUnconverged(shP, shN, primary, node))) {
        await undoUnconvergedJoin(shN, node);
        unconverged += 1;
      }

      let staleRemoved = false;
      let outcome: ReturnType<typeof classifyJoin> = 'failed';
      let trapped = false;
      let output = '';
      for (let attempt = 1; attempt <= 3; attempt++) {
        const token = randomBytes(16).toString('hex');
        tokens.push(token);
        const add = await exec(shP, addNodeCommand(primary, token, options.tokenTtlSeconds), {
          redact: [token],
          timeoutMs: 60_000,
        });
        if (add.exitCode !== 0) {
          throw ApplicationFailure.retryable(`add-node on ${primary.name} failed: ${excerptOf(add.stdout + add.stderr, tokens)}`, FailureType.AddNodeFailed);
        }
        const url = joinUrlFromAddNode(add.stdout, primary, token);
        const joined = await exec(shN, joinCommand(node, url, as === 'worker'), { redact: [token], timeoutMs: 10 * 60_000 });
        outcome = classifyJoin(joined.exitCode, joined.stdout, joined.stderr);
        output = excerptOf(joined.stdout + '\n' + joined.stderr, tokens);
        trapped = false;
        if (outcome === 'joined') {
          if (as === 'worker' || (await joinConverged(shP, primary, node, options))) return result('joined', attempt, staleRemoved);
          // The join trap: undo it and try again with a new token (a cause that lasts, e.g. a voter down, fails below).
          trapped = true;
          unconverged += 1;
          await undoUnconvergedJoin(shN, node);
          continue;
        }
        if (outcome === 'invalid-token' || outcome === 'fingerprint-mismatch') continue;
        if (outcome === 'already-known') {
          // Even when our own crashed attempt left it, the entry is only removed with consent (--clean-stale or approval).
          if (!options.cleanStale) {
            throw refuse(FailureType.StaleDqliteMember, explainJoin(outcome, node, primary));
          }
          await removeStale(shP, primary, node);
          staleRemoved = true;
          continue;
        }
        break;
      }
      if (trapped) {
        throw refuse(
          FailureType.JoinNotConverged,
          `${node.name}: "microk8s join" exited 0 ${unconverged} time(s) but ${dqliteAddress(node)} never appeared in dqlite .cluster ` +
            `on ${primary.name} (the join trap); each time "microk8s leave" undid it on ${node.name}. Check that every ` +
            `control-plane node of the cluster is up ("microk8s status") and that 19001/tcp is open between ${node.address} ` +
            `and them, then rerun`,
        );
      }
      throw refuse(FailureType.JoinRefused, `${explainJoin(outcome, node, primary)} (last output: ${output || 'none'})`);
    },

    /** Clean a stale dqlite entry for `node` on the primary (`remove-node <ip> --force`); idempotent. */
    async removeStaleMember({ inventory, primary, node }: { inventory: Inventory; primary: string; node: string }): Promise<Step> {
      const p = findNode(inventory, primary);
      const shP = session(inventory, p);
      await removeStale(shP, p, findNode(inventory, node));
      return { outcome: 'removed' };
    },

    /** Poll until `node` is Ready with its role label and, for a control plane, listed in dqlite with roles settled. */
    async waitNodeJoined({
      inventory,
      primary: primaryName,
      node: nodeName,
      as,
      options,
    }: JoinStepInput): Promise<Step> {
      const primary = findNode(inventory, primaryName);
      const node = findNode(inventory, nodeName);
      const shP = session(inventory, primary);
      const deadline = Date.now() + options.settleTimeoutMs;
      let missing = 'nothing checked yet';
      for (;;) {
        try {
          const k = (await kubeNodes(shP, primary)).find((x) => x.name === node.name || x.internalIP === node.address);
          const wants: string[] = [];
          if (!k) wants.push(`${node.name} is not in kubectl get nodes`);
          else {
            if (k.ready !== 'True') wants.push(`${node.name} is not Ready (${k.ready})`);
            if (k.role !== as) wants.push(`${node.name} has role label ${k.role}, expected ${as}`);
          }
          if (as === 'controlplane') {
            const members = await dqliteMembers(shP, primary);
            if (!members.some((m) => m.address === dqliteAddress(node))) wants.push(`${dqliteAddress(node)} is not in dqlite .cluster`);
            const voters = members.filter((m) => m.role === 'voter').length;
            if (voters !== expectedVoters(members.length)) {
              wants.push(`dqlite roles not settled (${voters} voter(s) of ${expectedVoters(members.length)} for ${members.length} members)`);
            }
          }
          if (wants.length === 0) return { outcome: 'settled' };
          missing = wants.join('; ');
        } catch (err) {
          missing = messageOf(err);
        }
        heartbeat({ node: node.name, waiting: missing });
        if (Date.now() >= deadline) {
          throw refuse(
            FailureType.JoinNotConverged,
            `${node.name} did not settle within ${Math.round(options.settleTimeoutMs / 1000)} s: ${missing} ` +
              `(microk8s join exits 0 even when dqlite never converged; check 19001/tcp between the nodes)`,
          );
        }
        await sleep(options.pollMs);
      }
    },

    /**
     * Set `failure-domain=N` in `args/ha-conf` with the documented restart (microk8s stop; microk8s start) so
     * k8s-dqlite reads it. Stop first, then write, then start: a crash at any point leaves either the old domain
     * running or a stopped node (stopped.lock), and a rerun finishes the job.
     */
    async setFailureDomain({
      inventory,
      node: nodeName,
      domain,
    }: {
      inventory: Inventory;
      node: string;
      domain: number;
      options: FormOptions;
    }): Promise<Step> {
      const node = findNode(inventory, nodeName);
      const sh = session(inventory, node);
      const p = nodePaths(node);
      const conf = (await exec(sh, readFileCommand(p.haConf), { quiet: true })).stdout;
      const stopped = (await locksOf(sh, node)).includes(LOCK.stopped);
      const confOk = parseHaConf(conf) === domain;
      if (confOk && !stopped) return { outcome: 'unchanged' };
      if (!stopped) {
        await sh.check(stopCommand(node), { timeoutMs: 300_000 });
      }
      if (!confOk) {
        const kept = conf.split('\n').filter((l) => l.trim() && !/^\s*failure-domain\s*=/.test(l));
        await sh.check(writeHaConfCommand(node), { stdin: [...kept, haConfContent(domain).trim()].join('\n') + '\n' });
      }
      // `start` exits 0 even when the node is not Ready: the workflow waits for Ready and settled roles next.
      await sh.check(startCommand(node), { timeoutMs: 300_000 });
      return { outcome: 'restarted' };
    },

    /** Final check: every inventory node Ready with its role label; dqlite voters as the member count requires. */
    async verifyFormation({
      inventory,
      primary: primaryName,
      options,
    }: {
      inventory: Inventory;
      primary: string;
      options: FormOptions;
    }): Promise<Verification> {
      const primary = findNode(inventory, primaryName);
      const shP = session(inventory, primary);
      const deadline = Date.now() + options.settleTimeoutMs;
      for (;;) {
        let v: Verification;
        try {
          const [kube, members] = await Promise.all([kubeNodes(shP, primary), dqliteMembers(shP, primary)]);
          v = verification(inventory, kube, members);
        } catch (err) {
          v = { nodes: [], voters: 0, controlPlanes: 0, highAvailability: false, problems: [messageOf(err)] };
        }
        if (v.problems.length === 0 || Date.now() >= deadline) return v;
        heartbeat({ waiting: v.problems[0] });
        await sleep(options.pollMs);
      }
    },
  };
}

function verification(inventory: Inventory, kube: KubeNode[], members: DqliteMember[]): Verification {
  const problems: string[] = [];
  const nodes: VerifiedNode[] = inventory.nodes.map((n) => {
    const k = kube.find((x) => x.name === n.name || x.internalIP === n.address);
    const m = members.find((x) => x.address === dqliteAddress(n));
    const v: VerifiedNode = { name: n.name, role: n.role, ready: k?.ready === 'True', labelOk: k?.role === n.role };
    if (m) v.dqliteRole = m.role;
    if (k?.kubeletVersion) v.version = k.kubeletVersion;
    if (!k) problems.push(`${n.name} is not in kubectl get nodes`);
    else {
      if (!v.ready) problems.push(`${n.name} is not Ready`);
      if (!v.labelOk) problems.push(`${n.name} has role label ${k.role}, the inventory says ${n.role}`);
    }
    if (n.role === 'controlplane' && !m) problems.push(`${n.name} (${dqliteAddress(n)}) is not a dqlite member`);
    return v;
  });
  const voters = members.filter((m) => m.role === 'voter').length;
  if (voters !== expectedVoters(members.length)) {
    problems.push(`dqlite has ${voters} voter(s); ${members.length} members should give ${expectedVoters(members.length)}`);
  }
  return { nodes, voters, controlPlanes: members.length, highAvailability: voters > 2, problems };
}
