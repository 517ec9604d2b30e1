/**
 * Starting and stopping MicroK8s on a node (§5): `microk8s stop|start` on a control plane (stop disables the
 * services and leaves `stopped.lock`), `snap stop --disable|start --enable` on a worker; and the lock files (§0).
 */
import { type NodeSpec, nodePaths } from '../../common/inventory';
import { command } from '../../common/shell';

export function stopCommand(node: NodeSpec): string {
  return command(nodePaths(node).microk8s, 'stop');
}

export function startCommand(node: NodeSpec): string {
  return command(nodePaths(node).microk8s, 'start');
}

export function snapStopCommand(): string {
  return command('snap', 'stop', '--disable', 'microk8s');
}

export function snapStartCommand(): string {
  return command('snap', 'start', '--enable', 'microk8s');
}

/** Exit 0 when `microk8s stop` left its `stopped.lock`. */
export function stoppedLockCommand(node: NodeSpec): string {
  return command('test', '-e', `${nodePaths(node).locks}/stopped.lock`);
}

/** The lock files in `$SNAP_DATA/var/lock/` (§0), one per line; a missing directory prints nothing. */
export function listLocksCommand(node: NodeSpec): string {
  return `${command('ls', '-1', '--', nodePaths(node).locks)} 2>/dev/null`;
}

export function parseLocks(stdout: string): string[] {
  return stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}
