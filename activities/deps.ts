import { ApplicationFailure } from '@temporalio/common';
import { FailureType, NODE_UNREACHABLE_TYPES } from '../common/constants';
import type { Inventory, NodeSpec } from '../common/inventory';
import type { NodeSession, SshPool } from './ssh';

/** What activities need from the worker process: injected, so tests can substitute them. */
export interface ActivityDeps {
  ssh: SshPool;
  /** Engine state directory: backups live under `<stateDir>/backups/<cluster>/`. */
  stateDir: string;
}

/** The inventory's node called `name`. An unknown name is bad input: never retried. */
export function findNode(inventory: Inventory, name: string): NodeSpec {
  const node = inventory.nodes.find((n) => n.name === name);
  if (!node) {
    throw ApplicationFailure.create({
      type: FailureType.InvalidInput,
      message: `node ${JSON.stringify(name)} is not in the inventory of cluster ${inventory.cluster}`,
      nonRetryable: true,
    });
  }
  return node;
}

/** A session to a node of this inventory (by name or spec), with the inventory's host-key trust. */
export function openNode(deps: ActivityDeps, inventory: Inventory, node: string | NodeSpec): NodeSession {
  const spec = typeof node === 'string' ? findNode(inventory, node) : node;
  return deps.ssh.session(spec, { knownHosts: inventory.knownHosts, hostKeyPolicy: inventory.hostKeyPolicy });
}

/** Why the node does not answer over SSH (its failure's first line), or undefined when `err` is another failure. */
export function unreachableReason(err: unknown): string | undefined {
  return err instanceof ApplicationFailure && NODE_UNREACHABLE_TYPES.includes(err.type ?? '') ? err.message.split('\n')[0] : undefined;
}
