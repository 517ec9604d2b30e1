/**
 * The MicroK8s lab: real OpenSSH sshd per node on 127.0.<slot>.<i>:2222, a snap-like root per node, shims that
 * run the compiled simulator, a lab-wide cluster truth (state.json) and a journal. Used by every test.
 *
 *   const lab = await Lab.up({ name: 'demo', controlPlanes: 3, workers: 1, channel: '1.28/stable', formed: true });
 *   lab.inventoryPath; await lab.status(); lab.journal(); await lab.fault('k8s-2', 'crash'); await lab.down();
 */
import { execFile, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { promisify } from 'util';
import YAML from 'yaml';
import { type Inventory, resolveInventory } from '../common/inventory';
import { freezeNode, generateKey, killNode, startSshd } from './sshd';
import { labProcesses } from './processes';
import { LAB_PORT, claimSlot, releaseSlot } from './slots';
import { type Profile, timingFor } from './timing';
import { initialRelease, parseChannel, channelName } from './sim/catalogue';
import { snapPaths } from './sim/backend';
import { installRevision, nodeShims, setCurrent, simulatorEntry, startAlone, startFormed } from './sim/install';
import {
  type LabState,
  type NodeState,
  ROLE_NAMES,
  hasQuorum,
  leaderOf,
  memberUp,
  nodeReady,
  servicesUp,
  voters as votersOf,
} from './sim/model';
import { type JournalEntry, journal, journalPath, readState, statePath, withState } from './sim/store';
import { syncObjects } from './sim/datastore';
import { applyFault, healNode, validPort, type FaultKind, type FaultOptions } from './faults';
import { defaultStateDir } from '../local/state-dir';
import { startListeners, stopListeners } from './listeners';
import { CliExit } from '../local/exit';
import { ExitCode } from '../common/constants';
import { freshCerts } from './sim/certs';
import { hostPaths, newBoot } from './sim/reboot';
import { type LabAccount, type Privilege, LabAccountError, MICROK8S_GROUP, groupId, labAccount } from './account';
import { grantTraversal, idsOf } from '../local/unix-account';

export type { FaultKind, FaultOptions } from './faults';
export type { JournalEntry } from './sim/store';
export { FAULT_KINDS } from './faults';

const run = promisify(execFile);
const NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export interface LabOptions {
  name: string;
  controlPlanes: number;
  workers?: number;
  channel?: string;
  formed?: boolean;
  profile?: Profile;
  timeScale?: number;
  stateDir?: string;
  /** The SSH user (lab/account.ts): default an unprivileged `mk8s-lab` when run as root, else you. */
  user?: string;
  /** Who made it, when not a person (a restore drill's workflow ID): kept in lab.json, see `Lab.destroy`. */
  owner?: string;
}

export interface LabNode {
  name: string;
  role: 'controlplane' | 'worker';
  address: string;
  root: string;
}

interface LabMeta {
  name: string;
  dir: string;
  stateDir: string;
  slot: number;
  /** A lab of more than 250 nodes: the further address slots its nodes live on, in order. */
  extraSlots?: number[];
  createdAt: string;
  profile: Profile;
  timeScale: number;
  channel: string;
  formed: boolean;
  user: string;
  /** How root is judged on the nodes (absent in labs made before it: marker). */
  privilege?: Privilege;
  /** Directories made passable (o+x) for the SSH user, so it reaches the lab and the simulator. */
  traversal?: string[];
  owner?: string;
  nodes: LabNode[];
}

/** Bad lab input: names the option and the fix; a CliExit, so the CLI exits 2 on it like on any bad input. */
export class LabInputError extends CliExit {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(ExitCode.BAD_INPUT, `${field}: ${message}`);
    this.name = 'LabInputError';
  }
}

export interface LabNodeStatus {
  name: string;
  /** The inventory role. */
  role: 'controlplane' | 'worker';
  /** What the node runs now: a node that has not joined with --worker is a control plane (of its own cluster). */
  joinedAs: 'controlplane' | 'worker';
  address: string;
  power: NodeState['power'];
  services: NodeState['services'];
  version: string;
  revision: number;
  channel: string;
  held: boolean;
  cordoned: boolean;
  ready: boolean;
  cluster: string;
  /** role `none`: the node believes it joined but is no member (a join that did not converge). */
  dqlite: { role: string; id: string; address: string; up: boolean; error: string | null } | null;
  pods: string[];
  /** This node is its cluster's dqlite leader. */
  leader: boolean;
  /** A Node object exists for it in its cluster's Kubernetes. */
  kubernetes: boolean;
  /** Certificate expiry (ISO) by file name (§11). */
  certs: Record<string, string>;
  /** The machine's boot id, and the packages asking for a reboot (null: none) (§12). */
  bootId: string;
  rebootRequired: string[] | null;
  /** Another node replaced the CA: this one should leave and re-join. */
  needsRejoin: boolean;
}

export interface LabClusterStatus {
  id: string;
  nodes: string[];
  leader: string | null;
  voters: string[];
  standbys: string[];
  spares: string[];
  ha: boolean;
  quorum: boolean;
  available: boolean;
  epoch: string;
}

export interface LabStatus {
  name: string;
  profile: Profile;
  nodes: LabNodeStatus[];
  clusters: LabClusterStatus[];
  /** The biggest cluster (by members, then nodes): the one a formed lab or a form runbook builds. */
  cluster: LabClusterStatus;
}

export { defaultStateDir };

async function limit<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: Math.min(n, queue.length) }, async () => {
    for (let t = queue.shift(); t !== undefined; t = queue.shift()) await fn(t);
  }));
}

/** Nodes on one address slot (127.0.<slot>.1-250), and the most one lab holds (four slots). */
const NODES_PER_SLOT = 250;
const MAX_LAB_NODES = 1000;

function validate(o: LabOptions): Required<Omit<LabOptions, 'stateDir' | 'user' | 'owner'>> & { stateDir: string; user?: string; owner?: string } {
  if (!NAME.test(o.name ?? '')) throw new LabInputError('--name', 'must be a lowercase DNS label (a-z, 0-9, "-"), e.g. --name demo');
  const cps = o.controlPlanes;
  if (!Number.isInteger(cps) || cps < 1) throw new LabInputError('--control-planes', 'must be a whole number >= 1, e.g. --control-planes 3');
  const workers = o.workers ?? 0;
  if (!Number.isInteger(workers) || workers < 0) throw new LabInputError('--workers', 'must be a whole number >= 0');
  if (cps + workers > MAX_LAB_NODES) throw new LabInputError('--control-planes', `a lab holds at most ${MAX_LAB_NODES} nodes (control planes + workers)`);
  const channel = o.channel ?? '1.28/stable';
  const ch = parseChannel(channel);
  if (!ch) throw new LabInputError('--channel', `"${channel}" is not a channel of the lab's store; use <1.20..1.32|latest>/<stable|candidate|beta|edge>, e.g. 1.28/stable`);
  const profile = o.profile ?? 'fast';
  if (profile !== 'fast' && profile !== 'realistic') throw new LabInputError('--profile', 'must be "fast" or "realistic"');
  const timeScale = o.timeScale ?? 1;
  if (!(timeScale > 0)) throw new LabInputError('--time-scale', 'must be a number > 0, e.g. 0.1');
  const stateDir = path.resolve(o.stateDir ?? defaultStateDir());
  if (/[\s"'$`\\]/.test(stateDir)) throw new LabInputError('--state-dir', 'must not contain spaces, quotes, "$", "`" or "\\" (sshd SetEnv and the inventory forbid them)');
  return { name: o.name, controlPlanes: cps, workers, channel: channelName(ch), formed: !!o.formed, profile, timeScale, stateDir, user: o.user, owner: o.owner };
}

export class Lab {
  readonly inventory: Inventory;

  private constructor(private readonly meta: LabMeta) {
    this.inventory = resolveInventory(YAML.parse(fs.readFileSync(this.inventoryPath, 'utf8')), this.inventoryPath);
  }

  get name(): string {
    return this.meta.name;
  }
  get dir(): string {
    return this.meta.dir;
  }
  get nodes(): LabNode[] {
    return this.meta.nodes;
  }
  get inventoryPath(): string {
    return path.join(this.dir, 'inventory.yaml');
  }
  get knownHostsPath(): string {
    return path.join(this.dir, 'known_hosts');
  }
  get keyPath(): string {
    return path.join(this.dir, 'id_ed25519');
  }
  get journalPath(): string {
    return journalPath(this.dir);
  }
  /** Directories `up` made passable for the SSH user. */
  get traversal(): string[] {
    return this.meta.traversal ?? [];
  }
  /** Who made it when not a person (`LabOptions.owner`). */
  get owner(): string | undefined {
    return this.meta.owner;
  }

  static labsDir(stateDir = defaultStateDir()): string {
    return path.join(stateDir, 'labs');
  }

  static list(stateDir = defaultStateDir()): Array<{ name: string; dir: string; nodes: number; slot: number; createdAt: string }> {
    const dir = Lab.labsDir(stateDir);
    if (!fs.existsSync(dir)) return [];
    return fs
      .readdirSync(dir)
      .filter((n) => NAME.test(n) && fs.existsSync(path.join(dir, n, 'lab.json')))
      .map((n) => {
        const m = JSON.parse(fs.readFileSync(path.join(dir, n, 'lab.json'), 'utf8')) as LabMeta;
        return { name: m.name, dir: m.dir, nodes: m.nodes.length, slot: m.slot, createdAt: m.createdAt };
      });
  }

  static open(name: string, stateDir = defaultStateDir()): Lab {
    // The name becomes a path: only a plain label, as `lab up` requires, so `--name ../../x` reaches nothing.
    if (!NAME.test(name)) throw new LabInputError('--name', `${JSON.stringify(name)} is not a lab name: a lowercase DNS label (a-z, 0-9, "-"), e.g. --name demo`);
    const dir = path.join(Lab.labsDir(path.resolve(stateDir)), name);
    const file = path.join(dir, 'lab.json');
    if (!fs.existsSync(file)) throw new LabInputError('--name', `no lab "${name}" in ${Lab.labsDir(stateDir)}; see \`runbook lab list\``);
    let meta: LabMeta;
    try {
      meta = JSON.parse(fs.readFileSync(file, 'utf8')) as LabMeta;
    } catch {
      throw new LabInputError('--name', `${file} is not a lab's lab.json; remove the directory ${dir} by hand if it is left over`);
    }
    // Teardown deletes meta.dir: it must be this very directory, whatever the file says.
    if (meta?.name !== name || typeof meta.dir !== 'string' || path.resolve(meta.dir) !== dir) {
      throw new LabInputError('--name', `${file} names another lab or directory; not touching it (remove ${dir} by hand if it is left over)`);
    }
    return new Lab(meta);
  }

  /**
   * Remove the lab called `name` whether it came up completely or not (a process that died half-way through `up`
   * leaves a directory without lab.json, and maybe sshd processes): its nodes and processes are ended, its directory
   * removed. `mayRemove` judges a complete lab by its owner first. False when there was nothing to remove.
   */
  static async destroy(name: string, stateDir: string, mayRemove: (owner: string | undefined) => boolean): Promise<boolean> {
    const dir = path.join(Lab.labsDir(path.resolve(stateDir)), name);
    if (fs.existsSync(path.join(dir, 'lab.json'))) {
      const lab = Lab.open(name, stateDir);
      if (!mayRemove(lab.owner)) throw new LabInputError('--name', `lab "${name}" in ${dir} was made by ${lab.owner ?? 'a person'}; not touching it`);
      await lab.down();
      return true;
    }
    if (!NAME.test(name) || !fs.existsSync(dir)) return false;
    await Lab.teardown(dir, []);
    return true;
  }

  static async up(options: LabOptions): Promise<Lab> {
    const o = validate(options);
    const sim = simulatorEntry();
    if (!fs.existsSync(sim)) throw new Error(`lab: the simulator is not built (${sim} missing); run \`npm run build\` first`);
    let account: LabAccount;
    try {
      account = labAccount(o.user);
    } catch (e) {
      if (e instanceof LabAccountError) throw new LabInputError('--user', e.message);
      throw e;
    }
    const dir = path.join(Lab.labsDir(o.stateDir), o.name);
    if (fs.existsSync(path.join(dir, 'lab.json'))) {
      throw new LabInputError('--name', `lab "${o.name}" already exists in ${dir}; run \`runbook lab down --name ${o.name}\` first or pick another name`);
    }
    fs.rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'claiming'), '');
    // 250 nodes to an address slot (127.0.<slot>.1-250): a bigger lab claims more.
    const slots: number[] = [];
    try {
      for (let i = 0; i < Math.ceil((o.controlPlanes + o.workers) / NODES_PER_SLOT); i++) slots.push(await claimSlot(dir));
      return await Lab.build(o, dir, slots, account);
    } catch (e) {
      await Lab.teardown(dir, slots);
      throw e;
    } finally {
      fs.rmSync(path.join(dir, 'claiming'), { force: true });
    }
  }

  private static async build(o: ReturnType<typeof validate>, dir: string, slots: number[], account: LabAccount): Promise<Lab> {
    const slot = slots[0];
    const ch = parseChannel(o.channel)!;
    const rel = initialRelease(ch);
    const { user, privilege } = account;
    const nodes: LabNode[] = [];
    for (let i = 0; i < o.controlPlanes + o.workers; i++) {
      const cp = i < o.controlPlanes;
      const name = cp ? `k8s-${i + 1}` : `k8s-w${i - o.controlPlanes + 1}`;
      nodes.push({ name, role: cp ? 'controlplane' : 'worker', address: `127.0.${slots[Math.floor(i / NODES_PER_SLOT)]}.${(i % NODES_PER_SLOT) + 1}`, root: snapPaths(dir, name).root });
    }
    const meta: LabMeta = { name: o.name, dir, stateDir: o.stateDir, slot, ...(slots.length > 1 ? { extraSlots: slots.slice(1) } : {}), createdAt: new Date().toISOString(), profile: o.profile, timeScale: o.timeScale, channel: o.channel, formed: o.formed, user, privilege, owner: o.owner, nodes };
    generateKey(path.join(dir, 'id_ed25519'), `lab-${o.name}`);
    fs.copyFileSync(path.join(dir, 'id_ed25519.pub'), path.join(dir, 'authorized_keys'));
    fs.writeFileSync(journalPath(dir), '');

    await limit(nodes, 8, (n) => installNode(dir, o.name, n, rel.revision, privilege ?? 'marker'));

    const now = Date.now();
    const state: LabState = { name: o.name, profile: o.profile, timeScale: o.timeScale, seq: 0, nodes: {}, clusters: {}, privilege };
    for (const n of nodes) state.nodes[n.name] = freshNode(dir, n, rel, o.channel, now);
    if (o.formed) startFormed(dir, state, Object.values(state.nodes), now);
    else for (const n of Object.values(state.nodes)) startAlone(dir, state, n, now);
    for (const c of Object.values(state.clusters)) c.available = hasQuorum(state, c, now);
    syncObjects(dir, state, now);
    fs.writeFileSync(statePath(dir), JSON.stringify(state));

    fs.writeFileSync(path.join(dir, 'inventory.yaml'), inventoryYaml(meta));
    fs.writeFileSync(path.join(dir, 'known_hosts'), nodes.map((n) => knownHostsLine(dir, n)).join(''));
    if (privilege === 'uid' && user !== 'root') meta.traversal = handOver(dir, nodes, user);
    await limit(nodes, 16, (n) => Lab.startNodeSshd(dir, n).then(() => undefined));
    startListeners(dir);
    fs.writeFileSync(path.join(dir, 'lab.json'), JSON.stringify(meta, null, 2));
    journal(dir, '-', 'lab-up', { nodes: nodes.length, formed: o.formed, channel: o.channel, profile: o.profile });
    return new Lab(meta);
  }

  /** @internal the boot process (lab/boot.ts) and heal start a node's sshd again. */
  static startNodeSshd(dir: string, n: LabNode) {
    const nodeDir = path.join(dir, 'nodes', n.name);
    const basePath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
    return startSshd({
      dir: path.join(nodeDir, 'sshd'),
      address: n.address,
      port: LAB_PORT,
      hostKeyFile: path.join(nodeDir, 'sshd', 'ssh_host_ed25519_key'),
      authorizedKeysFile: path.join(dir, 'authorized_keys'),
      // SHLVL=1 makes bash skip ~/.bashrc for ssh commands (it only sources it at shell level 1): lab nodes behave
      // like clean servers whatever the developer's rc files do, and commands start fast.
      env: { LAB_DIR: dir, LAB_NODE: n.name, SHLVL: '1', PATH: `${path.join(nodeDir, 'bin')}:${snapPaths(dir, n.name).snapBin}:${basePath}` },
    });
  }

  private pidFile(node: string): string {
    return path.join(this.dir, 'nodes', node, 'sshd', 'sshd.pid');
  }

  private node(name: string): LabNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new LabInputError('NODE', `no node "${name}" in lab ${this.name}; nodes: ${this.nodes.map((x) => x.name).join(', ')}`);
    return n;
  }

  async status(): Promise<LabStatus> {
    return withState(this.dir, (s, now) => {
      const clusters: LabClusterStatus[] = Object.values(s.clusters).map((c) => {
        const names = (role: number) => c.members.filter((m) => m.role === role).map((m) => m.node ?? m.address);
        const leader = leaderOf(s, c, now);
        const quorum = hasQuorum(s, c, now);
        return {
          id: c.id,
          nodes: Object.values(s.nodes).filter((n) => n.cluster === c.id).map((n) => n.name),
          leader: leader ? (leader.node ?? leader.address) : null,
          voters: names(0),
          standbys: names(1),
          spares: names(2),
          ha: votersOf(c).length > 2,
          quorum,
          available: quorum,
          epoch: c.epoch,
        };
      });
      const nodes: LabNodeStatus[] = Object.values(s.nodes).map((n) => {
        const c = s.clusters[n.cluster];
        const m = c?.members.find((x) => x.node === n.name);
        const k = c?.k8sNodes.find((x) => x.name === n.name);
        return {
          name: n.name,
          role: n.role,
          joinedAs: n.worker ? 'worker' : 'controlplane',
          address: n.address,
          power: n.power,
          services: n.services,
          version: n.snap.current.version,
          revision: n.snap.current.revision,
          channel: n.snap.tracking,
          held: !!n.snap.hold,
          cordoned: !!k?.cordoned,
          ready: !!c && nodeReady(s, c, n.name, now),
          cluster: n.cluster,
          dqlite:
            m && c
              ? { role: ROLE_NAMES[m.role], id: m.id, address: m.address, up: memberUp(s, c, m, now), error: n.dqlite.error }
              : !n.worker && n.dqlite.error
                ? { role: 'none', id: n.dqlite.id, address: n.dqlite.address, up: false, error: n.dqlite.error }
                : null,
          pods: c ? c.pods.filter((p) => p.node === n.name).map((p) => `${p.ns}/${p.name}`) : [],
          leader: !!m && !!c && leaderOf(s, c, now) === m,
          kubernetes: !!k,
          certs: Object.fromEntries(Object.entries(n.certs ?? {}).map(([f, at]) => [f, new Date(at).toISOString()])),
          needsRejoin: !!n.needsRejoin,
          bootId: n.host?.bootId ?? '',
          rebootRequired: n.host?.rebootRequired ?? null,
        };
      });
      const size = (c: LabClusterStatus) => c.voters.length + c.standbys.length + c.spares.length + c.nodes.length / 1000;
      const cluster = [...clusters].sort((a, b) => size(b) - size(a))[0];
      return { name: s.name, profile: s.profile, nodes, clusters, cluster };
    });
  }

  journal(): JournalEntry[] {
    if (!fs.existsSync(this.journalPath)) return [];
    return fs
      .readFileSync(this.journalPath, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as JournalEntry);
  }

  async fault(node: string, kind: FaultKind, opts: FaultOptions = {}): Promise<void> {
    this.node(node);
    if (kind === 'block-port' && !validPort(opts.port)) throw new LabInputError('--port', 'block-port needs the TCP port to block, 1-65535, e.g. --port 25000');
    if (opts.clusterOf !== undefined) this.node(opts.clusterOf);
    applyFault(this.dir, node, kind, opts, this.pidFile(node));
  }

  async heal(node?: string): Promise<void> {
    const targets = node ? [this.node(node)] : this.nodes;
    for (const n of targets) {
      const restart = healNode(this.dir, n.name, this.pidFile(n.name));
      if (restart) await Lab.startNodeSshd(this.dir, n);
    }
  }

  /** The nodes' SSH user (the inventory's `user`). */
  get user(): string {
    return this.meta.user;
  }

  /**
   * Replace NODE's machine (§13): the same address, a fresh OS and `snap install microk8s` on `channel` (default the
   * lab's), a new SSH host key (written to the lab's known_hosts, as the operator would after checking it), a new boot
   * id, unclustered. The old machine's dqlite member and Node object stay in its cluster until removed, as they do
   * when a real node is rebuilt.
   */
  async rebuild(node: string, opts: { channel?: string } = {}): Promise<void> {
    const n = this.node(node);
    const channel = opts.channel ?? this.meta.channel;
    const ch = parseChannel(channel);
    if (!ch) throw new LabInputError('--channel', `"${channel}" is not a channel of the lab's store; e.g. --channel 1.28/stable`);
    killNode(this.pidFile(node));
    const p = snapPaths(this.dir, node);
    for (const d of [p.snap, p.snapData, path.dirname(hostPaths(this.dir, node).rebootRequired)]) fs.rmSync(d, { recursive: true, force: true });
    const rel = initialRelease(ch);
    await installNode(this.dir, this.name, n, rel.revision, this.meta.privilege ?? 'marker');
    withState(this.dir, (s, now) => {
      const old = s.nodes[node];
      const c = s.clusters[old.cluster];
      // The old machine's member stays behind, answering for nobody (a stale member until remove-node --force).
      if (c) for (const m of c.members) if (m.node === node) m.node = null;
      s.nodes[node] = freshNode(this.dir, n, rel, channelName(ch), now);
      startAlone(this.dir, s, s.nodes[node], now);
      journal(this.dir, node, 'rebuilt', { channel: channelName(ch), bootId: s.nodes[node].host?.bootId });
    });
    const lines = fs.readFileSync(this.knownHostsPath, 'utf8').split('\n').filter((l) => l && !l.startsWith(`[${n.address}]:`));
    fs.writeFileSync(this.knownHostsPath, [...lines, knownHostsLine(this.dir, n).trimEnd()].join('\n') + '\n');
    if (this.meta.privilege === 'uid' && this.meta.user !== 'root') handOver(this.dir, [n], this.meta.user);
    await Lab.startNodeSshd(this.dir, n);
  }

  /** Run a command on a node over real SSH (the lab's key and known_hosts), as the lab's user or `opts.user`. */
  exec(node: string, command: string, opts: { input?: string | Buffer; timeoutMs?: number; user?: string } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const n = this.node(node);
    return new Promise((resolve) => {
      const child = spawn('ssh', [...this.sshOptions(), `${opts.user ?? this.meta.user}@${n.address}`, command], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
      child.on('close', (code) => {
        if (timer) clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
      child.stdin.on('error', () => undefined); // a node that is down closes the pipe first (EPIPE)
      child.stdin.end(opts.input ?? '');
    });
  }

  /** ssh(1) options for this lab: key, known_hosts, port, no agent or config surprises. */
  sshOptions(): string[] {
    // Connection sharing: one SSH handshake per node (~0.3 s) instead of one per command; down() ends the masters.
    const mux = ['-o', 'ControlMaster=auto', '-o', `ControlPath=${path.join(this.dir, 'cm-%r@%h')}`, '-o', 'ControlPersist=120'];
    return ['-F', '/dev/null', ...mux, '-i', this.keyPath, '-o', `UserKnownHostsFile=${this.knownHostsPath}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=5', '-p', String(LAB_PORT)];
  }

  /** The simulated truth without settling time (for quick reads). */
  rawState(): LabState {
    return readState(this.dir);
  }

  timing() {
    return timingFor(this.meta.profile, this.meta.timeScale);
  }

  async down(): Promise<void> {
    const masters = fs.existsSync(this.dir) ? fs.readdirSync(this.dir).filter((f) => /^cm-[a-z_][a-z0-9_-]*@[0-9.]+$/.test(f)) : [];
    await Promise.all(masters.map((f) => run('ssh', [...this.sshOptions(), '-O', 'exit', f.slice(3)]).catch(() => undefined)));
    await Lab.teardown(this.dir, [this.meta.slot, ...(this.meta.extraSlots ?? [])]);
  }

  private static async teardown(dir: string, slots: number[]): Promise<void> {
    stopListeners(dir);
    const nodesDir = path.join(dir, 'nodes');
    if (fs.existsSync(nodesDir)) {
      for (const n of fs.readdirSync(nodesDir)) killNode(path.join(nodesDir, n, 'sshd', 'sshd.pid'));
    }
    for (const pid of labProcesses(dir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    for (const slot of slots) releaseSlot(slot, dir);
    // Killed processes (a command's last journal line, an ssh master removing its socket) may still touch the
    // directory for a moment: retry the removal a while before giving up.
    for (let attempt = 1; ; attempt++) {
      try {
        fs.rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
        return;
      } catch (e) {
        if (attempt >= 5 || !['ENOTEMPTY', 'EBUSY', 'EPERM'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }
}

function inventoryYaml(m: LabMeta): string {
  const doc = {
    cluster: m.name,
    knownHosts: path.join(m.dir, 'known_hosts'),
    hostKeyPolicy: 'strict',
    defaults: { user: m.user, port: LAB_PORT, identityFile: path.join(m.dir, 'id_ed25519'), become: 'sudo' },
    nodes: m.nodes.map((n) => {
      const p = snapPaths(m.dir, n.name);
      const h = hostPaths(m.dir, n.name);
      return { name: n.name, address: n.address, role: n.role, paths: { snapBin: p.snapBin, snap: p.snap, snapData: p.snapData, rebootRequired: h.rebootRequired, bootId: h.bootId } };
    }),
  };
  return `# Written by the lab "${m.name}"; nodes are sshd processes on loopback addresses.\n${YAML.stringify(doc)}`;
}

export { freezeNode, servicesUp };

/**
 * A lab run as root, logging in as an unprivileged account: that account owns the lab's shared files (the state, its
 * lock and the journal, written by every command), root owns the rest, and each backend directory is root's with
 * group `microk8s`, 2770, files 0660 (reference §7). The account must reach the lab and the simulator.
 */
function handOver(dir: string, nodes: LabNode[], user: string): string[] {
  const { uid, gid } = idsOf(user);
  for (const f of [dir, statePath(dir), journalPath(dir)]) fs.chownSync(f, uid, gid);
  const microk8s = groupId(MICROK8S_GROUP);
  for (const n of nodes) {
    const data = snapPaths(dir, n.name).snapData;
    for (const rev of fs.readdirSync(data)) {
      const backend = path.join(data, rev, 'var/kubernetes/backend');
      if (rev === 'current' || !fs.existsSync(backend)) continue;
      fs.chownSync(backend, 0, microk8s);
      fs.chmodSync(backend, 0o2770);
      for (const f of fs.readdirSync(backend)) {
        fs.chownSync(path.join(backend, f), 0, microk8s);
        fs.chmodSync(path.join(backend, f), 0o660);
      }
    }
  }
  return [...new Set([...grantTraversal(path.join(dir, 'x'), uid), ...grantTraversal(simulatorEntry(), uid)])];
}

/** Per node: host key, snap layout, shims, a server certificate (join fingerprint) and a dqlite cluster pair. */
async function installNode(dir: string, labName: string, n: LabNode, revision: number, privilege: Privilege): Promise<void> {
  const sshdDir = path.join(dir, 'nodes', n.name, 'sshd');
  fs.mkdirSync(sshdDir, { recursive: true });
  installRevision(dir, n.name, revision);
  const p = snapPaths(dir, n.name);
  setCurrent(p.snapData, revision);
  setCurrent(p.snap, revision);
  fs.mkdirSync(p.common, { recursive: true });
  nodeShims(dir, n.name, privilege === 'marker');
  const certs = path.join(p.data, 'certs');
  const openssl = (key: string, crt: string, cn: string, extra: string[] = []) =>
    run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '3650', '-subj', `/CN=${cn}`, '-keyout', key, '-out', crt, ...extra]);
  const hostKey = path.join(sshdDir, 'ssh_host_ed25519_key');
  fs.rmSync(hostKey, { force: true });
  fs.rmSync(`${hostKey}.pub`, { force: true });
  await Promise.all([
    run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${n.name}@${labName}`, '-f', hostKey]),
    openssl(path.join(certs, 'server.key'), path.join(certs, 'server.crt'), n.address, ['-addext', `subjectAltName=IP:${n.address},IP:127.0.0.1`]),
    openssl(path.join(p.backend, 'cluster.key'), path.join(p.backend, 'cluster.crt'), 'k8s'),
  ]);
  fs.copyFileSync(path.join(certs, 'server.crt'), path.join(certs, 'ca.crt'));
}

/** A node as `snap install microk8s` leaves it: running, unclustered, on `channel`, a new boot and fresh certificates. */
function freshNode(dir: string, n: LabNode, rel: { revision: number; version: string }, channel: string, now: number): NodeState {
  const node: NodeState = {
    name: n.name,
    address: n.address,
    role: n.role,
    power: 'running',
    services: 'running',
    cluster: '',
    worker: false,
    dqlite: { id: '', address: '', ok: true, error: null },
    snap: { current: { revision: rel.revision, version: rel.version, channel }, previous: [], tracking: channel, hold: null, refreshingUntil: 0 },
    restartUntil: 0,
    kubeliteFailed: false,
    faults: {},
    certs: freshCerts(now),
  };
  newBoot(dir, node);
  return node;
}

function knownHostsLine(dir: string, n: LabNode): string {
  const pub = fs.readFileSync(path.join(dir, 'nodes', n.name, 'sshd', 'ssh_host_ed25519_key.pub'), 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  return `[${n.address}]:${LAB_PORT} ${pub}\n`;
}

/** Start a node's sshd again in the lab at `labDir` (the boot process of a reboot). */
export function startNodeSshdIn(labDir: string, node: string): Promise<unknown> {
  const meta = JSON.parse(fs.readFileSync(path.join(labDir, 'lab.json'), 'utf8')) as LabMeta;
  const n = meta.nodes.find((x) => x.name === node);
  if (!n) throw new Error(`no node ${node} in ${labDir}`);
  return Lab.startNodeSshd(labDir, n);
}
