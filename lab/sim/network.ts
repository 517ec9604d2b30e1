/**
 * Who reaches what over TCP in the lab: the one notion of "port reachable" that `nc -z` (the pre-check the
 * behaviour reference §9 row 3 recommends) and `microk8s join` (the cluster agent on 25000) share, including the
 * `block-port` fault (a firewall that drops: connects time out).
 */
import type { Sim } from './context';
import { type LabState, type NodeState, DQLITE_PORT, servicesUp } from './model';

export const AGENT_PORT = 25000;
export const API_PORT = 16443;
export const KUBELET_PORT = 10250;
/** The lab's sshd (lab/slots.ts LAB_PORT; not imported so the simulator loads nothing of sshd.ts). */
const SSH_PORT = 2222;
/** A second interface address, as `hostname -I` lists a docker bridge on many hosts: nothing answers there. */
export const EXTRA_IP = '172.17.0.1';

export type PortState = { open: true; node: NodeState } | { open: false; why: 'no-route' | 'refused' | 'timeout'; node?: NodeState };

/** The `block-port` fault: inbound TCP to this port of the node is dropped. */
export function portBlocked(n: NodeState, port: number): boolean {
  return !!n.faults.blockedPorts?.includes(port);
}

/**
 * Whether a TCP connect to ip:port succeeds, and how it fails otherwise: no machine (or a crashed or destroyed
 * one) → no route; a hung machine or a blocked port → timeout; nothing listening → refused. The cluster agent
 * (25000) runs while services are not stopped; dqlite (19001, control planes whose dqlite is on the node's IP),
 * the API server (16443) and the kubelet (10250) also need kubelite/k8s-dqlite up (not restarting).
 */
export function portState(s: LabState, ip: string, port: number, now: number): PortState {
  const node = Object.values(s.nodes).find((n) => n.address === ip);
  if (!node) return { open: false, why: ip === EXTRA_IP ? 'refused' : 'no-route' };
  if (node.power === 'crashed' || node.power === 'destroyed' || node.power === 'rebooting') return { open: false, why: 'no-route', node };
  if (node.power === 'hung' || portBlocked(node, port)) return { open: false, why: 'timeout', node };
  if (port === SSH_PORT) return { open: true, node };
  if (node.services !== 'running') return { open: false, why: 'refused', node };
  const listening =
    port === AGENT_PORT ||
    ((port === API_PORT || port === KUBELET_PORT) && servicesUp(node, now)) ||
    // A lone node's dqlite listens on 127.0.0.1:19001 only, until the first join moves it to the node's IP (§2).
    (port === DQLITE_PORT && !node.worker && node.dqlite.ok && node.dqlite.address === `${ip}:${DQLITE_PORT}` && servicesUp(node, now));
  return listening ? { open: true, node } : { open: false, why: 'refused', node };
}

const NC_USAGE = 'usage: nc [-46CDdFhklNnrStUuvZz] [-I length] [-i interval] [-M ttl]\n\t  [-m minttl] [-O length] [-P proxy_username] [-p source_port]\n\t  [-q seconds] [-s sourceaddr] [-T keyword] [-V rtable] [-W recvlimit]\n\t  [-w timeout] [-X proxy_protocol] [-x proxy_address[:port]]\n\t  [destination] [port]';

/**
 * `nc -z -w N HOST PORT` (either flag order; the shim sends anything else to the real nc): exit 0 when the port
 * accepts, 1 otherwise, silent as netcat-openbsd is without -v. A dropped connect waits the -w timeout, bounded
 * by the profile's connect timeout.
 */
export async function nc(sim: Sim, args: string[]): Promise<number> {
  let wait: number | undefined;
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '-z') continue;
    if (args[i] === '-w') wait = /^\d+$/.test(args[i + 1] ?? '') ? Number(args[++i]) : NaN;
    else rest.push(args[i]);
  }
  const [host, portText] = rest;
  if (wait === undefined || Number.isNaN(wait) || rest.length !== 2 || !/^\d+$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
    sim.err(NC_USAGE);
    return 1;
  }
  const reach = portState(sim.peek(), host, Number(portText), Date.now());
  if (reach.open) return 0;
  if (reach.why === 'timeout') await sim.sleep(Math.min(wait * 1000, sim.timing.connectTimeoutMs));
  return 1;
}
