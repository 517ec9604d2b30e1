/**
 * A node's machine across a reboot (behaviour reference §12): the boot id that proves a reboot happened, Ubuntu's
 * reboot sentinel, the reboot itself, and the operator's maintenance command. Builders beside parsers.
 */
import { type NodeSpec, nodePaths } from '../../common/inventory';
import { command } from '../../common/shell';
import { nonBlankLines, UnexpectedOutputError } from './unexpected-output';

export function readBootIdCommand(node: NodeSpec): string {
  return command('cat', nodePaths(node).bootId);
}

/** A boot id is one UUID line; anything else is not a boot id (the node would be judged on garbage). */
export function parseBootId(stdout: string): string {
  const id = stdout.trim();
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) throw new UnexpectedOutputError('cat boot_id', stdout, 'not a UUID');
  return id.toLowerCase();
}

/** Exit 0 when a package asked for a reboot (`/var/run/reboot-required`, kured's and unattended-upgrades' test). */
export function rebootRequiredCommand(node: NodeSpec): string {
  return command('test', '-f', nodePaths(node).rebootRequired);
}

/** The packages that asked, one per line; a missing list prints nothing. */
export function rebootPkgsCommand(node: NodeSpec): string {
  return `${command('cat', nodePaths(node).rebootRequiredPkgs)} 2>/dev/null`;
}

export function parseRebootPkgs(stdout: string): string[] {
  return [...new Set(nonBlankLines(stdout).map((l) => l.trim()))];
}

/** systemd's clean reboot: services get SIGTERM, so k8s-dqlite hands its role over before the machine goes down. */
export function rebootCommand(): string {
  return command('systemctl', 'reboot');
}

/** The operator's `--command`, run by a shell as root (it patches the machine: apt needs root). */
export function maintenanceCommand(line: string): string {
  return command('sh', '-c', line);
}
