/** The refresh-policy runbook's steps (§14): read each node's snap and holds; hold or release microk8s's auto-refresh. */
import type { Inventory } from '../common/inventory';
import type { NodeRefreshPolicy } from '../common/refresh-policy';
import { type ActivityDeps, openNode, unreachableReason } from './deps';
import { holdCommand, parseRefreshTime, parseSnapInfo, parseSnapList, refreshTimeCommand, snapInfoCommand, snapListCommand, unholdCommand } from './microk8s/snap';

export interface NodeRefInput {
  inventory: Inventory;
  node: string;
}

export function createRefreshPolicyActivities(deps: ActivityDeps) {
  async function readPolicy(input: NodeRefInput): Promise<NodeRefreshPolicy> {
    const sh = openNode(deps, input.inventory, input.node);
    const list = parseSnapList((await sh.check(snapListCommand())).stdout);
    const info = parseSnapInfo((await sh.check(snapInfoCommand({ absTime: true }))).stdout);
    const time = parseRefreshTime((await sh.check(refreshTimeCommand())).stdout);
    return {
      node: input.node,
      ...(list.tracking ? { tracking: list.tracking } : {}),
      version: list.version,
      revision: list.revision,
      ...(info.hold ? { hold: info.hold } : {}),
      ...(time.systemHold ? { systemHold: time.systemHold } : {}),
      ...(time.timer ? { timer: time.timer } : {}),
      ...(time.next ? { next: time.next } : {}),
    };
  }

  return {
    /**
     * `snap list`, `snap info --abs-time` and `snap refresh --time`: read-only. A node that does not answer over SSH
     * comes back `unreachable` at once: the runbook names it rather than wait for it.
     */
    async readRefreshPolicy(input: NodeRefInput): Promise<NodeRefreshPolicy> {
      try {
        return await readPolicy(input);
      } catch (err) {
        const unreachable = unreachableReason(err);
        if (unreachable === undefined) throw err;
        return { node: input.node, version: '', revision: '', unreachable };
      }
    },

    /**
     * Hold microk8s's auto-refresh indefinitely, or release its hold. Idempotent: a node already held forever (or
     * not held) is left alone; a hold that ends at a time is made indefinite.
     */
    async setRefreshHold(input: NodeRefInput & { hold: boolean }): Promise<{ node: string; changed: boolean }> {
      const sh = openNode(deps, input.inventory, input.node);
      const { hold } = parseSnapInfo((await sh.check(snapInfoCommand({ absTime: true }))).stdout);
      if (input.hold ? hold === 'forever' : !hold) return { node: input.node, changed: false };
      await sh.check(input.hold ? holdCommand() : unholdCommand());
      return { node: input.node, changed: true };
    },
  };
}
