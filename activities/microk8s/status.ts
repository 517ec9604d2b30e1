/**
 * `microk8s status` (behaviour reference §3): the command builder and a parser for the pretty, yaml and short
 * formats, including the exit-code traps: stopped → exit 0 with a message, worker → exit 0 with a message,
 * not ready → exit 1.
 */
import { ApplicationFailure } from '@temporalio/common';
import { parse as parseYaml } from 'yaml';
import { FailureType } from '../../common/constants';
import { NodeSpec, nodePaths } from '../../common/inventory';
import { command } from '../../common/shell';
import { DqliteRole, toDqliteRole } from '../../common/dqlite';
import { UnexpectedOutputError, nonBlankLines } from './unexpected-output';
import type { NotRunningReason } from '../../common/check';

export interface StatusOptions {
  format?: 'yaml' | 'pretty';
  /** `--wait-ready`: needs `timeoutS`, because MicroK8s' default of 0 means wait forever. */
  waitReady?: boolean;
  timeoutS?: number;
}

export function statusCommand(node: NodeSpec, opts: StatusOptions = {}): string {
  const argv: Array<string | number> = [nodePaths(node).microk8s, 'status', '--format', opts.format ?? 'yaml'];
  if (opts.timeoutS !== undefined && (!Number.isInteger(opts.timeoutS) || opts.timeoutS <= 0)) {
    throw ApplicationFailure.create({
      message: `timeoutS: ${opts.timeoutS} must be a positive whole number of seconds`,
      type: FailureType.InvalidInput,
      nonRetryable: true,
    });
  }
  if (opts.waitReady) {
    if (opts.timeoutS === undefined) {
      throw ApplicationFailure.create({
        message: 'timeoutS: required with waitReady (microk8s status --wait-ready without --timeout waits forever)',
        type: FailureType.InvalidInput,
        nonRetryable: true,
      });
    }
    argv.push('--wait-ready');
  }
  if (opts.timeoutS !== undefined) argv.push('--timeout', opts.timeoutS);
  return command(...argv);
}

export interface DatastoreNode {
  address: string;
  role: DqliteRole;
}

export interface Addon {
  name: string;
  repository?: string;
  status: 'enabled' | 'disabled';
  description?: string;
}

export interface MicroK8sStatus {
  running: boolean;
  notRunningReason?: NotRunningReason;
  /** The message MicroK8s printed when not running. */
  message?: string;
  /** Set when the node is a worker (status cannot tell whether it runs; `running` is false). */
  worker?: true;
  /** `high-availability: yes` (voters > 2). */
  ha: boolean;
  voters: string[];
  standbys: string[];
  /** Voters and stand-bys (pretty omits spares; yaml may list them). */
  nodes: DatastoreNode[];
  addons?: Addon[];
}

const STOPPED = 'microk8s is not running, try microk8s start';
const NOT_READY = 'microk8s is not running. Use microk8s inspect for a deeper inspection.';
const WORKER = 'This MicroK8s deployment is acting as a node in a cluster.';
const PERMISSIONS = 'Insufficient permissions to access MicroK8s.';

function base(running: boolean): MicroK8sStatus {
  return { running, ha: false, voters: [], standbys: [], nodes: [] };
}

function withNodes(st: MicroK8sStatus, nodes: DatastoreNode[]): MicroK8sStatus {
  st.nodes = nodes;
  st.voters = nodes.filter((n) => n.role === 'voter').map((n) => n.address);
  st.standbys = nodes.filter((n) => n.role === 'stand-by').map((n) => n.address);
  return st;
}

/**
 * Parse `microk8s status` in any format. `stderr` is optional: some guards print there (the bash stop check,
 * permissions). Throws UnexpectedOutputError on exit 0 with output it cannot read.
 */
export function parseStatus(stdout: string, exitCode: number, stderr = ''): MicroK8sStatus {
  const all = `${stdout}\n${stderr}`;
  if (all.includes(WORKER)) return { ...base(false), worker: true, notRunningReason: 'worker', message: firstLine(all, WORKER) };
  if (all.includes(PERMISSIONS)) return { ...base(false), notRunningReason: 'permissions', message: PERMISSIONS };
  if (all.includes(STOPPED)) return { ...base(false), notRunningReason: 'stopped', message: STOPPED };

  const lines = nonBlankLines(stdout);
  const first = lines[0]?.trim() ?? '';
  let st: MicroK8sStatus | undefined;
  if (first === 'microk8s:') st = parseYamlStatus(stdout);
  else if (first === 'microk8s is running' || first === NOT_READY) st = parsePrettyStatus(lines);
  else {
    // dqlite CLI errors can precede the status proper (#2910): look past them.
    const at = lines.findIndex((l) => l === 'microk8s is running' || l === NOT_READY || l === 'microk8s:');
    if (at > 0) return parseStatus(lines.slice(at).join('\n'), exitCode, stderr);
  }
  if (!st) {
    if (/low memory|low-memory/i.test(all)) return { ...base(false), notRunningReason: 'low-memory', message: firstLine(all) };
    if (exitCode !== 0) return { ...base(false), notRunningReason: 'failed', message: firstLine(all) };
    throw new UnexpectedOutputError('microk8s status', stdout);
  }
  if (!st.running) {
    st.notRunningReason = 'not-ready';
    st.message ??= NOT_READY;
  }
  return st;
}

function firstLine(text: string, startingWith?: string): string {
  const lines = nonBlankLines(text).map((l) => l.trim());
  return (startingWith ? lines.find((l) => l.startsWith(startingWith)) : undefined) ?? lines[0] ?? '';
}

function parseAddresses(value: string, role: DqliteRole): DatastoreNode[] {
  const v = value.trim();
  if (v === '' || v === 'none') return [];
  return v.split(/\s+/).map((address) => ({ address, role }));
}

function parsePrettyStatus(lines: string[]): MicroK8sStatus {
  const st = base(lines[0].trim() === 'microk8s is running');
  const nodes: DatastoreNode[] = [];
  let section: 'none' | 'enabled' | 'disabled' = 'none';
  const addons: Addon[] = [];
  let sawAddons = false;
  for (const line of lines.slice(1)) {
    const t = line.trim();
    let m: RegExpExecArray | null;
    if ((m = /^high-availability:\s*(\S+)/.exec(t))) st.ha = m[1] === 'yes';
    else if ((m = /^datastore master nodes:(.*)$/.exec(t))) nodes.push(...parseAddresses(m[1], 'voter'));
    else if ((m = /^datastore standby nodes:(.*)$/.exec(t))) nodes.push(...parseAddresses(m[1], 'stand-by'));
    else if (t === 'addons:') sawAddons = true;
    else if (sawAddons && (t === 'enabled:' || t === 'disabled:')) section = t === 'enabled:' ? 'enabled' : 'disabled';
    else if (section !== 'none' && (m = /^(\S+)\s+#\s+\(([^)]+)\)\s*(.*)$/.exec(t))) {
      addons.push({ name: m[1], repository: m[2], status: section, description: m[3] || undefined });
    } else if (sawAddons && (m = /^([^/\s]+)\/(\S+):\s+(enabled|disabled)$/.exec(t))) {
      // --format short
      addons.push({ name: m[2], repository: m[1], status: m[3] as Addon['status'] });
    } else if (t === NOT_READY) st.running = false;
  }
  if (sawAddons) st.addons = addons;
  return withNodes(st, nodes);
}

/** Python prints `True`/`False`; YAML 1.2 core reads those as booleans, but accept strings too. */
function truthy(v: unknown): boolean {
  return v === true || (typeof v === 'string' && /^(true|yes)$/i.test(v.trim()));
}

function parseYamlStatus(stdout: string): MicroK8sStatus {
  let doc: unknown;
  try {
    doc = parseYaml(stdout);
  } catch {
    throw new UnexpectedOutputError('microk8s status --format yaml', stdout, 'invalid YAML');
  }
  if (typeof doc !== 'object' || doc === null) throw new UnexpectedOutputError('microk8s status --format yaml', stdout);
  const d = doc as Record<string, unknown>;
  const mk = (d.microk8s ?? {}) as Record<string, unknown>;
  const ha = (d['high-availability'] ?? {}) as Record<string, unknown>;
  const st = base(truthy(mk.running));
  st.ha = truthy(ha.enabled);
  // The not-running message is printed at two-space indent after the node list, so YAML nests it under
  // high-availability; look in every place it could land.
  const message = [mk.message, ha.message, d.message].find((m) => typeof m === 'string') as string | undefined;
  if (message) st.message = message;
  const nodes: DatastoreNode[] = [];
  if (Array.isArray(ha.nodes)) {
    for (const n of ha.nodes as Array<Record<string, unknown>>) {
      const role = toDqliteRole(n?.role);
      if (typeof n?.address !== 'string' || !role) {
        throw new UnexpectedOutputError('microk8s status --format yaml', stdout, 'bad high-availability node entry');
      }
      nodes.push({ address: n.address, role });
    }
  }
  if (Array.isArray(d.addons)) {
    st.addons = (d.addons as Array<Record<string, unknown>>)
      .filter((a) => a && typeof a.name === 'string')
      .map((a) => ({
        name: a.name as string,
        repository: typeof a.repository === 'string' ? a.repository : undefined,
        status: a.status === 'enabled' ? 'enabled' : 'disabled',
        description: typeof a.description === 'string' ? a.description : undefined,
      }));
  }
  return withNodes(st, nodes);
}
