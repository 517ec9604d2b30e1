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
