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
  /**
   * Rotate the shared CA instead (`--ca`): a new CA on one control plane, then every other node leaves and re-joins
   * through it to receive the new CA (§11's documented remedy). `certs` and `withinDays` do not apply.
   */
  ca?: boolean;
  /** A lost worker is noticed after this long (default 60 s; tests shorten it). */
  heartbeatTimeoutSeconds?: number;
}

/** A node's CA as the engine tells CAs apart: the sha256 of its `certs/ca.crt` (public, not a secret). */
export interface NodeCa {
  node: string;
  fingerprint?: string;
  /** The node did not answer over SSH: why. */
  unreachable?: string;
}

/** What the CA rotation did (`--ca`). */
export interface CaRotation {
  /** The control plane that made the new CA; every other node re-joined through it. */
  anchor: string;
  /** An earlier run had already made the new CA (the nodes disagreed at the start): this run only re-joined. */
  resumed: boolean;
  /** The new CA's fingerprint (sha256 of ca.crt). */
  fingerprint: string;
  /** Every node's CA at the end (at the start for `--plan`). */
  nodes: NodeCa[];
  rejoined: string[];
  /** Already on the new CA (re-joined by an earlier try). */
  alreadyOnNewCa: string[];
}

/** One node's certificates: days until each expires (negative once expired), as `--check` floors them. */
export interface NodeCertExpiry {
  node: string;
  /** A worker refuses refresh-certs: it has no API server certificates of its own. */
  worker: boolean;
  days: Partial<Record<CheckedCert, number>>;
  /** sha256 of this node's own certificate files: how a rerun tells a certificate it already refreshed. */
  fingerprints?: Partial<Record<RotatableCert, string>>;
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
  ca?: CaRotation;
}

/** Days as a person reads them: "expired 85 days ago", "expires in 12 days". */
export function describeDays(days: number): string {
  return days < 0 ? `expired ${-days} day(s) ago` : `expires in ${days} day(s)`;
}
