/** The refresh-certs runbook's contract (workflow-safe): MicroK8s certificates and their rotation (§11). */
import type { RunbookBaseInput } from './messages';

/** What `microk8s refresh-certs --check` reports, in its order. */
export const CHECKED_CERTS = ['ca.crt', 'server.crt', 'front-proxy-client.crt'] as const;
export type CheckedCert = (typeof CHECKED_CERTS)[number];
/** Per node, refreshed in place with the health gates between nodes; the CA is shared and needs a re-join plan. */
export const ROTATABLE_CERTS = ['server.crt', 'front-proxy-client.crt'] as const;
export type RotatableCert = (typeof ROTATABLE_CERTS)[number];

/** `check` warns when a certificate expires within this many days. */
export const CERT_WARN_DAYS = 30;

export interface RefreshCertsInput extends RunbookBaseInput {
  /** Default: both per-node certificates. */
  certs?: RotatableCert[];
  /** Only certificates that expire within this many days (`--within 30d`); default: all. */
  withinDays?: number;
  /** How long a node's API may take to answer after its services restart. Default 5 minutes. */
  readyTimeoutSeconds?: number;
}

/** One node's certificates: days until each expires (negative once expired), as `--check` floors them. */
export interface NodeCertExpiry {
  node: string;
  /** A worker refuses refresh-certs: it has no API server certificates of its own. */
  worker: boolean;
  days: Partial<Record<CheckedCert, number>>;
  /** The node did not answer over SSH: why. */
  unreachable?: string;
}

export interface CertRotation {
  node: string;
  cert: RotatableCert;
  daysBefore: number;
  daysAfter?: number;
  /** Already fresh (a rerun after a crash): not refreshed again, so the undo level is kept. */
  skipped?: boolean;
}

export interface RefreshCertsResult {
  plan: string[];
  before: NodeCertExpiry[];
  after: NodeCertExpiry[];
  rotated: CertRotation[];
}

/** Days as a person reads them: "expired 85 days ago", "expires in 12 days". */
export function describeDays(days: number): string {
  return days < 0 ? `expired ${-days} day(s) ago` : `expires in ${days} day(s)`;
}
