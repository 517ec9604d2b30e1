/** `microk8s add-node`, `join`, `leave` and `remove-node` (behaviour reference §1, §2, §4). */
import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { formatInfoYaml, formatMembersYaml, readFailureDomain, snapPaths, syncClusterYamls, writeRaftFiles } from './backend';
import { certsOf, copyCaFiles } from './certs';
import { Exit, type Sim } from './context';
import { ACTING_AS_NODE, NOT_RUNNING, REFUSED, apiUp, exitIfStopped, isWorker, lockExists } from './guards';
import { generateId, openBytes, setLocks, startAlone } from './install';
import { type Cluster, type LabState, type NodeState, DQLITE_PORT, LOCAL_DQLITE, SPARE, VOTER, ensureDaemonSets, hasQuorum, servicesUp } from './model';
import { AGENT_PORT, EXTRA_IP, portBlocked, portState } from './network';
import { scheduleRebalance } from './store';
import { isIPv4 } from '../../common/inventory';

const FORMATS = ['pretty', 'short', 'token', 'token-check', 'json', 'yaml'];
const ADD_NODE_USAGE = 'usage: microk8s add-node [-h] [--token-ttl TOKEN_TTL] [--token TOKEN] [--format {pretty,short,token,token-check,json,yaml}]';

export function certCheck(serverCrt: string): string {
  const pem = fs.readFileSync(serverCrt, 'utf8');
  const b64 = pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
  return createHash('sha256').update(Buffer.from(b64, 'base64')).digest('hex').slice(0, 12);
}

function argparseError(sim: Sim, msg: string): never {
  sim.err(`${ADD_NODE_USAGE}\nmicrok8s add-node: error: ${msg}`);
  throw new Exit(2);
}

export function addNode(sim: Sim, args: string[]): number {
  if (isWorker(sim)) {
    sim.out('This MicroK8s deployment is acting as a node in a cluster. Please use the microk8s add-node on the master.');
    return 1;
  }
  if (args.some((a) => a.includes('help'))) {
    sim.out(`${ADD_NODE_USAGE}\n\noptions:\n  -h, --help            show this help message and exit\n  --token-ttl TOKEN_TTL, -l TOKEN_TTL\n                        Specify how long the token is valid, before it expires. Value of "-1" indicates that the token is usable only once (i.e. after joining a node, the token becomes invalid)\n  --token TOKEN, -t TOKEN\n                        Specify the bootstrap token to add, must be 32 characters long. Auto generates when empty.\n  --format {pretty,short,token,token-check,json,yaml}\n                        Format the output of the token in pretty, short, token, or token-check`);
    return 0;
  }
  if (lockExists(sim, 'stopped.lock')) {
    sim.out(NOT_RUNNING);
    return 1;
  }
  let ttl = -1;
  let token: string | undefined;
  let format = 'pretty';
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].includes('=') ? [args[i].slice(0, args[i].indexOf('=')), args[i].slice(args[i].indexOf('=') + 1)] : [args[i], undefined];
    const value = () => {
      const v = inline ?? args[++i];
      if (v === undefined) argparseError(sim, `argument ${flag}: expected one argument`);
      return v;
    };
    if (flag === '--token-ttl' || flag === '-l') {
      const v = value();
      if (!/^-?\d+$/.test(v)) argparseError(sim, `argument --token-ttl/-l: invalid int value: '${v}'`);
      ttl = Number(v);
    } else if (flag === '--token' || flag === '-t') token = value();
    else if (flag === '--format') {
      const v = value();
      if (!FORMATS.includes(v)) argparseError(sim, `argument --format: invalid choice: '${v}' (choose from ${FORMATS.map((f) => `'${f}'`).join(', ')})`);
      format = v;
    } else argparseError(sim, `unrecognized arguments: ${args.slice(i).join(' ')}`);
  }
  if (token !== undefined && token.length < 32) {
    sim.out('Invalid token size.  It must be 32 characters long.');
    return 1;
  }
  token ??= randomBytes(16).toString('hex');
  const p = snapPaths(sim.labDir, sim.node);
  const line = ttl === -1 ? `${token}\n` : `${token}|${Math.round(Date.now() / 1000) + ttl}\n`;
  fs.appendFileSync(p.tokens, line);
  sim.event('token-created', { ttl });
  const check = certCheck(p.serverCrt);
  const self = sim.peek().nodes[sim.node];
  const ips = [self.address, EXTRA_IP];
  const url = (ip: string) => `${ip}:25000/${token}/${check}`;
  switch (format) {
    case 'token':
      sim.out(token);
      break;
    case 'token-check':
      sim.out(`${token}/${check}`);
      break;
    case 'short':
      for (const ip of ips) sim.out(`microk8s join ${url(ip)}`);
      break;
    case 'json':
      sim.out(JSON.stringify({ token: `${token}/${check}`, urls: ips.map(url) }, null, 2));
      break;
    case 'yaml':
      sim.out(`token: ${token}/${check}\nurls:\n${ips.map((ip) => `- ${url(ip)}`).join('\n')}\n`);
      break;
    default: {
      sim.out('From the node you wish to join to this cluster, run the following:');
      sim.out(`microk8s join ${url(self.address)}\n`);
      if (lockExists(sim, 'ha-cluster')) {
        sim.out("Use the '--worker' flag to join a node as a worker not running the control plane, eg:");
        sim.out(`microk8s join ${url(self.address)} --worker\n`);
      }
      sim.out('If the node you are adding is not reachable through the default interface you can use one of the following:');
      for (const ip of ips) sim.out(`microk8s join ${url(ip)}`);
    }
  }
  return 0;
}

const JOIN_USAGE = "Usage: microk8s join [OPTIONS] CONNECTION\nTry 'microk8s join -h' for help.\n";

function traceback(sim: Sim, last: string): never {
  sim.err(
    [
      'Traceback (most recent call last):',
      '  File "/snap/microk8s/current/scripts/wrappers/join.py", line 1069, in <module>',
      '    join(prog_name="microk8s join")',
      '  File "/snap/microk8s/current/usr/lib/python3/dist-packages/click/core.py", line 1128, in __call__',
      '    return self.main(*args, **kwargs)',
      '  File "/snap/microk8s/current/scripts/wrappers/join.py", line 421, in get_connection_info',
      '    connection.request("POST", "/cluster/api/v2.0/join", headers=headers, body=json.dumps(req_data))',
      '  File "/usr/lib/python3.10/socket.py", line 833, in create_connection',
      '    sock.connect(sa)',
      last,
    ].join('\n'),
  );
  throw new Exit(1);
}

type JoinOutcome = { ok: true; cluster: Cluster; movedSeed: boolean; converged: boolean } | { ok: false; message: string; status: number } | { ok: false; trap: string };

export async function join(sim: Sim, args: string[]): Promise<number> {
  let worker = false;
  let controlplaneFlag = false;
  let skipVerify = false;
  let conn: string | undefined;
  for (const a of args) {
    if (a === '--worker') worker = true;
    else if (a === '--controlplane') controlplaneFlag = true;
    else if (a === '--skip-verify') skipVerify = true;
    else if (a === '--disable-low-memory-guard') continue;
    else if (a === '-h' || a === '--help') {
      sim.out('Usage: microk8s join [OPTIONS] CONNECTION\n\n  Join the node to a cluster\n\n  CONNECTION: the cluster connection endpoint in format <master>:<port>/<token>\n\nOptions:\n  --worker                     Join as a worker node.\n  --controlplane               Join running the control plane on HA clusters. (default)\n  --skip-verify                Skip the certificate verification of the node we are joining to. (default: false)\n  --disable-low-memory-guard   Disable the low memory guard. (default: false)\n  -h, --help                   Show this message and exit.');
      return 0;
    } else if (a.startsWith('-')) {
      sim.err(`${JOIN_USAGE}\nError: No such option: ${a}`);
      return 2;
    } else if (conn === undefined) conn = a;
    else {
      sim.err(`${JOIN_USAGE}\nError: Got unexpected extra argument (${a})`);
      return 2;
    }
  }
  if (conn === undefined) {
    sim.err(`${JOIN_USAGE}\nError: Missing argument 'CONNECTION'.`);
    return 2;
  }
  const invalid = (why: string) => {
    sim.out(`Invalid connection: ${why}`);
    return 1;
  };
  const parts = conn.split('/');
  if (parts.length < 2 || parts.length > 3) return invalid('Expected format: <master_IP>:<master_PORT>/<token>[/<fingerprint>]');
  const hostPort = parts[0].split(':');
  if (hostPort.length !== 2) return invalid('Expected format: <master_IP>:<master_PORT>/<token>[/<fingerprint>]');
  const [ip, portText] = hostPort;
  if (!isIPv4(ip)) return invalid('Invalid master IP');
  if (!/^\d+$/.test(portText)) return invalid('Master PORT not a number');
  const port = Number(portText);
  if (port < 1 || port > 65535) return invalid('Master PORT not in range 1:65535');
  const token = parts[1];
  if (token.length < 32) return invalid('Cluster token size should be at least 32 bytes');
  const fingerprint = parts[2];
  if (fingerprint !== undefined && fingerprint.length < 12) return invalid('Fingerprint should be at least 12 bytes');

  sim.out(`Contacting cluster at ${ip}`);
  // join.py marks the join in progress and removes the mark only on success (§0): a failed join, or one killed
  // from here on, leaves it behind.
  const joinLock = path.join(snapPaths(sim.labDir, sim.node).locks, 'join-in-progress');
  fs.writeFileSync(joinLock, '');
  // The same reachability `nc -z` answers from (sim/network.ts): down machine, hung machine or blocked port, stopped.
  const reach = portState(sim.peek(), ip, port, Date.now());
  if (!reach.open) {
    if (reach.why === 'no-route') traceback(sim, 'OSError: [Errno 113] No route to host');
    if (reach.why === 'timeout') {
      await sim.sleep(sim.timing.connectTimeoutMs);
      traceback(sim, 'TimeoutError: [Errno 110] Connection timed out');
    }
    traceback(sim, 'ConnectionRefusedError: [Errno 111] Connection refused');
  }
  // Something else listens there (dqlite, the API server): not the cluster agent.
  if (port !== AGENT_PORT) traceback(sim, 'ConnectionRefusedError: [Errno 111] Connection refused');
  const target = reach.node;
  if (fingerprint !== undefined && !skipVerify) {
    const actual = certCheck(snapPaths(sim.labDir, target.name).serverCrt);
    if (!actual.startsWith(fingerprint.slice(0, 12)) || !fingerprint.startsWith(actual.slice(0, Math.min(12, fingerprint.length)))) {
      sim.out(`Joining cluster failed. Could not verify the identity of ${ip}. Use '--skip-verify' to skip server certificate check.`);
      return 4;
    }
  }

  const outcome = sim.state((s, now, self): JoinOutcome => {
    const t = s.nodes[target.name];
    // The `burn-next-token` fault: this node's token was burnt (as by an earlier failed attempt), whatever its TTL.
    if (self.faults.burnNextToken) {
      delete self.faults.burnNextToken;
      burnToken(sim, t.name, token);
      return { ok: false, message: 'Invalid token', status: 500 };
    }
    // The agent consumes a single-use token first, before any other check: a failed join still burns it.
    if (!consumeToken(sim, t.name, token, now)) return { ok: false, message: 'Invalid token', status: 500 };
    if (t.name === self.name) return { ok: false, message: `The joining node has the same IP (${ip}) as the node we contact`, status: 503 };
    const c = s.clusters[t.cluster];
    if (t.worker || !c) return { ok: false, message: 'Invalid token', status: 500 };
    if (!hasQuorum(s, c, now)) return { ok: false, message: 'Failed to retrieve dqlite cluster nodes: no available dqlite leader server found', status: 500 };
    if (!worker && c.members.some((m) => m.address === `${self.address}:${DQLITE_PORT}`)) {
      return { ok: false, message: `Failed to retrieve dqlite cluster nodes: the joining node (${self.address}) is already known to dqlite`, status: 500 };
    }
    if (controlplaneFlag) return { ok: false, trap: 'Joining process failed. Make sure the cluster you connect to supports joining worker nodes.' };
    const movedSeed = moveSeed(sim, t, c);
    // The join trap (reference §2, failure mode 6): dqlite never converges, yet join prints success and exits 0.
    const why = worker ? undefined : nonConvergence(s, self, c);
    if (why) {
      applyUnconvergedJoin(sim, s, self, t, c, why);
      return { ok: true, cluster: c, movedSeed, converged: false };
    }
    applyJoin(sim, s, self, t, c, worker, now);
    return { ok: true, cluster: c, movedSeed, converged: true };
  });
  if (!outcome.ok) {
    if ('trap' in outcome) {
      sim.out(outcome.trap);
      return 1;
    }
    sim.out(`Connection failed. ${outcome.message} (${outcome.status}).`);
    return 6;
  }
  const tm = sim.timing;
  // The agent's first join to a lone node restarts that node's k8s-dqlite on its real IP (wrapper sleeps 6 s).
  if (outcome.movedSeed) await sim.sleep(tm.dqliteRestartMs);
  if (worker) {
    await sim.sleep(tm.joinMs);
    sim.out(
      '\nThe node has joined the cluster and will appear in the nodes list in a few seconds.\n\n' +
        'This worker node gets automatically configured with the API server endpoints.\n' +
        "If the API servers are behind a loadbalancer please set the '--refresh-interval' to '0s' in:\n" +
        '    /var/snap/microk8s/current/args/apiserver-proxy\n' +
        'and replace the API server endpoints with the one provided by the loadbalancer in:\n' +
        '    /var/snap/microk8s/current/args/traefik/provider.yaml\n',
    );
  } else {
    // join.py: `sleep 10`, then up to 10 polls of `.cluster`, each failed one printing `.. ` (streamed, so a
    // watcher sees bytes). A join that does not converge uses all 10 polls and still reports success.
    sim.print('Waiting for this node to finish joining the cluster. ');
    await sim.sleep(tm.joinSettleMs);
    const polls = outcome.converged ? tm.joinPolls : 10;
    for (let i = 0; i < polls; i++) {
      await sim.sleep(tm.joinPollMs);
      sim.print('.. ');
    }
    sim.print('\n');
  }
  fs.rmSync(joinLock, { force: true });
  sim.out('Successfully joined the cluster.');
  return 0;
}

/** Check a token on the contacted node; single-use tokens are removed, TTL tokens stay until they expire. */
function consumeToken(sim: Sim, node: string, token: string, now: number): boolean {
  const file = snapPaths(sim.labDir, node).tokens;
  const lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
  const idx = lines.findIndex((l) => l.split('|')[0] === token);
  if (idx < 0) return false;
  const [, expiry] = lines[idx].split('|');
  if (expiry === undefined) {
    lines.splice(idx, 1);
    fs.writeFileSync(file, lines.map((l) => l + '\n').join(''));
    sim.event('token-burnt', {}, node);
    return true;
  }
  return now / 1000 < Number(expiry);
}

/** Remove a token whatever its TTL (the `burn-next-token` fault). */
function burnToken(sim: Sim, node: string, token: string): void {
  const file = snapPaths(sim.labDir, node).tokens;
  const lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
  const kept = lines.filter((l) => l.split('|')[0] !== token);
  if (kept.length === lines.length) return;
  fs.writeFileSync(file, kept.map((l) => l + '\n').join(''));
  sim.event('token-burnt', { fault: 'burn-next-token' }, node);
}

/** Leave the node's current cluster: a lone cluster dissolves, a member of a bigger one stays behind as stale. */
function detach(s: LabState, self: NodeState): void {
  const old = s.clusters[self.cluster];
  if (!old) return;
  const others = old.members.filter((m) => m.node !== self.name);
  if (others.length === 0) {
    old.members = [];
    old.k8sNodes = old.k8sNodes.filter((k) => k.name !== self.name);
    old.pods = old.pods.filter((p) => p.node !== self.name);
  } else {
    for (const m of old.members) if (m.node === self.name) m.node = null;
  }
}

/** First join to a lone node: its dqlite moves from 127.0.0.1:19001 to the contacted IP. */
function moveSeed(sim: Sim, t: NodeState, c: Cluster): boolean {
  const tp = snapPaths(sim.labDir, t.name);
  fs.writeFileSync(path.join(tp.locks, 'no-cert-reissue'), '');
  if (!(c.members.length === 1 && c.members[0].address === LOCAL_DQLITE && c.members[0].node === t.name)) return false;
  const seed = c.members[0];
  seed.address = `${t.address}:${DQLITE_PORT}`;
  t.dqlite.address = seed.address;
  c.leader = seed.address;
  fs.writeFileSync(path.join(tp.backend, 'info.yaml'), formatInfoYaml(seed));
  fs.writeFileSync(path.join(tp.backend, 'cluster.yaml'), formatMembersYaml(c.members));
  return true;
}

/**
 * Why a control-plane join would not converge, if it would not: the `no-converge` fault, a voter that is down
 * (crashed, hung, destroyed, stopped or failing) while the cluster still has quorum, or 19001/tcp blocked (a
 * `block-port` fault) on a voter or on the joining node (reference failure mode 6). A voter merely restarting
 * (refresh, start) does not count, so quick runbook sequences are not trapped by chance.
 */
export function nonConvergence(s: LabState, self: NodeState, c: Cluster): string | undefined {
  if (self.faults.noConverge) return 'no-converge fault';
  for (const m of c.members) {
    if (m.role !== VOTER) continue;
    const n = m.node ? s.nodes[m.node] : undefined;
    if (!n || n.power !== 'running' || n.services !== 'running' || !n.dqlite.ok || n.cluster !== c.id) return `voter ${m.address} is down`;
    if (portBlocked(n, DQLITE_PORT)) return `voter ${m.address} is unreachable (${DQLITE_PORT}/tcp blocked)`;
  }
  if (portBlocked(self, DQLITE_PORT)) return `${self.address}:${DQLITE_PORT} is unreachable (${DQLITE_PORT}/tcp blocked)`;
  return undefined;
}

/**
 * The trapped join: the token is burnt and the backend was switched over (old one in backend.backup/, new one
 * with the cluster's certificate and an init.yaml), but the node never became a dqlite member: it is not in
 * `.cluster`, registers no Node, and its k8s-dqlite fails, so `status` says not running and kubectl is refused.
 */
function applyUnconvergedJoin(sim: Sim, s: LabState, self: NodeState, t: NodeState, c: Cluster, why: string): void {
  const tp = snapPaths(sim.labDir, t.name);
  const p = snapPaths(sim.labDir, self.name);
  detach(s, self);
  self.cluster = c.id;
  self.worker = false;
  const address = `${self.address}:${DQLITE_PORT}`;
  self.dqlite = { id: '', address, ok: false, error: `join did not converge (${why}): this node is not a member of the cluster` };
  delete self.faults.noConverge;
  const backup = path.join(path.dirname(p.backend), 'backend.backup');
  fs.rmSync(backup, { recursive: true, force: true });
  fs.renameSync(p.backend, backup);
  fs.mkdirSync(p.backend, { recursive: true });
  fs.copyFileSync(path.join(tp.backend, 'cluster.crt'), path.join(p.backend, 'cluster.crt'));
  fs.copyFileSync(path.join(tp.backend, 'cluster.key'), path.join(p.backend, 'cluster.key'));
  const voters = c.members.filter((m) => m.role === VOTER).map((m) => `- ${m.address}\n`).join('');
  fs.writeFileSync(path.join(p.backend, 'init.yaml'), `Address: ${address}\nCluster:\n${voters}`);
  fs.writeFileSync(path.join(p.backend, 'join'), '');
  setLocks(sim.labDir, self.name, false, true);
  sim.event('join-not-converged', { cluster: c.id, via: t.name, reason: why });
}

function applyJoin(sim: Sim, s: LabState, self: NodeState, t: NodeState, c: Cluster, worker: boolean, now: number): void {
  const tp = snapPaths(sim.labDir, t.name);
  detach(s, self);
  const p = snapPaths(sim.labDir, self.name);
  c.k8sNodes = c.k8sNodes.filter((k) => k.name !== self.name);
  c.pods = c.pods.filter((pod) => pod.node !== self.name || pod.kind !== 'DaemonSet');
  c.k8sNodes.push({ name: self.name, created: now, cordoned: false, worker });
  self.cluster = c.id;
  self.worker = worker;
  // The joiner receives the cluster's CA (join.py); its own server and front-proxy certificates stay.
  self.certs = { ...certsOf(self, now), 'ca.crt': certsOf(t, now)['ca.crt'] };
  copyCaFiles(sim.labDir, t.name, self.name);
  delete self.needsRejoin;
  if (worker) {
    self.dqlite = { id: '', address: '', ok: true, error: null };
  } else {
    const address = `${self.address}:${DQLITE_PORT}`;
    const member = { id: generateId(address), address, role: SPARE as 0 | 1 | 2, node: self.name };
    c.members.push(member);
    self.dqlite = { id: member.id, address, ok: true, error: null };
    // join moves the old backend aside and starts from the cluster's certificate and a copy of the data.
    const backup = path.join(path.dirname(p.backend), 'backend.backup');
    fs.rmSync(backup, { recursive: true, force: true });
    fs.renameSync(p.backend, backup);
    fs.mkdirSync(p.backend, { recursive: true });
    fs.copyFileSync(path.join(tp.backend, 'cluster.crt'), path.join(p.backend, 'cluster.crt'));
    fs.copyFileSync(path.join(tp.backend, 'cluster.key'), path.join(p.backend, 'cluster.key'));
    fs.writeFileSync(path.join(p.backend, 'info.yaml'), formatInfoYaml(member));
    fs.writeFileSync(path.join(p.backend, 'cluster.yaml'), formatMembersYaml(c.members));
    fs.writeFileSync(path.join(p.backend, 'failure-domain'), `${readFailureDomain(p.haConf)}\n`);
    writeRaftFiles(p.backend, { epoch: c.epoch, origin: self.name, term: c.term, index: c.index, now, openBytes: openBytes(s) });
  }
  setLocks(sim.labDir, self.name, worker, true);
  ensureDaemonSets(c, now);
  scheduleRebalance(s, c, now);
  syncClusterYamls(sim.labDir, s, c, (n) => servicesUp(s.nodes[n], now));
  sim.event('joined', { cluster: c.id, via: t.name, as: worker ? 'worker' : 'controlplane' });
}

export async function leave(sim: Sim, args: string[]): Promise<number> {
  if (args.some((a) => a === '-h' || a === '--help')) {
    sim.out('Usage: microk8s leave\n\n  The node will depart from the cluster it is in.\n\nOptions:\n  -h, --help  Show this message and exit.');
    return 0;
  }
  exitIfStopped(sim);
  const worker = isWorker(sim);
  if (!worker && !lockExists(sim, 'no-cert-reissue')) {
    sim.out('This MicroK8s deployment is not acting as a node in a cluster.');
    return 1;
  }
  const verdict = sim.state((s, now, self) => {
    const c = s.clusters[self.cluster];
    if (worker || !c) return 'ok';
    const me = c.members.find((m) => m.node === self.name);
    const voters = c.members.filter((m) => m.role === VOTER);
    if (me && voters.length === 1 && voters[0] === me && c.members.length > 1) return 'only-voter';
    if (!hasQuorum(s, c, now)) return 'no-leader';
    return 'ok';
  });
  if (verdict === 'only-voter') {
    sim.out(
      'This node currently holds the only copy of the Kubernetes database so it cannot leave the cluster.\n' +
        "To remove this node you can either first remove all other nodes with 'microk8s remove-node' or\n" +
        'form a highly available cluster by adding at least three nodes.',
    );
    return 3;
  }
  if (verdict === 'no-leader') {
    const self = sim.peek().nodes[sim.node];
    sim.out(`Contacting node ${self.dqlite.address} failed. Error:`);
    sim.out(`CalledProcessError(1, ['/snap/microk8s/current/bin/dqlite', '-s', 'file:///var/snap/microk8s/current/var/kubernetes/backend/cluster.yaml', '-c', '/var/snap/microk8s/current/var/kubernetes/backend/cluster.crt', '-k', '/var/snap/microk8s/current/var/kubernetes/backend/cluster.key', '-f', 'json', 'k8s', '.remove ${self.dqlite.address}'])`);
    return 2;
  }
  if (worker) sim.out('Configuring services.');
  // leave.py: stop services, `sleep 10`, `.remove`; then `Waiting for node to start. ` (sleep 10 + `. ` polls).
  const third = sim.timing.leaveMs / 3;
  await sim.sleep(third);
  sim.out('Generating new cluster certificates.');
  sim.state((s, now, self) => {
    const c = s.clusters[self.cluster];
    if (c) {
      c.members = c.members.filter((m) => m.node !== self.name);
      scheduleRebalance(s, c, now);
      syncClusterYamls(sim.labDir, s, c, (n) => servicesUp(s.nodes[n], now));
    }
    const p = snapPaths(sim.labDir, self.name);
    const backup = path.join(path.dirname(p.backend), 'backend.backup');
    for (const f of ['cluster.crt', 'cluster.key']) {
      if (fs.existsSync(path.join(backup, f))) fs.copyFileSync(path.join(backup, f), path.join(p.backend, f));
    }
    startAlone(sim.labDir, s, self, now);
    sim.event('left', { cluster: c?.id, as: worker ? 'worker' : 'controlplane' });
  });
  sim.print('Waiting for node to start. ');
  await sim.sleep(third);
  for (let i = 0; i < 2; i++) {
    await sim.sleep(third / 2);
    sim.print('. ');
  }
  sim.print('\n');
  return 0;
}

export function removeNode(sim: Sim, args: string[]): number {
  if (isWorker(sim)) {
    sim.out('This MicroK8s deployment is acting as a node in a cluster. Please use microk8s leave.');
    return 1;
  }
  exitIfStopped(sim);
  if (args.length === 0) {
    sim.out('Please provide the node you want to remove.');
    return 1;
  }
  if (args.length > 2 || (args.length === 2 && args[1] !== '--force')) {
    sim.out('Please provide the node and the optional --force flag.');
    return 1;
  }
  const force = args[1] === '--force';
  const arg = args[0];
  const result = sim.state((s, now, self) => {
    const c = apiUp(s, self, now);
    if (!c) return { refused: true as const };
    const lines: Array<[1 | 2, string]> = [];
    const byIp = isIPv4(arg) ? Object.values(s.nodes).find((n) => n.address === arg && c.k8sNodes.some((k) => k.name === n.name)) : undefined;
    const name = byIp?.name ?? arg;
    const k8s = c.k8sNodes.find((k) => k.name === name);
    const ip = isIPv4(arg) ? arg : s.nodes[name]?.address;
    const member = ip ? c.members.find((m) => m.address === `${ip}:${DQLITE_PORT}`) : undefined;
    const dropMember = () => {
      c.members = c.members.filter((m) => m !== member);
      scheduleRebalance(s, c, now);
      syncClusterYamls(sim.labDir, s, c, (n) => servicesUp(s.nodes[n], now));
    };
    if (!k8s) {
      lines.push([2, `Error from server (NotFound): nodes "${name}" not found`]);
      lines.push([1, `Node ${name} does not exist in Kubernetes.`]);
      if (force) {
        lines.push([1, `Attempting to remove ${name} from dqlite.`]);
        if (member) {
          lines.push([1, 'Removing node entry found in dqlite.']);
          dropMember();
          sim.event('removed', { node: name, force, dqlite: true, kubernetes: false });
        }
      }
      return { lines, code: 1 };
    }
    if (member && !force) {
      lines.push([
        1,
        `Removal failed. Node ${name} is registered with dqlite. Please, run first 'microk8s leave' on the departing node. \n` +
          "If the node is not available anymore and will never attempt to join the cluster in the future use the '--force' flag \n" +
          'to unregister the node while removing it.',
      ]);
      return { lines, code: 1 };
    }
    if (member) dropMember();
    c.k8sNodes = c.k8sNodes.filter((k) => k !== k8s);
    for (const p of c.pods) if (p.node === name && p.kind === 'ReplicaSet') p.node = null;
    c.pods = c.pods.filter((p) => p.node !== name);
    sim.event('removed', { node: name, force, dqlite: !!member, kubernetes: true });
    return { lines, code: 0 };
  });
  if ('refused' in result) {
    sim.err(REFUSED);
    return 1;
  }
  for (const [fd, text] of result.lines) {
    if (fd === 1) sim.out(text);
    else sim.err(text);
  }
  return result.code;
}

export { ACTING_AS_NODE, EXTRA_IP };
