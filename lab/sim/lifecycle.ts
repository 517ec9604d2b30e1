/** `microk8s status|start|stop|version|inspect` and the services start/stop they share with `snap start|stop`. */
import { inspectCertLines } from './certs';
import * as fs from 'fs';
import * as path from 'path';
import { judgeBackend, snapPaths, writeRaftFiles } from './backend';
import { Exit, type Sim } from './context';
import { ACTING_AS_NODE, apiUp, isWorker, lockExists } from './guards';
import { openBytes } from './install';
import { type LabState, type NodeState, ROLE_NAMES, hasQuorum, nodeReady, servicesUp } from './model';
import { scheduleRebalance } from './store';

const ADDONS: Array<[string, string, boolean]> = [
  ['dns', 'CoreDNS', true],
  ['ha-cluster', 'Configure high availability on the current node', true],
  ['helm', 'Helm - the package manager for Kubernetes', true],
  ['helm3', 'Helm 3 - the package manager for Kubernetes', true],
  ['cert-manager', 'Cloud native certificate management', false],
  ['community', 'The community addons repository', false],
  ['dashboard', 'The Kubernetes dashboard', false],
  ['host-access', 'Allow Pods connecting to Host services smoothly', false],
  ['hostpath-storage', 'Storage class; allocates storage from host directory', false],
  ['ingress', 'Ingress controller for external access', false],
  ['metallb', 'Loadbalancer for your Kubernetes cluster', false],
  ['metrics-server', 'K8s Metrics Server for API access to service metrics', false],
  ['rbac', 'Role-Based Access Control for authorisation', false],
  ['registry', 'Private image registry exposed on localhost:32000', false],
];
const NOT_READY = 'microk8s is not running. Use microk8s inspect for a deeper inspection.';

interface StatusView {
  ready: boolean;
  nodes: Array<{ address: string; role: string }>;
}

function view(s: LabState, self: NodeState, now: number): StatusView {
  const c = apiUp(s, self, now);
  const ready = !!c && c.k8sNodes.some((k) => nodeReady(s, c, k.name, now));
  const cluster = s.clusters[self.cluster];
  const known = !!cluster && hasQuorum(s, cluster, now) && cluster.members.some((m) => m.node === self.name);
  const nodes = known ? cluster.members.map((m) => ({ address: m.address, role: ['voter', 'standby', 'spare'][m.role] })) : [];
  return { ready, nodes };
}

export async function status(sim: Sim, args: string[]): Promise<number> {
  if (isWorker(sim)) {
    sim.out(`${ACTING_AS_NODE}\nPlease use the control plane node.`);
    return 0;
  }
  let format = 'pretty';
  let wait = false;
  let timeout = 0;
  let addon: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => inline ?? args[++i] ?? '';
    if (flag === '--format') format = value();
    else if (flag === '--yaml') format = 'short-yaml';
    else if (flag === '-w' || flag === '--wait-ready') wait = true;
    else if (flag === '-t' || flag === '--timeout') timeout = Number(value());
    else if (flag === '-a' || flag === '--addon') addon = value();
    else {
      sim.err(`usage: microk8s status [-h] [--format {pretty,yaml,short}] [-w] [-t TIMEOUT] [-a ADDON] [--yaml]\nmicrok8s status: error: unrecognized arguments: ${a}`);
      return 2;
    }
  }
  if (!['pretty', 'yaml', 'short', 'short-yaml'].includes(format) || !Number.isFinite(timeout)) {
    sim.err(`usage: microk8s status [-h] [--format {pretty,yaml,short}] [-w] [-t TIMEOUT] [-a ADDON] [--yaml]\nmicrok8s status: error: argument --format: invalid choice: '${format}' (choose from 'pretty', 'yaml', 'short')`);
    return 2;
  }
  if (lockExists(sim, 'stopped.lock')) {
    sim.out('microk8s is not running, try microk8s start');
    return 0;
  }
  const deadline = Date.now() + timeout * 1000;
  let v = sim.state((s, now, self) => view(s, self, now));
  while (wait && !v.ready && (timeout === 0 || Date.now() < deadline)) {
    await sim.sleep(sim.timing.statusPollMs);
    v = sim.state((s, now, self) => view(s, self, now));
  }
  if (addon) {
    const a = ADDONS.find(([n]) => n === addon);
    sim.out(a?.[2] ? 'enabled' : 'disabled');
    return 0;
  }
  const voters = v.nodes.filter((n) => n.role === 'voter');
  const standbys = v.nodes.filter((n) => n.role === 'standby');
  const ha = voters.length > 2;
  if (format === 'yaml' || format === 'short-yaml') {
    const lines = ['microk8s:', `  running: ${v.ready ? 'True' : 'False'}`, 'high-availability:', `  enabled: ${ha ? 'True' : 'False'}`, '  nodes:'];
    for (const n of v.nodes) lines.push(`    - address: ${n.address}`, `      role: ${n.role}`);
    if (!v.ready) {
      lines.push(`  message: ${NOT_READY}`);
      sim.out(lines.join('\n'));
      return 1;
    }
    lines.push('addons:');
    for (const [name, desc, on] of ADDONS) lines.push(`  - name: ${name}`, '    repository: core', `    description: ${desc}`, '    version: 1.x.y', `    status: ${on ? 'enabled' : 'disabled'}`);
    sim.out(lines.join('\n'));
    return 0;
  }
  if (!v.ready) {
    sim.out(NOT_READY);
    return 1;
  }
  if (format === 'short') {
    sim.out(['microk8s is running', 'addons:', ...ADDONS.map(([n, , on]) => `core/${n}: ${on ? 'enabled' : 'disabled'}`)].join('\n'));
    return 0;
  }
  const row = ([name, desc]: [string, string, boolean]) => `    ${name.padEnd(20)} # (core) ${desc}`;
  sim.out(
    [
      'microk8s is running',
      `high-availability: ${ha ? 'yes' : 'no'}`,
      `  datastore master nodes: ${voters.map((n) => n.address).join(' ') || 'none'}`,
      `  datastore standby nodes: ${standbys.map((n) => n.address).join(' ') || 'none'}`,
      'addons:',
      '  enabled:',
      ...ADDONS.filter(([, , on]) => on).map(row),
      '  disabled:',
      ...ADDONS.filter(([, , on]) => !on).map(row),
    ].join('\n'),
  );
  return 0;
}

/** Services come up: k8s-dqlite judges its backend files before it rejoins. */
export function startServices(sim: Sim, s: LabState, self: NodeState, now: number): void {
  const wasRunning = self.services === 'running';
  self.services = 'running';
  self.restartUntil = now + sim.timing.restartMs;
  // Its files may have been swapped while it was down (a restore, a recovery): write its objects again.
  delete self.dqlite.dataHash;
  const c = s.clusters[self.cluster];
  if (c && !self.worker && c.members.some((m) => m.node === self.name)) {
    const error = judgeBackend(sim.labDir, s, self.name, c);
    self.dqlite.ok = error === null;
    self.dqlite.error = error;
    if (error) sim.event('dqlite-failed', { error });
    else if (c.recovery && !c.recovery.rejoined.includes(self.name) && c.recovery.members.some((m) => m.id === self.dqlite.id)) {
      c.recovery.rejoined.push(self.name);
      writeRaftFiles(snapPaths(sim.labDir, self.name).backend, {
        epoch: c.epoch, origin: self.name, term: c.term, index: c.index, now, openBytes: openBytes(s), startOnly: true,
      });
      sim.event('rejoined', { cluster: c.id, epoch: c.epoch });
    }
    scheduleRebalance(s, c, now);
  }
  if (!wasRunning) sim.event('started');
}

export function stopServices(sim: Sim, s: LabState, self: NodeState): void {
  if (self.services === 'stopped') return;
  self.services = 'stopped';
  const c = s.clusters[self.cluster];
  if (c?.members.some((m) => m.node === self.name && m.role === 0)) sim.event('out-of-service', { reason: 'stopped' });
  sim.event('stopped');
}

export async function start(sim: Sim, args: string[]): Promise<number> {
  if (isWorker(sim)) {
    sim.out(`${ACTING_AS_NODE}\nUse 'snap start microk8s' to start services on this node.`);
    return 0;
  }
  const bad = args.find((a) => a !== '--disable-low-memory-guard' && a !== '-h' && a !== '--help');
  if (bad) {
    sim.out(`microk8s start: invalid option -- ${bad.replace(/^-+/, '')}`);
    return 1;
  }
  sim.state((s, now, self) => {
    fs.rmSync(path.join(snapPaths(sim.labDir, sim.node).locks, 'stopped.lock'), { force: true });
    startServices(sim, s, self, now);
  });
  // wait_for_node: polls for a Ready node up to 60 s, silently; exits 0 either way.
  const deadline = Date.now() + sim.timing.startWaitMaxMs;
  while (Date.now() < deadline) {
    const ready = sim.state((s, now, self) => {
      const c = s.clusters[self.cluster];
      return !!c && c.k8sNodes.some((k) => nodeReady(s, c, k.name, now));
    });
    if (ready) break;
    await sim.sleep(Math.min(sim.timing.statusPollMs, Math.max(1, deadline - Date.now())));
  }
  return 0;
}

export async function stop(sim: Sim, args: string[]): Promise<number> {
  if (isWorker(sim)) {
    sim.out(`${ACTING_AS_NODE}\nUse 'snap stop microk8s' to stop services on this node.`);
    return 0;
  }
  const bad = args.find((a) => a !== '-h' && a !== '--help');
  if (bad) {
    sim.out(`microk8s stop: invalid option -- ${bad.replace(/^-+/, '')}`);
    return 1;
  }
  await sim.sleep(sim.timing.stopMs);
  sim.state((s, _now, self) => {
    stopServices(sim, s, self);
    fs.writeFileSync(path.join(snapPaths(sim.labDir, sim.node).locks, 'stopped.lock'), '');
  });
  sim.out('Stopped.\nStopped.');
  return 0;
}

export function version(sim: Sim): number {
  const self = sim.peek().nodes[sim.node];
  sim.out(`MicroK8s ${self.snap.current.version} revision ${self.snap.current.revision}`);
  return 0;
}

export function inspect(sim: Sim): number {
  const { self, now, s } = sim.state((s, now, self) => ({ self, now, s }));
  const up = servicesUp(self, now);
  const worker = lockExists(sim, 'clustered.lock');
  const services: Array<[string, boolean]> = [
    ['cluster-agent', up],
    ['containerd', up],
    ['kubelite', up && !self.kubeliteFailed],
  ];
  if (lockExists(sim, 'ha-cluster') && !lockExists(sim, 'no-k8s-dqlite')) services.push(['k8s-dqlite', up && self.dqlite.ok]);
  if (!lockExists(sim, 'no-apiserver-proxy')) services.push(['apiserver-proxy', up]);
  if (!worker) services.push(['apiserver-kicker', up]);
  const lines = ['Inspecting system', 'Inspecting Certificates', ...inspectCertLines(self, now), 'Inspecting services'];
  for (const [svc, ok] of services) {
    if (ok) lines.push(`  Service snap.microk8s.daemon-${svc} is running`);
    else lines.push(`\x1b[31m FAIL: \x1b[0m Service snap.microk8s.daemon-${svc} is not running`, `For more details look at: sudo journalctl -u snap.microk8s.daemon-${svc}`);
  }
  if (self.dqlite.error) lines.push(`  k8s-dqlite: ${self.dqlite.error}`);
  const c = s.clusters[self.cluster];
  void c;
  const ts = new Date(now).toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);
  lines.push(
    '  Copy service arguments to the final report tarball',
    'Inspecting AppArmor configuration',
    'Gathering system information',
    ...['processes list', 'disk usage information', 'memory usage information', 'server uptime', 'openSSL information', 'snap list', 'VM name (or none)', 'current linux distribution', 'asnycio usage and limits', 'inotify max_user_instances and max_user_watches', 'network configuration'].map(
      (x) => `  Copy ${x} to the final report tarball`,
    ),
    'Inspecting kubernetes cluster',
    '  Inspect kubernetes cluster',
    'Inspecting dqlite',
    '  Inspect dqlite',
    '',
    'Building the report tarball',
    `  Report tarball is at /var/snap/microk8s/${self.snap.current.revision}/inspection-report-${ts}.tar.gz`,
  );
  sim.out(lines.join('\n'));
  if (services.some(([, ok]) => !ok)) throw new Exit(1);
  return 0;
}

export { ROLE_NAMES };
