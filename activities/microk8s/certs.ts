/** `microk8s refresh-certs` (behaviour reference §11): command builders and their parsers. */
import { type CheckedCert, type RotatableCert } from '../../common/certs';
import { type NodeSpec, nodePaths } from '../../common/inventory';
import { command } from '../../common/shell';
import { nonBlankLines, UnexpectedOutputError } from './unexpected-output';

export function certCheckCommand(node: NodeSpec): string {
  return command(nodePaths(node).microk8s, 'refresh-certs', '--check');
}

export function refreshCertCommand(node: NodeSpec, cert: RotatableCert | 'ca.crt'): string {
  return command(nodePaths(node).microk8s, 'refresh-certs', '--cert', cert);
}

/** This node's own certificates, hashed: a refresh writes a new file, so a changed hash means it already ran. */
export function certFingerprintsCommand(node: NodeSpec): string {
  return command('sha256sum', `${nodePaths(node).snapData}/certs/server.crt`, `${nodePaths(node).snapData}/certs/front-proxy-client.crt`);
}

/** `sha256sum a b` → hash by file name (server.crt, front-proxy-client.crt). */
export function parseCertFingerprints(stdout: string): Partial<Record<RotatableCert, string>> {
  const out: Partial<Record<RotatableCert, string>> = {};
  for (const line of nonBlankLines(stdout)) {
    const m = /^([0-9a-f]{64})\s+\S*\/(server\.crt|front-proxy-client\.crt)$/.exec(line.trim());
    if (m) out[m[2] as RotatableCert] = m[1];
  }
  return out;
}

/** The node's CA file, hashed: two nodes share a CA when the hashes match (a join copies ca.crt as it is). */
export function caFingerprintCommand(node: NodeSpec): string {
  return command('sha256sum', `${nodePaths(node).snapData}/certs/ca.crt`);
}

export function parseCaFingerprint(stdout: string): string {
  const m = /^([0-9a-f]{64})\s/.exec(stdout.trim() + ' ');
  if (!m) throw new UnexpectedOutputError('sha256sum ca.crt', stdout, 'no sha256 hash');
  return m[1];
}

/** Restores the certificates the last refresh backed up (one level), and restarts MicroK8s. */
export function undoCertsCommand(node: NodeSpec): string {
  return command(nodePaths(node).microk8s, 'refresh-certs', '--undo');
}

const LABEL_TO_CERT: Record<string, CheckedCert> = { CA: 'ca.crt', server: 'server.crt', 'front proxy client': 'front-proxy-client.crt' };

/** A worker prints this and exits 0: only control planes have the certificates refresh-certs renews. */
export function isWorkerRefusal(stdout: string): boolean {
  return /acting as a node in a cluster/.test(stdout);
}

/** `The {CA|server|front proxy client} certificate will expire in N days.` (N negative once expired). */
export function parseCertCheck(stdout: string): Partial<Record<CheckedCert, number>> {
  const days: Partial<Record<CheckedCert, number>> = {};
  for (const line of nonBlankLines(stdout)) {
    const m = /^The (CA|server|front proxy client) certificate will expire in (-?\d+) days\.$/.exec(line.trim());
    if (m) days[LABEL_TO_CERT[m[1]]] = Number(m[2]);
  }
  if (Object.keys(days).length === 0) throw new UnexpectedOutputError('microk8s refresh-certs --check', stdout, 'no "certificate will expire" line');
  return days;
}
