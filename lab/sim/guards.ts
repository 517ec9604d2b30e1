/** Guards and messages several MicroK8s commands share (behaviour reference §0). */
import * as fs from 'fs';
import * as path from 'path';
import { snapPaths } from './backend';
import type { Sim } from './context';
import { Exit } from './context';
import { type Cluster, type LabState, type NodeState, hasQuorum, servicesUp } from './model';

export const NOT_RUNNING = 'microk8s is not running, try microk8s start';
export const REFUSED = 'The connection to the server 127.0.0.1:16443 was refused - did you specify the right host or port?';
export const ACTING_AS_NODE = 'This MicroK8s deployment is acting as a node in a cluster.';

/** `exit_if_no_permissions` (utils.sh): `credentials/client.config` is unreadable for a user outside the group. */
export function insufficientPermissions(user: string): string {
  return (
    'Insufficient permissions to access MicroK8s.\n' +
    `You can either try again with sudo or add the user ${user} to the 'microk8s' group:\n\n` +
    `    sudo usermod -a -G microk8s ${user}\n    sudo chown -R ${user} ~/.kube\n\n` +
    "After this, reload the user groups either via a reboot or by running 'newgrp microk8s'."
  );
}

/**
 * The wrappers' `exit_if_no_permissions` for a caller that is not root (the lab's user is in no `microk8s` group),
 * at the point each wrapper calls it: after the worker guard of add-node/start/stop/kubectl, after
 * `exit_if_stopped` of leave/kubectl (kubectl skips it with `--kubeconfig`), first for status, join, remove-node.
 * `version` checks too (microk8s-version.wrapper, since 1.25); `inspect` does not (microk8s.wrapper runs it through `run_with_sudo`).
 */
export function exitIfNoPermissions(sim: Sim, sub: string | undefined, args: string[]): void {
  if (sim.root) return;
  const worker = () => isWorker(sim);
  const stopped = () => lockExists(sim, 'stopped.lock');
  switch (sub) {
    case 'status':
    case 'version':
    case 'join':
    case 'remove-node':
      break;
    case 'add-node':
      if (worker() || args.some((a) => a.includes('help'))) return;
      break;
    case 'start':
    case 'stop':
      if (worker()) return;
      break;
    case 'leave':
      if (stopped()) return;
      break;
    case 'kubectl':
      if (worker() || stopped() || args.some((a) => a.includes('--kubeconfig'))) return;
      break;
    default:
      return;
  }
  sim.err(insufficientPermissions(process.env.USER ?? ''));
  throw new Exit(1);
}

export function lockExists(sim: Sim, lock: string): boolean {
  return fs.existsSync(path.join(snapPaths(sim.labDir, sim.node).locks, lock));
}

export function isWorker(sim: Sim): boolean {
  return lockExists(sim, 'clustered.lock');
}

/** `exit_if_stopped`, bash flavour: stderr, exit 1. */
export function exitIfStopped(sim: Sim): void {
  if (lockExists(sim, 'stopped.lock')) {
    sim.err(NOT_RUNNING);
    throw new Exit(1);
  }
}

/** Whether this node can reach a working API server (its own, or through apiserver-proxy on a worker). */
export function apiUp(s: LabState, self: NodeState, now: number): Cluster | undefined {
  const c = s.clusters[self.cluster];
  if (!c || !servicesUp(self, now) || !hasQuorum(s, c, now)) return undefined;
  if (!self.worker && !(self.dqlite.ok && c.members.some((m) => m.node === self.name))) return undefined;
  return c;
}
