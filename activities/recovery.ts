/**
 * Activities of the quorum-recovery runbook (behaviour reference §7, "Quorum recovery"). Each one checks the node's
 * state before acting. The steps that change raft files leave a marker beside the backend directory
 * (`var/kubernetes/runbook-recovery.json`: recovery id, phase, checksums), so a rerun after a crash knows whether a
 * destructive step already happened: `.reconfigure` never runs twice from files it already changed.
 */
import { ApplicationFailure, heartbeat, sleep } from '@temporalio/activity';
import { createHash } from 'crypto';
import { PassThrough } from 'stream';
import type { FileChange } from '../common/audit';
import { FailureType } from '../common/constants';
import { type Inventory, type NodeSpec, nodePaths } from '../common/inventory';
import { isStopped, listBackend, } from './backup';
import { type ActivityDeps, findNode, openNode } from './deps';
import {
  clusterMembersCommand,
  isNoLeaderError,
  parseClusterYaml,
  parseDqliteCluster,
  parseInfoYaml,
  parseReconfigureOutput,
  reconfigureCommand,
} from './microk8s/dqlite';
import { getNodesCommand, isNodeNotFound, type KubeNode, parseApiUnavailable, parseNodes, getNodeNameCommand } from './microk8s/kubectl';
import {
  type BackendFile,
  chooseTemplate,
  infoAgreesWithCluster,
  isCopiedFromTemplate,
  isFollowerLeftover,
  raftPosition,
  rolesFor,
  survivorsClusterYaml,
} from './microk8s/raft';
import type { NodeSession } from './ssh/types';
import type { RecoveryHooks, RecoveryMarker, NodeAssessment, RecoveryProposal, QuorumAssessment, NodeStepResult, FileStepResult } from './recovery-reports';
import { TRUE_COMMAND, catCommand, copyKeepingCommand, fileExistsCommand, moveCommand, receiveFileCommand, removeFilesCommand, sha256Command, writeFileCommand } from './microk8s/files';
import { removeNodeCommand } from './microk8s/join';
import { snapStartCommand, snapStopCommand, startCommand, stopCommand } from './microk8s/services';

const RUNNING_CHECK_MS = 20_000;

function failure(type: string, message: string, nonRetryable = true): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable });
}

function markerPath(node: NodeSpec): string {
  return `${nodePaths(node).snapData}/var/kubernetes/runbook-recovery.json`;
}

async function readText(sh: NodeSession, path: string): Promise<string | undefined> {
  const r = await sh.run(catCommand(path));
  return r.exitCode === 0 ? r.stdout : undefined;
}

async function readMarker(sh: NodeSession): Promise<RecoveryMarker | undefined> {
  const text = await readText(sh, markerPath(sh.node));
  if (!text) return undefined;
  try {
    return JSON.parse(text) as RecoveryMarker;
  } catch {
    return undefined;
  }
}

async function writeMarker(sh: NodeSession, marker: RecoveryMarker): Promise<void> {
  await sh.check(writeFileCommand(markerPath(sh.node)), { stdin: `${JSON.stringify(marker)}\n` });
}

function checksums(files: BackendFile[]): Record<string, string> {
  return Object.fromEntries(files.map((f) => [f.name, f.sha256 ?? '']));
}

function sameFiles(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

function sha256(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Files of a listing that differ between before and after, as audit records. */
function diffChanges(node: string, dir: string, before: BackendFile[], after: BackendFile[]): FileChange[] {
  const old = new Map(before.map((f) => [f.name, f]));
  const now = new Map(after.map((f) => [f.name, f]));
  const changes: FileChange[] = [];
  for (const f of before) if (!now.has(f.name)) changes.push({ node, path: `${dir}/${f.name}`, action: 'deleted', size: f.size, sha256: f.sha256 ?? '' });
  for (const f of after) {
    const o = old.get(f.name);
    if (o?.sha256 === f.sha256) continue;
    changes.push({ node, path: `${dir}/${f.name}`, action: o ? 'rewritten' : 'created', size: f.size, sha256: f.sha256 ?? '' });
  }
  return changes;
}

/** Is this failure "the node does not answer over SSH" (as opposed to a trust or auth problem)? */
function isUnreachable(err: unknown): boolean {
  const type = (err as ApplicationFailure)?.type;
  return type === FailureType.SshConnectionFailed || type === FailureType.CommandTimedOut;
}

export function createRecoveryActivities(deps: ActivityDeps, hooks: RecoveryHooks = {}) {
  const session = (inventory: Inventory, name: string) => openNode(deps, inventory, findNode(inventory, name));

  async function backendState(sh: NodeSession, withChecksums: boolean) {
    const p = nodePaths(sh.node);
    const files = await listBackend(sh, p.backend, withChecksums);
    const infoText = await readText(sh, p.infoYaml);
    const clusterText = await readText(sh, p.clusterYaml);
    return {
      files,
      info: infoText ? parseInfoYaml(infoText) : undefined,
      clusterYaml: clusterText ? parseClusterYaml(clusterText) : undefined,
      position: files ? raftPosition(files) : undefined,
      marker: await readMarker(sh),
    };
  }

  /**
   * Contact every node: reachable or not; for reachable control-plane nodes whether microk8s is stopped, their
   * info.yaml, cluster.yaml, raft files and recovery marker; and whether a dqlite leader or the API answers.
   */
  async function assessQuorumLoss(input: { inventory: Inventory; lost?: string[]; template?: string }): Promise<QuorumAssessment> {
    const { inventory } = input;
    const nodes: NodeAssessment[] = [];
    let leader: QuorumAssessment['leader'];
    const api = { answering: false, detail: 'no reachable control-plane node to ask' };
    for (const node of inventory.nodes) {
      const sh = openNode(deps, inventory, node);
      const a: NodeAssessment = { name: node.name, role: node.role, reachable: false };
      nodes.push(a);
      try {
        await sh.check(TRUE_COMMAND, { timeoutMs: 15_000 });
        a.reachable = true;
        a.stopped = await isStopped(sh);
        if (node.role === 'controlplane') {
          Object.assign(a, await backendState(sh, false));
          if (!leader && !a.stopped) {
            const c = await sh.run(clusterMembersCommand(node, { timeoutMs: 3000 }), { timeoutMs: RUNNING_CHECK_MS });
            if (c.exitCode === 0) leader = { via: node.name, members: parseDqliteCluster(c.stdout) };
            else if (!isNoLeaderError(`${c.stderr}\n${c.stdout}`)) a.error = `dqlite .cluster: ${(c.stderr || c.stdout).trim().slice(0, 200)}`;
          }
          if (!api.answering && !a.stopped) {
            const k = await sh.run(getNodesCommand(node), { timeoutMs: RUNNING_CHECK_MS });
            if (k.exitCode === 0) Object.assign(api, { answering: true, detail: `kubectl get nodes answered on ${node.name}` });
            else if (k.exitCode === null) api.detail = `kubectl get nodes timed out on ${node.name}`;
            else api.detail = `${node.name}: ${parseApiUnavailable(k.stderr)?.line ?? k.stderr.trim().split('\n')[0] ?? `exit ${k.exitCode}`}`;
          }
        }
      } catch (err) {
        if (!isUnreachable(err)) throw err;
        a.reachable = false;
        a.error = (err as Error).message.split('\n')[0];
      }
    }
    const survivors = nodes.filter((n) => n.role === 'controlplane' && n.reachable && n.files && !input.lost?.includes(n.name));
    return { nodes, leader, api, proposal: survivors.length ? propose(survivors, input.template) : undefined };
  }

  function propose(survivors: NodeAssessment[], override?: string): RecoveryProposal | { error: string } {
    let choice: ReturnType<typeof chooseTemplate>;
    try {
      choice = chooseTemplate(survivors.map((s) => ({ node: s.name, position: s.position! })), override);
    } catch (err) {
      return { error: (err as Error).message };
    }
    const tpl = survivors.find((s) => s.name === choice.template)!;
    const others = survivors.filter((s) => s !== tpl);
    const roles = rolesFor(survivors.length);
    return {
      template: choice.template,
      evidence: choice.evidence,
      roles: [tpl, ...others].map((s, i) => ({ node: s.name, role: roles[i] })),
      leftovers: Object.fromEntries(others.map((s) => [s.name, s.files!.map((f) => f.name).filter(isFollowerLeftover)])),
      toCopy: tpl.files!.map((f) => f.name).filter(isCopiedFromTemplate),
    };
  }

  /** Step 5: read every stopped survivor's raft files and choose the template (newest data, or the override). */
  async function chooseTemplateNode(input: { inventory: Inventory; survivors: string[]; template?: string }) {
    const states = [];
    for (const name of input.survivors) {
      const state = await readRaftState({ inventory: input.inventory, node: name });
      if (!state.info) throw failure(FailureType.PreconditionFailed, `${name} has no info.yaml; it cannot rejoin a recovered cluster`);
      states.push({ node: name, info: state.info, position: state.position! });
    }
    let choice: ReturnType<typeof chooseTemplate>;
    try {
      choice = chooseTemplate(states, input.template);
    } catch (err) {
      throw failure(FailureType.InvalidInput, (err as Error).message);
    }
    return { ...choice, states };
  }

  /** Stop microk8s on a node and check that it stopped: `microk8s stop` (which also disables the services), or `snap stop microk8s` on a worker. */
  async function stopMicrok8sOnNode(input: { inventory: Inventory; node: string }): Promise<NodeStepResult> {
    const sh = session(input.inventory, input.node);
    const node = sh.node;
    if (node.role === 'worker') {
      await sh.check(snapStopCommand(), { timeoutMs: 5 * 60_000 });
      return { node: node.name, changed: true, detail: 'snap stop --disable microk8s' };
    }
    if (await isStopped(sh)) return { node: node.name, changed: false, detail: 'already stopped' };
    await sh.check(stopCommand(node), { timeoutMs: 5 * 60_000 });
    if (!(await isStopped(sh))) throw failure(FailureType.StopFailed, `microk8s stop on ${node.name} exited 0 but stopped.lock is missing`, false);
    return { node: node.name, changed: true, detail: 'microk8s stop' };
  }

  /** Start microk8s on a node (`microk8s start`, or `snap start microk8s` on a worker). Readiness is checked later. */
  async function startMicrok8sOnNode(input: { inventory: Inventory; node: string }): Promise<NodeStepResult> {
    const sh = session(input.inventory, input.node);
    const node = sh.node;
    if (node.role === 'worker') {
      await sh.check(snapStartCommand(), { timeoutMs: 5 * 60_000 });
      return { node: node.name, changed: true, detail: 'snap start --enable microk8s' };
    }
    if (!(await isStopped(sh))) return { node: node.name, changed: false, detail: 'already running' };
    await sh.check(startCommand(node), { timeoutMs: 5 * 60_000 });
    if (await isStopped(sh)) throw failure(FailureType.StartFailed, `microk8s start on ${node.name} exited 0 but stopped.lock is still there`, false);
    return { node: node.name, changed: true, detail: 'microk8s start' };
  }

  /** Read a node's backend: files with sha256, info.yaml, cluster.yaml, raft position and marker. */
  async function readRaftState(input: { inventory: Inventory; node: string }) {
    const sh = session(input.inventory, input.node);
    const state = await backendState(sh, true);
    if (!state.files) throw failure(FailureType.PreconditionFailed, `${input.node} has no backend directory at ${nodePaths(sh.node).backend}`);
    return { node: input.node, ...state, files: state.files };
  }

  /**
   * On the template only: replace cluster.yaml with the survivors (ID and Address from each survivor's info.yaml,
   * at most 3 voters), atomically, keeping the original beside it as `cluster.yaml.before-<recoveryId>`.
   */
  async function rewriteClusterYaml(input: {
    inventory: Inventory;
    template: string;
    recoveryId: string;
    members: Array<{ node: string; id: string; address: string }>;
  }): Promise<FileStepResult & { clusterYaml: string }> {
    const sh = session(input.inventory, input.template);
    const p = nodePaths(sh.node);
    const content = survivorsClusterYaml(input.members);
    const marker = await readMarker(sh);
    if (marker && marker.recoveryId === input.recoveryId && marker.phase !== 'cluster-yaml-rewritten') {
      // Past this step already (reconfigured or later): cluster.yaml may since have been changed by dqlite.
      return { node: input.template, changed: false, detail: `already ${marker.phase}`, changes: [], files: [], clusterYaml: content };
    }
    if (!(await isStopped(sh))) throw failure(FailureType.PreconditionFailed, `microk8s is running on ${input.template}; the template must be stopped`);
    const before = (await listBackend(sh, p.backend)) ?? [];
    const original = `${p.clusterYaml}.before-${input.recoveryId}`;
    const changes: FileChange[] = [];
    if ((await sh.run(fileExistsCommand(original))).exitCode !== 0) {
      await sh.check(copyKeepingCommand(p.clusterYaml, `${original}.runbook-tmp`));
      await sh.check(moveCommand(`${original}.runbook-tmp`, original));
      const o = before.find((f) => f.name === 'cluster.yaml');
      changes.push({ node: input.template, path: original, action: 'created', size: o?.size ?? 0, sha256: o?.sha256 ?? '' });
    }
    const current = before.find((f) => f.name === 'cluster.yaml');
    if (current?.sha256 !== sha256(content)) {
      await sh.check(writeFileCommand(p.clusterYaml), { stdin: content });
      changes.push({ node: input.template, path: p.clusterYaml, action: 'rewritten', size: Buffer.byteLength(content), sha256: sha256(content) });
    }
    const after = (await listBackend(sh, p.backend)) ?? [];
    await writeMarker(sh, { recoveryId: input.recoveryId, phase: 'cluster-yaml-rewritten', template: input.template, files: checksums(after) });
    return { node: input.template, changed: changes.length > 0, detail: `cluster.yaml lists ${input.members.map((m) => m.node).join(', ')}`, changes, files: after, clusterYaml: content };
  }

  /**
   * `.reconfigure` on the template, expecting `OK`. At most once per recovery: the marker records the files
   * before it runs; if they changed since, it already ran (a crash hid the answer) and is not run again.
   */
  async function reconfigureTemplate(input: { inventory: Inventory; template: string; recoveryId: string }): Promise<FileStepResult> {
    const sh = session(input.inventory, input.template);
    const p = nodePaths(sh.node);
    const marker = await readMarker(sh);
    const mine = marker?.recoveryId === input.recoveryId ? marker : undefined;
    const files = (await listBackend(sh, p.backend)) ?? [];
    if (mine?.phase === 'reconfigured') {
      return { node: input.template, changed: false, detail: 'already reconfigured', changes: [], files };
    }
    if (!mine || (mine.phase !== 'cluster-yaml-rewritten' && mine.phase !== 'reconfiguring')) {
      throw failure(FailureType.PreconditionFailed, `${input.template} has no rewritten cluster.yaml for recovery ${input.recoveryId}; refusing to reconfigure`);
    }
    if (!(await isStopped(sh))) throw failure(FailureType.PreconditionFailed, `microk8s is running on ${input.template}; .reconfigure needs it stopped`);
    const now = checksums(files);
    if (mine.phase === 'reconfiguring' && !sameFiles(now, mine.files)) {
      // It ran before the crash: its files changed. Record that, do not run it again.
      await writeMarker(sh, { ...mine, phase: 'reconfigured', files: now });
      return { node: input.template, changed: false, detail: 'reconfigure had already run (files changed since it started)', changes: [], files };
    }
    await writeMarker(sh, { ...mine, phase: 'reconfiguring', files: now });
    const r = await sh.run(reconfigureCommand(sh.node), { timeoutMs: 5 * 60_000 });
    const outcome = parseReconfigureOutput(`${r.stdout}\n${r.stderr}`, r.exitCode ?? -1);
    if (!outcome.ok) {
      throw failure(FailureType.ReconfigureFailed, `.reconfigure on ${input.template} did not print OK (exit ${r.exitCode}): ${outcome.message ?? r.stderr.trim().slice(0, 300)}`);
    }
    const after = (await listBackend(sh, p.backend)) ?? [];
    await writeMarker(sh, { ...mine, phase: 'reconfigured', files: checksums(after) });
    return { node: input.template, changed: true, detail: 'OK', changes: diffChanges(input.template, p.backend, files, after), files: after };
  }

  /** Copy one file template → target through the worker, verifying its sha256 on arrival before it takes its name. */
  async function copyFile(from: NodeSession, to: NodeSession, file: BackendFile): Promise<void> {
    const src = `${nodePaths(from.node).backend}/${file.name}`;
    const dest = `${nodePaths(to.node).backend}/${file.name}`;
    const tmp = `${dest}.runbook-tmp`;
    const pass = new PassThrough();
    const hook = hooks.transferTransform?.({ node: to.node.name, name: file.name });
    const sink = hook ?? pass;
    const feed = hook ? hook.pipe(pass) : pass;
    const [down, up] = await Promise.all([
      from.download(catCommand(src), sink, { timeoutMs: 30 * 60_000 }),
      to.upload(receiveFileCommand(tmp), feed, { timeoutMs: 30 * 60_000 }),
    ]);
    if (down.exitCode !== 0 || up.exitCode !== 0) {
      await to.run(removeFilesCommand(tmp));
      throw failure(FailureType.CommandFailed, `copying ${file.name} ${from.node.name} → ${to.node.name} failed (cat exit ${down.exitCode}, write exit ${up.exitCode})`, false);
    }
    const arrived = await to.check(sha256Command(tmp));
    const got = arrived.stdout.trim().split(/\s+/)[0];
    if (got !== file.sha256) {
      await to.run(removeFilesCommand(tmp));
      throw failure(
        FailureType.ChecksumMismatch,
        `${file.name} arrived on ${to.node.name} with sha256 ${got}, expected ${file.sha256} (as on ${from.node.name}); it was not put in place`,
      );
    }
    await to.check(moveCommand(tmp, dest));
  }

  /**
   * Make a survivor's raft files the template's: delete its leftover snapshots, segments and metadata, copy
   * cluster.yaml, snapshots with .meta and closed segments from the template (sha256 verified on arrival), and check
   * that its own info.yaml agrees with the new cluster.yaml.
   */
  async function distributeRaftFiles(input: { inventory: Inventory; template: string; target: string; recoveryId: string }): Promise<FileStepResult> {
    const tpl = session(input.inventory, input.template);
    const tgt = session(input.inventory, input.target);
    const dir = nodePaths(tgt.node).backend;
    const tplMarker = await readMarker(tpl);
    if (tplMarker?.recoveryId !== input.recoveryId || tplMarker.phase !== 'reconfigured') {
      throw failure(FailureType.PreconditionFailed, `the template ${input.template} is not reconfigured for recovery ${input.recoveryId}; nothing is copied from it`);
    }
    const tplFiles = (await listBackend(tpl, nodePaths(tpl.node).backend)) ?? [];
    if (!sameFiles(checksums(tplFiles), tplMarker.files)) {
      throw failure(FailureType.TemplateChanged, `the template ${input.template}'s files changed since its reconfigure; refusing to copy them`);
    }
    const toCopy = tplFiles.filter((f) => isCopiedFromTemplate(f.name));
    const wanted = new Map(toCopy.map((f) => [f.name, f.sha256]));
    const before = (await listBackend(tgt, dir)) ?? [];
    const marker = await readMarker(tgt);
    const inPlace = (f: BackendFile) => wanted.get(f.name) === f.sha256;
    const done = marker?.recoveryId === input.recoveryId && marker.phase === 'copied' && toCopy.every((w) => before.some((f) => f.name === w.name && inPlace(f)));
    if (done) return { node: input.target, changed: false, detail: 'already copied', changes: [], files: before };
    if (!(await isStopped(tgt))) throw failure(FailureType.PreconditionFailed, `microk8s is running on ${input.target}; its raft files cannot be replaced`);
    await writeMarker(tgt, { recoveryId: input.recoveryId, phase: 'copying', template: input.template, files: checksums(before) });

    const changes: FileChange[] = [];
    const doomed = before.filter((f) => (isFollowerLeftover(f.name) && !inPlace(f)) || f.name.endsWith('.runbook-tmp'));
    if (doomed.length) {
      await tgt.check(removeFilesCommand(...doomed.map((f) => `${dir}/${f.name}`)));
      for (const f of doomed) changes.push({ node: input.target, path: `${dir}/${f.name}`, action: 'deleted', size: f.size, sha256: f.sha256 ?? '' });
    }
    for (const f of toCopy) {
      if (before.some((b) => b.name === f.name && inPlace(b))) continue;
      heartbeat({ node: input.target, copying: f.name });
      await copyFile(tpl, tgt, f);
      changes.push({ node: input.target, path: `${dir}/${f.name}`, action: 'copied', size: f.size, sha256: f.sha256 ?? '' });
    }
    const after = (await listBackend(tgt, dir)) ?? [];
    const missing = toCopy.find((w) => !after.some((f) => f.name === w.name && f.sha256 === w.sha256));
    if (missing) throw failure(FailureType.ChecksumMismatch, `${missing.name} on ${input.target} does not match the template's after the copy`);

    const info = await readText(tgt, nodePaths(tgt.node).infoYaml);
    const cluster = await readText(tgt, nodePaths(tgt.node).clusterYaml);
    if (!info || !cluster) throw failure(FailureType.InfoYamlMismatch, `${input.target} lacks info.yaml or cluster.yaml after the copy`);
    const me = parseInfoYaml(info);
    if (!infoAgreesWithCluster(me, parseClusterYaml(cluster))) {
      throw failure(FailureType.InfoYamlMismatch, `${input.target}'s info.yaml (ID ${me.id}, Address ${me.address}) is not in the new cluster.yaml; dqlite would refuse to start`);
    }
    await writeMarker(tgt, { recoveryId: input.recoveryId, phase: 'copied', template: input.template, files: checksums(after) });
    return { node: input.target, changed: true, detail: `${changes.filter((c) => c.action === 'copied').length} copied, ${doomed.length} deleted`, changes, files: after };
  }

  /** Poll until a dqlite leader and the API answer through one of `nodes`; heartbeats while waiting. */
  async function waitForQuorum(input: { inventory: Inventory; nodes: string[]; timeoutMs: number }) {
    const deadline = Date.now() + input.timeoutMs;
    let last = 'not asked yet';
    for (let attempt = 1; ; attempt++) {
      for (const name of input.nodes) {
        const sh = session(input.inventory, name);
        const c = await sh.run(clusterMembersCommand(sh.node, { timeoutMs: 3000 }), { timeoutMs: RUNNING_CHECK_MS, quiet: true });
        if (c.exitCode !== 0) {
          last = `${name}: dqlite ${(c.stderr || c.stdout).trim().split('\n')[0]}`;
          continue;
        }
        const k = await sh.run(getNodesCommand(sh.node), { timeoutMs: RUNNING_CHECK_MS, quiet: true });
        if (k.exitCode !== 0) {
          last = `${name}: API ${parseApiUnavailable(k.stderr)?.line ?? k.stderr.trim().split('\n')[0]}`;
          continue;
        }
        return { via: name, members: parseDqliteCluster(c.stdout), nodes: parseNodes(k.stdout), attempts: attempt };
      }
      heartbeat({ waiting: 'quorum', last });
      if (Date.now() > deadline) throw failure(FailureType.QuorumNotRestored, `no dqlite leader and API after ${Math.round(input.timeoutMs / 1000)} s; last: ${last}`);
      await sleep(2000);
    }
  }

  /** `microk8s remove-node NAME --force` for each lost node still known to Kubernetes; success is judged by kubectl, not the exit code. */
  async function removeLostNodes(input: { inventory: Inventory; via: string; lost: string[] }) {
    const sh = session(input.inventory, input.via);
    const removed: string[] = [];
    const absent: string[] = [];
    for (const name of input.lost) {
      const get = await sh.run(getNodeNameCommand(sh.node, name));
      if (get.exitCode !== 0 && isNodeNotFound(get.stderr)) {
        absent.push(name);
        continue;
      }
      // Exit 1 even when the removal worked for some cases (behaviour reference §4): verify instead.
      await sh.run(removeNodeCommand(sh.node, name, true), { timeoutMs: 5 * 60_000 });
      const again = await sh.run(getNodeNameCommand(sh.node, name));
      if (!(again.exitCode !== 0 && isNodeNotFound(again.stderr))) {
        throw failure(FailureType.RemoveNodeFailed, `${name} is still a Kubernetes node after microk8s remove-node ${name} --force`, false);
      }
      removed.push(name);
    }
    return { removed, absent };
  }

  /** Poll until every survivor is Ready, then report dqlite roles and HA. */
  async function verifyRecovery(input: { inventory: Inventory; via: string[]; survivors: string[]; expectedVoters: number; timeoutMs: number }) {
    const deadline = Date.now() + input.timeoutMs;
    let last = '';
    for (;;) {
      for (const name of input.via) {
        const sh = session(input.inventory, name);
        const k = await sh.run(getNodesCommand(sh.node), { timeoutMs: RUNNING_CHECK_MS, quiet: true });
        const c = await sh.run(clusterMembersCommand(sh.node, { timeoutMs: 3000 }), { timeoutMs: RUNNING_CHECK_MS, quiet: true });
        if (k.exitCode !== 0 || c.exitCode !== 0) {
          last = `${name}: ${(k.stderr || c.stderr).trim().split('\n')[0]}`;
          continue;
        }
        const nodes: KubeNode[] = parseNodes(k.stdout);
        const members = parseDqliteCluster(c.stdout);
        const notReady = input.survivors.filter((s) => nodes.find((n) => n.name === s)?.ready !== 'True');
        const voters = members.filter((m) => m.role === 'voter').length;
        if (!notReady.length && (voters === input.expectedVoters || Date.now() > deadline)) {
          return { ready: input.survivors, nodes: nodes.map((n) => ({ name: n.name, ready: n.ready })), members, voters, ha: voters > 2 };
        }
        last = notReady.length ? `not Ready yet: ${notReady.join(', ')}` : `${voters} voter(s), expecting ${input.expectedVoters}`;
        break;
      }
      heartbeat({ waiting: 'recovered cluster', last });
      if (Date.now() > deadline) throw failure(FailureType.RecoveryNotVerified, `survivors not Ready after ${Math.round(input.timeoutMs / 1000)} s: ${last}`);
      await sleep(2000);
    }
  }

  return {
    assessQuorumLoss,
    stopMicrok8sOnNode,
    startMicrok8sOnNode,
    readRaftState,
    chooseTemplateNode,
    rewriteClusterYaml,
    reconfigureTemplate,
    distributeRaftFiles,
    waitForQuorum,
    removeLostNodes,
    verifyRecovery,
  };
}
