/**
 * Flags the dqlite runbooks share (backup, restore-backup, recover-quorum): a node named on the command line, the
 * flags every runbook command takes, and the check that a named node is one of the inventory's control planes.
 */
import { z } from 'zod';
import type { Inventory } from '../../common/inventory';
import type { CliContext } from '../context';

const NODE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
export const nodeName = z.string().regex(NODE, { error: 'must be a node name from the inventory (lowercase DNS label)' });
/** What every runbook command takes besides its own flags. */
export const runbookFlags = {
  inventory: z.string().min(1),
  plan: z.boolean().default(false),
  yes: z.boolean().default(false),
  json: z.boolean().default(false),
};

/** `--node k8s-2` (or `--lost`, `--template`) must name a control plane of the inventory: workers hold no dqlite data. */
export function controlPlaneNamed(ctx: CliContext, inventory: Inventory, flag: string, name: string): void {
  const node = inventory.nodes.find((n) => n.name === name);
  if (!node) ctx.badInput(`${flag} ${name}: not in the inventory (nodes: ${inventory.nodes.map((n) => n.name).join(', ')})`);
  if (node.role !== 'controlplane') ctx.badInput(`${flag} ${name}: is a worker, which holds no dqlite data; name a control-plane node`);
}
