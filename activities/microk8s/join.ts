/**
 * Cluster membership commands, each builder beside the reading of its output (behaviour reference §1, §2, §4):
 * `add-node`, `join`, `leave`, `remove-node`, the port probe pre-flight runs from joining nodes, and the
 * `args/ha-conf` failure-domain file. Pure code: activities run the lines through the SSH layer.
 */
import { command } from '../../common/shell';
import { nodePaths, type NodeSpec } from '../../common/inventory';
import { dqliteAddress } from './ports';

// ---------------------------------------------------------------------------------------------------
// add-node: we mint the token ourselves (32 hex chars, §1) so we never parse it back out of the output.

export function addNodeCommand(primary: NodeSpec, token: string, ttlSeconds: number): string {
  if (!/^[0-9a-f]{32,}$/.test(token)) throw new Error('a join token must be at least 32 lowercase hex characters');
  return command(nodePaths(primary).microk8s, 'add-node', '--token', token, '--token-ttl', Math.floor(ttlSeconds), '--format', 'json');
}

/**
 * The join string for `primary` from `add-node --format json` (`{"token": "<token>/<check>", "urls": [...]}`).
 * The URL on the primary's inventory address is preferred: `urls` follows `hostname -I`, not the default route.
 */
export function joinUrlFromAddNode(stdout: string, primary: NodeSpec, token: string): string {
  let parsed: { token?: unknown; urls?: unknown };
  try {
    parsed = JSON.parse(stdout);
  } catch {
    throw new Error('add-node --format json printed something that is not JSON');
  }
  const urls = Array.isArray(parsed.urls) ? parsed.urls.filter((u): u is string => typeof u === 'string') : [];
  const own = urls.find((u) => u.startsWith(`${primary.address}:`));
  if (own) return own;
  const check = typeof parsed.token === 'string' ? parsed.token.split('/')[1] : undefined;
  if (!check || !/^[0-9a-f]{12,}$/.test(check)) throw new Error('add-node --format json gave no certificate check');
  const port = urls[0]?.split('/')[0]?.split(':')[1] ?? '25000';
  return `${primary.address}:${port}/${token}/${check}`;
}

// ---------------------------------------------------------------------------------------------------
// join

/** `microk8s join <url>`; a control-plane join omits `--controlplane` on purpose (§2: the flag is broken). */
export function joinCommand(node: NodeSpec, url: string, asWorker: boolean): string {
  const argv = [nodePaths(node).microk8s, 'join', url];
  if (asWorker) argv.push('--worker');
  return command(...argv);
}

export type JoinOutcome =
  | 'joined'
  | 'invalid-token'
  | 'fingerprint-mismatch'
  | 'unreachable'
  | 'already-known'
  | 'hostname-refused'
  | 'self-join'
  | 'not-ha'
  | 'low-memory'
  | 'failed';

/**
 * What a `microk8s join` run means (§2 client errors and server rejections, §9 rows 1-5). Exit 0 is "joined" even
 * though the join may not have converged: callers verify membership afterwards.
 */
export function classifyJoin(exitCode: number | null, stdout: string, stderr: string): JoinOutcome {
  const out = `${stdout}\n${stderr}`;
  if (/already known to dqlite/i.test(out)) return 'already-known';
  if (/Invalid token/.test(out)) return 'invalid-token';
  if (/Could not verify the identity|Peer node verification failed/.test(out)) return 'fingerprint-mismatch';
  if (/Refusing join/.test(out)) return 'hostname-refused';
  if (/has the same IP .* as the node we contact/.test(out)) return 'self-join';
  if (/not an HA MicroK8s cluster|not an HA dqlite cluster/.test(out)) return 'not-ha';
  if (/low-memory|disable-low-memory-guard/.test(out) && exitCode !== 0) return 'low-memory';
  if (
    /Traceback|TimeoutError|ConnectionRefusedError|No route to host|Connection refused|Connection timed out|Please ensure the master node is reachable/.test(
      out,
    )
  ) {
    return exitCode === 0 ? 'joined' : 'unreachable';
  }
  return exitCode === 0 ? 'joined' : 'failed';
}

/** What to tell the operator for a refused join: the cause and the fix (§9). */
export function explainJoin(outcome: JoinOutcome, node: NodeSpec, primary: NodeSpec): string {
  switch (outcome) {
    case 'invalid-token':
      return `${node.name}: ${primary.name} refused the join token (burnt or expired) on every attempt`;
    case 'fingerprint-mismatch':
      return (
        `${node.name}: could not verify the identity of ${primary.address} (its certificate changed after add-node, ` +
        `e.g. an IP change); check that ${primary.address} really is ${primary.name}, then rerun`
      );
    case 'unreachable':
      return (
        `${node.name}: cannot reach ${primary.address}:25000 (cluster agent) on ${primary.name}; ` +
        `open 25000/tcp, 19001/tcp and 16443/tcp between the nodes (and set no_proxy if a proxy is configured)`
      );
    case 'already-known':
      return (
        `${node.name}: ${dqliteAddress(node)} is already known to dqlite on ${primary.name} (a stale member from an ` +
        `earlier join or a rebuilt node); remove it with "microk8s remove-node ${node.address} --force" on ` +
        `${primary.name}: rerun with --clean-stale or approve the clean-up`
      );
    case 'hostname-refused':
      return (
        `${node.name}: ${primary.name} refused the join because the hostname ${node.name} does not resolve to ` +
        `${node.address} there; add "${node.address} ${node.name}" to /etc/hosts on ${primary.name}`
      );
    case 'self-join':
      return `${node.name}: has the same IP as ${primary.name}; every node needs its own address in the inventory`;
    case 'not-ha':
      return `${node.name}: ${primary.name} is not an HA cluster; run "microk8s enable ha-cluster" on it first`;
    case 'low-memory':
      return `${node.name}: the low-memory guard refuses a control-plane join; give it more RAM or make it a worker`;
    default:
      return `${node.name}: microk8s join failed`;
  }
}

// ---------------------------------------------------------------------------------------------------
// leave and remove-node (§4)

export function leaveCommand(node: NodeSpec): string {
  return command(nodePaths(node).microk8s, 'leave');
}

/** `leave` refuses on the only voter (exit 3) and on a node that is not clustered (exit 1 / 2). */
export type LeaveOutcome = 'left' | 'only-voter' | 'not-clustered' | 'failed';

export function classifyLeave(exitCode: number | null, stdout: string, stderr: string): LeaveOutcome {
  const out = `${stdout}\n${stderr}`;
  if (/holds the only copy of the Kubernetes database/.test(out)) return 'only-voter';
  if (/not acting as a node in a cluster|Not in clustering mode/.test(out)) return 'not-clustered';
  return exitCode === 0 ? 'left' : 'failed';
}

/** `remove-node <name|ip> [--force]`, run on a remaining control-plane node. */
export function removeNodeCommand(on: NodeSpec, target: string, force: boolean): string {
  const argv = [nodePaths(on).microk8s, 'remove-node', target];
  if (force) argv.push('--force');
  return command(...argv);
}

export type RemoveOutcome = 'removed' | 'registered-with-dqlite' | 'unknown-to-kubernetes' | 'run-on-worker' | 'failed';

/**
 * §4: exit 0 is silent success; `--force` on a node Kubernetes does not know exits 1 even when it removed the
 * dqlite entry, so that case is "unknown-to-kubernetes" and the caller checks dqlite itself.
 */
export function classifyRemoveNode(exitCode: number | null, stdout: string, stderr: string): RemoveOutcome {
  const out = `${stdout}\n${stderr}`;
  if (exitCode === 0) return 'removed';
  if (/is registered with dqlite/.test(out)) return 'registered-with-dqlite';
  if (/does not exist in Kubernetes/.test(out)) return 'unknown-to-kubernetes';
  if (/acting as a node in a cluster/.test(out)) return 'run-on-worker';
  return 'failed';
}

// ---------------------------------------------------------------------------------------------------
// the join trap (§2 step 4, §9 row 6): exit 0 without convergence leaves `init.yaml` and no `info.yaml`

/** `init.yaml` and `info.yaml` of the node's backend, one word per file present (`ls` of just those two). */
export function joinStateCommand(node: NodeSpec): string {
  const p = nodePaths(node);
  return `${command('ls', '-1', '--', `${p.backend}/init.yaml`, p.infoYaml)} 2>/dev/null`;
}

/** A control-plane join that never converged: dqlite still holds `init.yaml` and never wrote `info.yaml`. */
export function parseUnconvergedJoin(stdout: string): boolean {
  const files = stdout.split('\n').map((l) => l.trim().split('/').pop());
  return files.includes('init.yaml') && !files.includes('info.yaml');
}

/**
 * Is a join running on the node? `join.py` is what `microk8s join` runs (the pattern's brackets keep the probe's own
 * command line from matching). pgrep: 0 = found, 1 = none, anything else (no pgrep) = cannot tell.
 */
export const JOIN_RUNNING_COMMAND = command('pgrep', '-f', '--', 'join[.]py|[m]icrok8s join ');

export function parseJoinRunning(exitCode: number | null): 'running' | 'none' | 'unknown' {
  return exitCode === 0 ? 'running' : exitCode === 1 ? 'none' : 'unknown';
}

/** Remove a `join-in-progress` lock left by a join that no longer runs (join.py removes it only on success, §0). */
export function clearJoinLockCommand(node: NodeSpec): string {
  return command('rm', '-f', '--', `${nodePaths(node).locks}/join-in-progress`);
}

// ---------------------------------------------------------------------------------------------------
// failure domains (§7: `args/ha-conf` holds `failure-domain=N`; k8s-dqlite reads it at start)

