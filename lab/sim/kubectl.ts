/** `microk8s kubectl`: get nodes/pods, cordon, uncordon, drain, wait (upstream kubectl texts), delete node. */
import { type Sim } from './context';
import { REFUSED, apiUp, exitIfStopped } from './guards';
import { expiredServerCert } from './certs';
import { type Cluster, type LabState, type Pod, newPod, nodeReady, podHealthy, schedulePending, servicesUp } from './model';

interface Parsed {
  positional: string[];
  flags: Map<string, string | true>;
}

const VALUE_FLAGS = new Set(['-o', '--output', '-n', '--namespace', '--timeout', '--grace-period', '--field-selector', '-l', '--selector', '--pod-selector', '--for']);

function parse(args: string[]): Parsed {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a.startsWith('-') && a.length > 1) {
      const eq = a.indexOf('=');
      if (eq > 0) flags.set(a.slice(0, eq), a.slice(eq + 1));
      else if (VALUE_FLAGS.has(a)) flags.set(a, args[++i] ?? '');
      else flags.set(a, true);
    } else positional.push(a);
  }
  return { positional, flags };
}

function flag(p: Parsed, ...names: string[]): string | true | undefined {
  for (const n of names) if (p.flags.has(n)) return p.flags.get(n);
  return undefined;
}

/** kubectl's HumanDuration. */
export function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const m = Math.floor(s / 60);
  const h = Math.floor(m / 60);
  const d = Math.floor(h / 24);
  if (s < 120) return `${s}s`;
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  if (h < 24 * 8) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
  if (d < 365 * 2) return `${d}d`;
  return `${Math.floor(d / 365)}y`;
}

/** Go's time.Duration String(). */
export function goDuration(ms: number): string {
  if (ms === 0) return '0s';
  const totalS = ms / 1000;
  const h = Math.floor(totalS / 3600);
  const m = Math.floor((totalS % 3600) / 60);
  const s = +(totalS % 60).toFixed(3);
  if (h) return `${h}h${m}m${s}s`;
  if (m) return `${m}m${s}s`;
  return `${s}s`;
}

export function parseGoDuration(text: string): number | undefined {
  if (text === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(h|ms|m|s)/g;
  let total = 0;
  let consumed = '';
  for (let m = re.exec(text); m; m = re.exec(text)) {
    consumed += m[0];
    total += Number(m[1]) * { h: 3_600_000, m: 60_000, s: 1000, ms: 1 }[m[2] as 'h']!;
  }
  return consumed === text && text ? total : undefined;
}

export function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] + 3))).join('').trimEnd()).join('\n');
}

const OS_IMAGE = 'Ubuntu 22.04.4 LTS';
const KERNEL = '5.15.0-105-generic';
const RUNTIME = 'containerd://1.6.28';

function nodeObject(s: LabState, c: Cluster, name: string, now: number) {
  const k = c.k8sNodes.find((x) => x.name === name)!;
  const n = s.nodes[name];
  const ready = nodeReady(s, c, name, now);
  const down = !n || n.cluster !== c.id || !servicesUp(n, now);
  const created = new Date(k.created).toISOString().replace(/\.\d+Z$/, 'Z');
  const heartbeat = new Date(now).toISOString().replace(/\.\d+Z$/, 'Z');
  const role = k.worker ? { 'node.kubernetes.io/microk8s-worker': 'microk8s-worker' } : { 'node.kubernetes.io/microk8s-controlplane': 'microk8s-controlplane' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      creationTimestamp: created,
      labels: {
        'beta.kubernetes.io/arch': 'amd64',
        'beta.kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'microk8s.io/cluster': 'true',
        ...role,
      },
      name,
    },
    spec: k.cordoned ? { taints: [{ effect: 'NoSchedule', key: 'node.kubernetes.io/unschedulable', timeAdded: heartbeat }], unschedulable: true } : {},
    status: {
      addresses: [
        { address: n?.address ?? '', type: 'InternalIP' },
        { address: name, type: 'Hostname' },
      ],
      conditions: [
        ready
          ? { lastHeartbeatTime: heartbeat, lastTransitionTime: created, message: 'kubelet is posting ready status', reason: 'KubeletReady', status: 'True', type: 'Ready' }
          : down
            ? { lastHeartbeatTime: heartbeat, lastTransitionTime: heartbeat, message: 'Kubelet stopped posting node status.', reason: 'NodeStatusUnknown', status: 'Unknown', type: 'Ready' }
            : { lastHeartbeatTime: heartbeat, lastTransitionTime: heartbeat, message: 'container runtime network not ready', reason: 'KubeletNotReady', status: 'False', type: 'Ready' },
      ],
      nodeInfo: {
        architecture: 'amd64',
        bootID: n?.host?.bootId ?? '',
        containerRuntimeVersion: RUNTIME,
        kernelVersion: KERNEL,
        kubeProxyVersion: n?.snap.current.version ?? '',
        kubeletVersion: n?.snap.current.version ?? '',
        operatingSystem: 'linux',
        osImage: OS_IMAGE,
      },
    },
  };
}

function podObject(p: Pod, now: number) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      creationTimestamp: new Date(p.created).toISOString().replace(/\.\d+Z$/, 'Z'),
      name: p.name,
      namespace: p.ns,
      // Deployment pods carry their selector label, which PodDisruptionBudgets match (added for the upgrade runbook).
      ...(p.kind === 'ReplicaSet' ? { labels: { app: p.owner } } : {}),
      ownerReferences: [{ apiVersion: 'apps/v1', controller: true, kind: p.kind, name: p.kind === 'DaemonSet' ? p.owner : p.name.split('-').slice(0, -1).join('-') }],
    },
    spec: p.node ? { nodeName: p.node } : {},
    status: p.node ? { phase: 'Running', podIP: p.ip, startTime: new Date(p.created).toISOString().replace(/\.\d+Z$/, 'Z') } : { phase: 'Pending' },
  };
  void now;
}

/** `kubectl get pdb -A -o json` (added for the upgrade runbook: kubectl's drain error never names the budget). */
function getPdbs(sim: Sim, c: Cluster): number {
  const items = c.pdbs.map((b) => ({
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: b.name, namespace: b.ns },
    spec: { minAvailable: b.minAvailable, selector: { matchLabels: { app: b.app } } },
  }));
  sim.out(list(items));
  return 0;
}

const list = (items: unknown[]) => JSON.stringify({ apiVersion: 'v1', items, kind: 'List', metadata: { resourceVersion: '' } }, null, 4);

function getNodes(sim: Sim, s: LabState, c: Cluster, p: Parsed, now: number): number {
  const wanted = p.positional.slice(2);
  for (const w of wanted) {
    if (!c.k8sNodes.some((k) => k.name === w)) {
      sim.err(`Error from server (NotFound): nodes "${w}" not found`);
      return 1;
    }
  }
  const names = (wanted.length ? wanted : c.k8sNodes.map((k) => k.name).sort());
  const out = flag(p, '-o', '--output');
  if (out === 'json') {
    const objs = names.map((n) => nodeObject(s, c, n, now));
    sim.out(wanted.length === 1 ? JSON.stringify(objs[0], null, 4) : list(objs));
    return 0;
  }
  if (out === 'name') {
    sim.out(names.map((n) => `node/${n}`).join('\n'));
    return 0;
  }
  const wide = out === 'wide';
  const rows = [['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION', ...(wide ? ['INTERNAL-IP', 'EXTERNAL-IP', 'OS-IMAGE', 'KERNEL-VERSION', 'CONTAINER-RUNTIME'] : [])]];
  for (const name of names) {
    const k = c.k8sNodes.find((x) => x.name === name)!;
    const st = (nodeReady(s, c, name, now) ? 'Ready' : 'NotReady') + (k.cordoned ? ',SchedulingDisabled' : '');
    const version = s.nodes[name]?.snap.current.version ?? '';
    rows.push([name, st, '<none>', age(now - k.created), version, ...(wide ? [s.nodes[name]?.address ?? '<none>', '<none>', OS_IMAGE, KERNEL, RUNTIME] : [])]);
  }
  if (rows.length === 1) sim.err('No resources found');
  else sim.out(table(rows));
  return 0;
}

/** The pod fields the API server selects on (those the lab models); `=`, `==`, `!=`, comma-joined (all must hold). */
const POD_FIELDS: Record<string, (x: Pod) => string> = {
  'spec.nodeName': (x) => x.node ?? '',
  'metadata.name': (x) => x.name,
  'metadata.namespace': (x) => x.ns,
  'status.phase': (x) => (x.node ? 'Running' : 'Pending'),
};

/** A predicate for `--field-selector`, or the API server's refusal (kubectl prints it, exit 1). */
function podFieldSelector(selector: string): ((x: Pod) => boolean) | string {
  const tests: Array<(x: Pod) => boolean> = [];
  for (const term of selector.split(',')) {
    const m = /^([^=!]+)(==|=|!=)(.*)$/.exec(term);
    if (!m) return `error: invalid field selector: '${term}'`;
    const [, field, op, value] = m;
    const get = POD_FIELDS[field];
    if (!get) return `Error from server (BadRequest): Unable to find "/v1, Resource=pods" that match label selector "", field selector "${selector}": field label not supported: ${field}`;
    tests.push(op === '!=' ? (x) => get(x) !== value : (x) => get(x) === value);
  }
  return (x) => tests.every((t) => t(x));
}

function getPods(sim: Sim, c: Cluster, p: Parsed, now: number): number {
  const all = flag(p, '-A', '--all-namespaces') !== undefined;
  const ns = (flag(p, '-n', '--namespace') as string | undefined) ?? 'default';
  const selector = flag(p, '--field-selector');
  let pods = c.pods.filter((x) => all || x.ns === ns);
  if (typeof selector === 'string') {
    const match = podFieldSelector(selector);
    if (typeof match === 'string') {
      sim.err(match);
      return 1;
    }
    pods = pods.filter(match);
  }
  pods = [...pods].sort((a, b) => a.ns.localeCompare(b.ns) || a.name.localeCompare(b.name));
  const out = flag(p, '-o', '--output');
  if (out === 'json') {
    sim.out(list(pods.map((x) => podObject(x, now))));
    return 0;
  }
  if (pods.length === 0) {
    sim.err(all ? 'No resources found' : `No resources found in ${ns} namespace.`);
    return 0;
  }
  const wide = out === 'wide';
  const header = [...(all ? ['NAMESPACE'] : []), 'NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', ...(wide ? ['IP', 'NODE', 'NOMINATED NODE', 'READINESS GATES'] : [])];
  const rows = [header];
  for (const x of pods) {
    rows.push([
      ...(all ? [x.ns] : []),
      x.name,
      x.node ? '1/1' : '0/1',
      x.node ? 'Running' : 'Pending',
      '0',
      age(now - x.created),
      ...(wide ? [x.node ? x.ip : '<none>', x.node ?? '<none>', '<none>', '<none>'] : []),
    ]);
  }
  sim.out(table(rows));
  return 0;
}

function setCordon(sim: Sim, name: string, on: boolean): number {
  const r = sim.state((s, now, self) => {
    const c = apiUp(s, self, now);
    if (!c) return 'refused';
    const k = c.k8sNodes.find((x) => x.name === name);
    if (!k) return 'missing';
    if (k.cordoned === on) return 'already';
    k.cordoned = on;
    sim.event(on ? 'cordoned' : 'uncordoned', {}, name);
    if (!on) schedulePending(s, c, now);
    return 'done';
  });
  if (r === 'refused') return refused(sim);
  if (r === 'missing') {
    sim.err(`Error from server (NotFound): nodes "${name}" not found`);
    return 1;
  }
  sim.out(`node/${name} ${r === 'already' ? 'already ' : ''}${on ? 'cordoned' : 'uncordoned'}`);
  return 0;
}

function refused(sim: Sim): number {
  sim.err(REFUSED);
  return 1;
}

async function drain(sim: Sim, p: Parsed): Promise<number> {
  const name = p.positional[1];
  if (!name) {
    sim.err('error: USAGE: drain NODE [flags]\nSee \'kubectl drain -h\' for help and examples');
    return 1;
  }
  const ignoreDs = flag(p, '--ignore-daemonsets') !== undefined && flag(p, '--ignore-daemonsets') !== 'false';
  const timeoutText = flag(p, '--timeout');
  let timeoutMs = 0;
  if (typeof timeoutText === 'string') {
    const parsed = parseGoDuration(timeoutText);
    if (parsed === undefined) {
      sim.err(`error: invalid argument "${timeoutText}" for "--timeout" flag: time: ${/^\d+$/.test(timeoutText) ? `missing unit in duration "${timeoutText}"` : `invalid duration "${timeoutText}"`}`);
      return 1;
    }
    timeoutMs = parsed;
  }
  const start = Date.now();
  const first = sim.state((s, now, self) => {
    const c = apiUp(s, self, now);
    if (!c) return { refused: true as const };
    const k = c.k8sNodes.find((x) => x.name === name);
    if (!k) return { missing: true as const };
    const already = k.cordoned;
    if (!already) {
      k.cordoned = true;
      sim.event('cordoned', { by: 'drain' }, name);
    }
    const onNode = c.pods.filter((x) => x.node === name);
    return { already, ds: onNode.filter((x) => x.kind === 'DaemonSet').map((x) => `${x.ns}/${x.name}`), evict: onNode.filter((x) => x.kind !== 'DaemonSet').map((x) => ({ ns: x.ns, name: x.name })) };
  });
  if ('refused' in first) return refused(sim);
  if ('missing' in first) {
    sim.err(`Error from server (NotFound): nodes "${name}" not found`);
    return 1;
  }
  sim.out(`node/${name} ${first.already ? 'already cordoned' : 'cordoned'}`);
  const pendingNodes = () => sim.err(`There are pending nodes to be drained:\n ${name}`);
  if (first.ds.length && !ignoreDs) {
    const why = `cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): ${first.ds.join(', ')}`;
    sim.err(`error: unable to drain node "${name}" due to error: ${why}, continuing command...`);
    pendingNodes();
    sim.err(why);
    return 1;
  }
  if (first.ds.length) sim.err(`Warning: ignoring DaemonSet-managed Pods: ${first.ds.join(', ')}`);
  for (const x of first.evict) sim.out(`evicting pod ${x.ns}/${x.name}`);
  let pending = first.evict;
  let blockedOnce = false;
  while (pending.length) {
    const round = sim.state((s, now, self) => {
      const c = apiUp(s, self, now);
      if (!c) return { refused: true as const };
      const evicted: string[] = [];
      const blocked: Array<{ ns: string; name: string }> = [];
      for (const want of pending) {
        const pod = c.pods.find((x) => x.ns === want.ns && x.name === want.name);
        if (!pod) {
          evicted.push(want.name);
          continue;
        }
        const pdb = c.pdbs.find((b) => b.ns === pod.ns && b.app === pod.owner);
        if (pdb) {
          const healthy = c.pods.filter((x) => x.ns === pod.ns && x.owner === pod.owner && podHealthy(s, c, x, now)).length;
          const after = healthy - (podHealthy(s, c, pod, now) ? 1 : 0);
          if (after < pdb.minAvailable) {
            blocked.push(want);
            continue;
          }
        }
        c.pods = c.pods.filter((x) => x !== pod);
        const d = c.deployments.find((x) => x.ns === pod.ns && x.name === pod.owner);
        if (d) c.pods.push(newPod(c, d, 'ReplicaSet', null, now));
        schedulePending(s, c, now);
        evicted.push(pod.name);
        sim.event('evicted', { pod: `${pod.ns}/${pod.name}` }, name);
      }
      return { evicted, blocked };
    });
    if ('refused' in round) return refused(sim);
    for (const e of round.evicted) sim.out(`pod/${e} evicted`);
    pending = round.blocked;
    if (!pending.length) break;
    if (!blockedOnce) {
      blockedOnce = true;
      sim.event('drain-blocked', { pods: pending.map((x) => `${x.ns}/${x.name}`) }, name);
    }
    for (const b of pending) sim.err(`error when evicting pods/"${b.name}" -n "${b.ns}" (will retry after 5s): Cannot evict pod as it would violate the pod's disruption budget.`);
    const remaining = timeoutMs ? start + timeoutMs - Date.now() : Infinity;
    if (remaining <= sim.timing.drainRetryMs) {
      if (remaining > 0) await sim.sleep(remaining);
      const why = `error when evicting pods/"${pending[0].name}" -n "${pending[0].ns}": global timeout reached: ${goDuration(timeoutMs)}`;
      sim.err(why);
      sim.err(`There are pending pods in node "${name}" when an error occurred: ${why}`);
      for (const b of pending) sim.err(`pod/${b.name}`);
      sim.err(`error: unable to drain node "${name}" due to error: ${why}, continuing command...`);
      pendingNodes();
      sim.err(`error: ${why}`);
      return 1;
    }
    await sim.sleep(sim.timing.drainRetryMs);
  }
  sim.out(`node/${name} drained`);
  return 0;
}

/** A node-wide state change that time alone brings (a restart ending) is seen this soon; others within RECHECK_MS. */
const RECHECK_MS = 100;

/**
 * `kubectl wait --for=condition=Ready node/NAME [--timeout=D] [-o json|name]` (upstream kubectl; added for the
 * upgrade runbook, like `get pdb`): a watch, so it returns as soon as the node is Ready. The lab re-reads its
 * state when a restart is due to end (exactly) and every RECHECK_MS otherwise (faults healed, reverts).
 * Prints `node/NAME condition met` (or the object with `-o json`); at the deadline
 * `error: timed out waiting for the condition on nodes/NAME`, exit 1. Default timeout 30s, as in kubectl.
 */
async function waitFor(sim: Sim, p: Parsed): Promise<number> {
  const target = p.positional.slice(1);
  let name: string | undefined;
  const slash = /^(?:nodes?|no)\/(.+)$/.exec(target[0] ?? '');
  if (slash && target.length === 1) name = slash[1];
  else if (['node', 'nodes', 'no'].includes(target[0] ?? '') && target.length === 2) name = target[1];
  if (!name) {
    // The lab's surface: one node by name (kubectl itself takes any resource, selectors and files).
    sim.err(`error: the lab's kubectl wait takes one node: node/NAME (got ${JSON.stringify(target.join(' '))})`);
    return 1;
  }
  const forText = flag(p, '--for');
  const cond = typeof forText === 'string' ? /^condition=([A-Za-z]+)(?:=(true|false))?$/i.exec(forText) : null;
  if (!cond || cond[1].toLowerCase() !== 'ready') {
    sim.err(`error: the lab's kubectl wait supports --for=condition=Ready[=true|false] only (got ${JSON.stringify(forText === true ? '' : (forText ?? ''))})`);
    return 1;
  }
  const want = (cond[2] ?? 'true').toLowerCase() === 'true';
  const timeoutText = flag(p, '--timeout');
  let timeoutMs = 30_000;
  if (typeof timeoutText === 'string') {
    const parsed = parseGoDuration(timeoutText);
    if (parsed === undefined) {
      sim.err(`error: invalid argument "${timeoutText}" for "--timeout" flag: time: ${/^\d+$/.test(timeoutText) ? `missing unit in duration "${timeoutText}"` : `invalid duration "${timeoutText}"`}`);
      return 1;
    }
    timeoutMs = parsed;
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // A read (no lock): readiness depends only on the state and the clock (restarts end at restartUntil).
    const s = sim.peek();
    const now = Date.now();
    const self = s.nodes[sim.node];
    const c = self ? apiUp(s, self, now) : undefined;
    if (!c) return refused(sim);
    if (!c.k8sNodes.some((k) => k.name === name)) {
      sim.err(`Error from server (NotFound): nodes "${name}" not found`);
      return 1;
    }
    if (nodeReady(s, c, name, now) === want) {
      // Answer from the settled state under the lock, as `get` does (and journal a restart that just ended).
      const view = sim.state((st, t, me) => ({ st, t, c: apiUp(st, me, t) }));
      if (view.c && nodeReady(view.st, view.c, name, view.t) === want) {
        const out = flag(p, '-o', '--output');
        if (out === 'json') sim.out(JSON.stringify(nodeObject(view.st, view.c, name, view.t), null, 4));
        else if (out === 'name') sim.out(`node/${name}`);
        else sim.out(`node/${name} condition met`);
        return 0;
      }
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      sim.err(`error: timed out waiting for the condition on nodes/${name}`);
      return 1;
    }
    const ends = Object.values(s.nodes)
      .map((n) => n.restartUntil)
      .filter((t) => t > now);
    const nextEnd = ends.length ? Math.min(...ends) - now + 1 : Infinity;
    await sim.sleep(Math.min(remaining, nextEnd, RECHECK_MS));
  }
}

function deleteNode(sim: Sim, name: string): number {
  const r = sim.state((s, now, self) => {
    const c = apiUp(s, self, now);
    if (!c) return 'refused';
    if (!c.k8sNodes.some((k) => k.name === name)) return 'missing';
    c.k8sNodes = c.k8sNodes.filter((k) => k.name !== name);
    for (const x of c.pods) if (x.node === name && x.kind === 'ReplicaSet') x.node = null;
    c.pods = c.pods.filter((x) => x.node !== name);
    sim.event('node-deleted', {}, name);
    return 'ok';
  });
  if (r === 'refused') return refused(sim);
  if (r === 'missing') {
    sim.err(`Error from server (NotFound): nodes "${name}" not found`);
    return 1;
  }
  sim.out(`node "${name}" deleted`);
  return 0;
}

export async function kubectl(sim: Sim, args: string[]): Promise<number> {
  exitIfStopped(sim);
  const expired = expiredServerCert(sim.peek().nodes[sim.node], Date.now());
  if (expired) {
    sim.err(expired);
    return 1;
  }
  const p = parse(args);
  const [verb, kind] = p.positional;
  if (verb === 'cordon' || verb === 'uncordon') {
    if (!kind) {
      sim.err(`error: USAGE: ${verb} NODE [flags]\nSee 'kubectl ${verb} -h' for help and examples`);
      return 1;
    }
    return setCordon(sim, kind, verb === 'cordon');
  }
  if (verb === 'drain') return drain(sim, p);
  if (verb === 'wait') return waitFor(sim, p);
  if (verb === 'delete' && ['node', 'nodes', 'no'].includes(kind)) return deleteNode(sim, p.positional[2]);
  if (verb === 'get') {
    const view = sim.state((s, now, self) => ({ s, now, c: apiUp(s, self, now) }));
    if (!view.c) return refused(sim);
    if (['nodes', 'node', 'no'].includes(kind)) return getNodes(sim, view.s, view.c, p, view.now);
    if (['pods', 'pod', 'po'].includes(kind)) return getPods(sim, view.c, p, view.now);
    if (['pdb', 'pdbs', 'poddisruptionbudget', 'poddisruptionbudgets'].includes(kind)) return getPdbs(sim, view.c);
    sim.err(`error: the server doesn't have a resource type "${kind ?? ''}"`);
    return 1;
  }
  sim.err(`error: unknown command "${verb ?? ''}" for "kubectl"\n\nDid you mean this?\n\tget\n\nRun 'kubectl --help' for usage.`);
  return 1;
}
