/** Failure domains (§7): `args/ha-conf` holds `failure-domain=N`; k8s-dqlite reads it at start. */
import { type NodeSpec, nodePaths } from '../../common/inventory';
import { command } from '../../common/shell';

export function haConfContent(domain: number): string {
  return `failure-domain=${domain}\n`;
}

/** The failure domain in an `args/ha-conf` text, or undefined when it sets none. */
export function parseHaConf(text: string): number | undefined {
  const m = /^\s*failure-domain\s*=\s*(\d+)\s*$/m.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** Write `args/ha-conf` from stdin (`tee`, so sudo applies to the write). */
export function writeHaConfCommand(node: NodeSpec): string {
  return `${command('tee', '--', nodePaths(node).haConf)} >/dev/null`;
}
