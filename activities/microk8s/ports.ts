/** Ports between nodes (§9 row 3): what a joiner needs open on the node it joins, and the probes that check them. */
import { isIPv4, type NodeSpec } from '../../common/inventory';
import { command } from '../../common/shell';

/** The ports a joining node needs on the node it joins: cluster agent, dqlite, API server. */
export const JOIN_PORTS = [
  { port: 25000, what: 'cluster agent (microk8s join)' },
  { port: 19001, what: 'dqlite' },
  { port: 16443, what: 'API server' },
] as const;

export const DQLITE_PORT = 19001;

export function dqliteAddress(node: NodeSpec): string {
  return `${node.address}:${DQLITE_PORT}`;
}

/** A TCP connect from the node running it to ip:port, bounded to `seconds`: `nc -z` as §9 row 3 advises. */
export function portProbeCommand(ip: string, port: number, seconds = 3): string {
  checkProbe(ip, port, seconds);
  return command('nc', '-z', '-w', seconds, ip, port);
}

/** The same connect without nc: bash's /dev/tcp under `timeout` (exit 0 = accepted; 127 = no bash or timeout). */
export function devTcpProbeCommand(ip: string, port: number, seconds = 3): string {
  checkProbe(ip, port, seconds);
  return `${command('timeout', seconds, 'bash', '-c', `: </dev/tcp/${ip}/${port}`)} 2>/dev/null`;
}

/** What a probe said: 0 = accepted; 127 (or "not found") = the probe's tool is missing, which says nothing about the port. */
export function classifyPortProbe(exitCode: number | null, stderr: string): 'open' | 'closed' | 'no-probe' {
  if (exitCode === 0) return 'open';
  if (exitCode === 127 || /(nc|bash|timeout): (command )?not found/.test(stderr)) return 'no-probe';
  return 'closed';
}

function checkProbe(ip: string, port: number, seconds: number): void {
  if (!isIPv4(ip)) throw new Error(`${JSON.stringify(ip)} is not an IPv4 address`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${port} is not a TCP port`);
  if (!Number.isInteger(seconds) || seconds < 1) throw new Error(`${seconds} is not a whole number of seconds`);
}
