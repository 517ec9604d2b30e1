/**
 * `microk8s kubectl …` (behaviour reference §5): nodes, pods, cordon/uncordon, drain, and recognising an API
 * server that is down. Builders run kubectl through MicroK8s by full path; parsers read kubectl's JSON or text.
 */
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/constants';
import { NodeSpec, nodePaths } from '../../common/inventory';
import { command } from '../../common/shell';
import { UnexpectedOutputError, nonBlankLines } from './unexpected-output';

/** RFC 1123 subdomain: what Kubernetes accepts as a node name. */
const KUBE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function checkNodeName(name: string, field = 'node'): string {
  if (name.length > 253 || !KUBE_NAME.test(name)) {
    throw ApplicationFailure.create({
      message: `${field}: ${JSON.stringify(name)} is not a Kubernetes node name (lowercase letters, digits, "-" and ".")`,
      type: FailureType.InvalidInput,
      nonRetryable: true,
    });
  }
  return name;
}

function kubectl(node: NodeSpec, ...args: Array<string | number>): string {
  return command(nodePaths(node).microk8s, 'kubectl', ...args);
}

// ---------------------------------------------------------------------------------------------------------------
// nodes

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface KubeNode {
  name: string;
  ready: ConditionStatus;
  /** `KubeletReady`, `KubeletNotReady`, `NodeStatusUnknown`… */
  readyReason?: string;
  /** Cordoned (`spec.unschedulable: true`; the key is absent otherwise). */
  unschedulable: boolean;
  kubeletVersion: string;
  internalIP?: string;
  /** From MicroK8s' labels: `node.kubernetes.io/microk8s-controlplane` or `…/microk8s-worker`. */
  role: 'controlplane' | 'worker' | 'unknown';
  labels: Record<string, string>;
  /** `metadata.creationTimestamp` (RFC 3339): a Node object that came back from a backup is older than the restore. */
  created?: string;
}

export function getNodesCommand(node: NodeSpec): string {
  return kubectl(node, 'get', 'nodes', '-o', 'json');
}

/** `node/<name>` when the Node object exists; exit 1 with `NotFound` when it does not. */
export function getNodeNameCommand(node: NodeSpec, name: string): string {
  return kubectl(node, 'get', 'node', name, '-o', 'name');
}

/** The parts of kubectl's JSON these parsers read. Everything is optional and `unknown`: nothing is guaranteed. */
interface ObjectMetaJson {
  name?: unknown;
  namespace?: unknown;
  labels?: Record<string, unknown>;
  ownerReferences?: Array<{ kind?: unknown; name?: unknown; controller?: unknown } | null>;
  deletionTimestamp?: unknown;
  creationTimestamp?: unknown;
}
interface ConditionJson {
  type?: unknown;
  status?: unknown;
  reason?: unknown;
}
interface NodeJson {
  kind?: unknown;
  metadata?: ObjectMetaJson;
  spec?: { unschedulable?: unknown };
  status?: {
    conditions?: Array<ConditionJson | null>;
    addresses?: Array<{ type?: unknown; address?: unknown } | null>;
    nodeInfo?: { kubeletVersion?: unknown };
  };
}
interface PodJson {
  kind?: unknown;
  metadata?: ObjectMetaJson;
  spec?: { nodeName?: unknown };
  status?: {
    phase?: unknown;
    conditions?: Array<ConditionJson | null>;
    containerStatuses?: Array<{ ready?: unknown; restartCount?: unknown } | null>;
  };
}

/** Non-null entries of what should be an array. */
function list<T>(v: Array<T | null> | undefined): T[] {
  return Array.isArray(v) ? v.filter((x): x is T => x !== null && typeof x === 'object') : [];
}

/** Items of a `List`, or a single object (`kubectl get node x -o json`). */
function itemsOf<T extends { kind?: unknown }>(what: string, json: string, kind: string): T[] {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch {
    throw new UnexpectedOutputError(what, json, 'invalid JSON');
  }
  if (typeof doc === 'object' && doc !== null) {
    const d = doc as { items?: unknown; kind?: unknown };
    if (Array.isArray(d.items)) return list(d.items as Array<T | null>);
    if (d.kind === kind) return [doc as T];
  }
  throw new UnexpectedOutputError(what, json, 'no items');
}

function roleFromLabels(labels: Record<string, string>): KubeNode['role'] {
  if ('node.kubernetes.io/microk8s-controlplane' in labels) return 'controlplane';
  if ('node.kubernetes.io/microk8s-worker' in labels) return 'worker';
  return 'unknown';
}

export function parseNodes(json: string): KubeNode[] {
  return itemsOf<NodeJson>('kubectl get nodes', json, 'Node').map((item) => {
    const name = item.metadata?.name;
    if (typeof name !== 'string') throw new UnexpectedOutputError('kubectl get nodes', json, 'node without a name');
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(item.metadata?.labels ?? {})) if (typeof v === 'string') labels[k] = v;
    const readyCond = list(item.status?.conditions).find((c) => c.type === 'Ready');
    const ready: ConditionStatus = readyCond?.status === 'True' || readyCond?.status === 'False' ? readyCond.status : 'Unknown';
    const n: KubeNode = {
      name,
      ready,
      unschedulable: item.spec?.unschedulable === true,
      kubeletVersion: String(item.status?.nodeInfo?.kubeletVersion ?? ''),
      role: roleFromLabels(labels),
      labels,
    };
    if (typeof readyCond?.reason === 'string') n.readyReason = readyCond.reason;
    const ip = list(item.status?.addresses).find((a) => a.type === 'InternalIP')?.address;
    if (typeof ip === 'string') n.internalIP = ip;
    if (typeof item.metadata?.creationTimestamp === 'string') n.created = item.metadata.creationTimestamp;
    return n;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// pods

export interface KubePod {
  namespace: string;
  name: string;
  /** `spec.nodeName`; absent while unscheduled. */
  node?: string;
  phase: string;
  /** The pod's Ready condition (falls back to every container being ready). */
  ready: boolean;
  /** Sum of container restarts. */
  restarts: number;
  /** Controller kind: `DaemonSet`, `ReplicaSet`, `StatefulSet`, `Job`, `Node` (static pods)…; absent for bare pods. */
  ownerKind?: string;
  ownerName?: string;
  /** Being deleted (`metadata.deletionTimestamp` set). */
  terminating: boolean;
}

/** All pods, or only those scheduled on `onNode` (a field selector, evaluated by the API server). */
export function getPodsCommand(node: NodeSpec, opts: { onNode?: string } = {}): string {
  const args: string[] = ['get', 'pods', '-A', '-o', 'json'];
  if (opts.onNode !== undefined) args.push('--field-selector', `spec.nodeName=${checkNodeName(opts.onNode, 'onNode')}`);
  return kubectl(node, ...args);
}

export function parsePods(json: string): KubePod[] {
  return itemsOf<PodJson>('kubectl get pods', json, 'Pod').map((item) => {
    const meta = item.metadata ?? {};
    if (typeof meta.name !== 'string') throw new UnexpectedOutputError('kubectl get pods', json, 'pod without a name');
    const statuses = list(item.status?.containerStatuses);
    const readyCond = list(item.status?.conditions).find((c) => c.type === 'Ready');
    const owners = list(meta.ownerReferences);
    const owner = owners.find((o) => o.controller === true) ?? owners[0];
    const pod: KubePod = {
      namespace: typeof meta.namespace === 'string' ? meta.namespace : 'default',
      name: meta.name,
      phase: typeof item.status?.phase === 'string' ? item.status.phase : 'Unknown',
      ready: readyCond ? readyCond.status === 'True' : statuses.length > 0 && statuses.every((c) => c.ready === true),
      restarts: statuses.reduce((sum, c) => sum + (Number(c.restartCount) || 0), 0),
      terminating: !!meta.deletionTimestamp,
    };
    if (typeof item.spec?.nodeName === 'string') pod.node = item.spec.nodeName;
    if (typeof owner?.kind === 'string') pod.ownerKind = owner.kind;
    if (typeof owner?.name === 'string') pod.ownerName = owner.name;
    return pod;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// cordon / uncordon

export function cordonCommand(node: NodeSpec, target: string): string {
  return kubectl(node, 'cordon', checkNodeName(target));
}

export function uncordonCommand(node: NodeSpec, target: string): string {
  return kubectl(node, 'uncordon', checkNodeName(target));
}

export interface CordonResult {
  node: string;
  /** The state the node is in now. */
  state: 'cordoned' | 'uncordoned';
  /** False for `already cordoned` / `already uncordoned`. */
  changed: boolean;
}

/** `node/<n> cordoned`, `node/<n> already cordoned`, `node/<n> uncordoned`, `node/<n> already uncordoned`. */
export function parseCordonOutput(stdout: string): CordonResult {
  for (const line of nonBlankLines(stdout)) {
    const m = /^node\/(\S+) (already )?(cordoned|uncordoned)(?: \(.*\))?$/.exec(line.trim());
    if (m) return { node: m[1], state: m[3] as CordonResult['state'], changed: !m[2] };
  }
  throw new UnexpectedOutputError('kubectl cordon/uncordon', stdout);
}

/** `Error from server (NotFound): nodes "<n>" not found`. */
export function isNodeNotFound(stderr: string): boolean {
  return /nodes? "[^"]+" not found/.test(stderr);
}

// ---------------------------------------------------------------------------------------------------------------
// wait

/**
 * `kubectl wait --for=condition=Ready node/<n> --timeout=<s>s -o json`: blocks in kubectl (a watch) until the node
 * is Ready, then prints the Node object; no polling, so no interval to wait out after the node turned Ready.
 */
export function waitNodeReadyCommand(node: NodeSpec, target: string, timeoutSeconds: number): string {
  const seconds = Math.max(1, Math.ceil(timeoutSeconds));
  return kubectl(node, 'wait', '--for=condition=Ready', `node/${checkNodeName(target)}`, `--timeout=${seconds}s`, '-o', 'json');
}

export type WaitOutcome =
  | { met: true; node: KubeNode }
  /** `timedOut`: `error: timed out waiting for the condition on nodes/<n>`; otherwise the first error line. */
  | { met: false; timedOut: boolean; message: string };

export function parseWaitOutput(stdout: string, stderr: string, exitCode: number): WaitOutcome {
  if (exitCode === 0) {
    let node: KubeNode | undefined;
    try {
      [node] = parseNodes(stdout);
    } catch (e) {
      // The same JSON as `get nodes` prints, but this is the command that printed it.
      if (e instanceof UnexpectedOutputError) throw new UnexpectedOutputError('kubectl wait', stdout, 'not the Node object of -o json');
      throw e;
    }
    if (!node) throw new UnexpectedOutputError('kubectl wait', stdout, 'no node');
    return { met: true, node };
  }
  const first = nonBlankLines(stderr)[0]?.trim() ?? nonBlankLines(stdout)[0]?.trim() ?? `exit ${exitCode}`;
  return { met: false, timedOut: /timed out waiting for the condition/.test(stderr), message: first };
}

// ---------------------------------------------------------------------------------------------------------------
// drain

export interface DrainOptions {
  /** `--timeout`: without it kubectl retries a PodDisruptionBudget-blocked eviction forever. */
  timeoutS: number;
  gracePeriodS?: number;
  /** `--force`: also delete pods no controller manages (they are lost). */
  force?: boolean;
  /** `--delete-emptydir-data` (kubectl ≥ 1.20; default true). */
  deleteEmptyDirData?: boolean;
}

export function drainCommand(node: NodeSpec, target: string, opts: DrainOptions): string {
  const positive = (v: number, field: string, allowZero = false) => {
    if (!Number.isInteger(v) || v < (allowZero ? 0 : 1)) {
      throw ApplicationFailure.create({
        message: `${field}: ${v} must be a ${allowZero ? 'non-negative' : 'positive'} whole number of seconds`,
        type: FailureType.InvalidInput,
        nonRetryable: true,
      });
    }
    return v;
  };
  const args: string[] = ['drain', checkNodeName(target), '--ignore-daemonsets'];
  if (opts.deleteEmptyDirData ?? true) args.push('--delete-emptydir-data');
  if (opts.force) args.push('--force');
  if (opts.gracePeriodS !== undefined) args.push(`--grace-period=${positive(opts.gracePeriodS, 'gracePeriodS', true)}`);
  args.push(`--timeout=${positive(opts.timeoutS, 'timeoutS')}s`);
  return kubectl(node, ...args);
}

export interface DrainResult {
  /** `node/<n> drained` (older kubectl: `node/<n> evicted`) and exit 0. */
  drained: boolean;
  /** The node was cordoned (now or before); drain leaves it cordoned even when it fails. */
  cordoned: boolean;
  /** `ns/pod` of every pod reported evicted. */
  evicted: string[];
  /** `ns/pod` whose eviction a PodDisruptionBudget refused. */
  blockedByPdb: string[];
  /** Pod names kubectl listed as still pending when it gave up. */
  pending: string[];
  /** `global timeout reached`. */
  timedOut: boolean;
  /** `cannot delete …` reasons (unmanaged pods, local storage, DaemonSets without --ignore-daemonsets). */
  blockers: string[];
  /** The first error line, when not drained. */
  message?: string;
}

export function parseDrainOutput(stdout: string, stderr: string, exitCode: number): DrainResult {
  const r: DrainResult = { drained: false, cordoned: false, evicted: [], blockedByPdb: [], pending: [], timedOut: false, blockers: [] };
  const evictedNames = new Set<string>();
  const evicting: string[] = [];
  let pendingBlock = false;
  for (const raw of nonBlankLines(`${stdout}\n${stderr}`)) {
    const line = raw.trim();
    let m: RegExpExecArray | null;
    if (/^node\/\S+ (already )?cordoned$/.test(line)) r.cordoned = true;
    else if (/^node\/\S+ (drained|evicted)$/.test(line)) r.drained = true;
    else if ((m = /^evicting pod (\S+)\/(\S+)$/.exec(line))) evicting.push(`${m[1]}/${m[2]}`);
    else if ((m = /^pod\/(\S+) evicted$/.exec(line))) evictedNames.add(m[1]);
    else if ((m = /^error when evicting pods\/"([^"]+)" -n "([^"]+)"(.*)$/.exec(line))) {
      const id = `${m[2]}/${m[1]}`;
      if (/disruption budget/i.test(m[3]) && !r.blockedByPdb.includes(id)) r.blockedByPdb.push(id);
      if (/global timeout reached/.test(m[3])) r.timedOut = true;
    } else if (/^There are pending pods in node/.test(line)) {
      pendingBlock = true;
      if (/global timeout reached/.test(line)) r.timedOut = true;
    } else if (/^error: /.test(line)) {
      r.message ??= line;
      if (/global timeout reached/.test(line)) r.timedOut = true;
      pendingBlock = false;
    } else if (/global timeout reached/.test(line)) r.timedOut = true;
    else if (pendingBlock && (m = /^pod\/(\S+)$/.exec(line))) r.pending.push(m[1]);
    else if (/^cannot delete /.test(line)) r.blockers.push(line);
  }
  // Map evicted pod names back to namespaces via the `evicting pod ns/name` lines.
  for (const id of evicting) if (evictedNames.has(id.split('/')[1])) r.evicted.push(id);
  for (const name of evictedNames) if (!r.evicted.some((id) => id.endsWith(`/${name}`))) r.evicted.push(name);
  if (exitCode !== 0) {
    r.drained = false;
    r.message ??= nonBlankLines(stderr)[0]?.trim() ?? nonBlankLines(stdout)[0]?.trim();
  }
  return r;
}

// ---------------------------------------------------------------------------------------------------------------
// API server down

export interface ApiUnavailable {
  reason: 'refused' | 'timeout' | 'unavailable' | 'no-leader';
  /** `127.0.0.1:16443` when kubectl names it. */
  server?: string;
  line: string;
}

const API_DOWN: Array<[RegExp, ApiUnavailable['reason']]> = [
  [/The connection to the server (\S+?) was refused/, 'refused'],
  [/no available dqlite leader server found/, 'no-leader'],
  [/Unable to connect to the server: .*(?:timeout|timed out|deadline exceeded)/i, 'timeout'],
  [/Unable to connect to the server: dial tcp (\S+?): connect: connection refused/, 'refused'],
  [/Error from server \(Timeout\)|the server was unable to return a response in the time allotted/, 'timeout'],
  [/request timed out|context deadline exceeded|i\/o timeout|TLS handshake timeout/i, 'timeout'],
  [/Error from server \(ServiceUnavailable\)|the server is currently unable to handle the request/, 'unavailable'],
  [/Unable to connect to the server/, 'unavailable'],
];

/** Recognise kubectl's "the API server is not answering" errors; undefined for any other error (or none). */
export function parseApiUnavailable(stderr: string): ApiUnavailable | undefined {
  for (const raw of nonBlankLines(stderr)) {
    const line = raw.trim();
    for (const [re, reason] of API_DOWN) {
      const m = re.exec(line);
      if (!m) continue;
      const r: ApiUnavailable = { reason, line };
      const server = m[1] ?? /(\d{1,3}(?:\.\d{1,3}){3}:\d+)/.exec(line)?.[1];
      if (server) r.server = server;
      return r;
    }
  }
  return undefined;
}
