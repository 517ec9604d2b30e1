/**
 * Kubernetes version strings and snap channels: parsing, comparison and the one-minor-at-a-time upgrade path
 * (behaviour reference §6, §8). Workflow-safe: pure string code; errors are non-retryable ApplicationFailures
 * so a workflow that calls these fails cleanly instead of retrying its task forever.
 */
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from './constants';

export interface KubeVersion {
  major: number;
  minor: number;
  patch: number;
  /** `rc.0`, `beta.2`, `alpha.3`; absent for releases and for old MicroK8s build suffixes. */
  pre?: string;
  /** Old MicroK8s builds (≤ 1.24) carry a git-describe suffix `-<n>+<hex>`, kept for display only. */
  build?: string;
  /** The string as given. */
  raw: string;
}

/** A minor release line, e.g. 1.28. */
export interface Minor {
  major: number;
  minor: number;
}

export type Risk = 'stable' | 'candidate' | 'beta' | 'edge';
export const RISKS: readonly Risk[] = ['stable', 'candidate', 'beta', 'edge'];

export interface SnapChannel {
  /** `1.28`, `1.28-strict` or `latest`. */
  track: string;
  risk: Risk;
  branch?: string;
  /** The minor this track follows; absent for `latest`, which moves with every release. */
  minor?: Minor;
  /** `-strict` tracks ship the strictly confined build. */
  strict: boolean;
}

/**
 * Behaviour reference §8, extended twice: `v` is optional (users omit it), and a pre-release may carry the old
 * build suffix too, as kubectl showed after a refresh to 1.23/candidate: `v1.23.0-rc.0.2+f4d3c97c512f07`.
 */
const KUBE_VERSION = /^v?(\d+)\.(\d+)\.(\d+)(?:-(?:(\d+\+[0-9a-f]+)|((?:alpha|beta|rc)\.\d+)(?:\.(\d+\+[0-9a-f]+))?))?$/;
const TRACK = /^(?:latest|(\d+)\.(\d+)(-strict)?)$/;
const BRANCH = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

function invalid(message: string): ApplicationFailure {
  return ApplicationFailure.create({ message, type: FailureType.InvalidInput, nonRetryable: true });
}

/** Parse `v1.32.3`, `v1.22.3-3+9ec7c40ec93c73`, `v1.23.0-rc.0`; undefined when it is not a kube version. */
export function tryParseKubeVersion(s: string): KubeVersion | undefined {
  const raw = s.trim();
  const m = KUBE_VERSION.exec(raw);
  if (!m) return undefined;
  const v: KubeVersion = { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), raw };
  if (m[4] ?? m[6]) v.build = m[4] ?? m[6];
  if (m[5]) v.pre = m[5];
  return v;
}

export function parseKubeVersion(s: string, field = 'version'): KubeVersion {
  const v = tryParseKubeVersion(s);
  if (!v) {
    throw invalid(
      `${field}: ${JSON.stringify(s)} is not a Kubernetes version; expected e.g. "v1.32.3", "v1.23.0-rc.0" or "v1.22.3-3+9ec7c40ec93c73"`,
    );
  }
  return v;
}

/** Parse and validate `<track>/<risk>[/<branch>]`; a bare track means `<track>/stable`, as snapd does. */
export function tryParseChannel(s: string): SnapChannel | undefined {
  const parts = s.trim().split('/');
  if (parts.length < 1 || parts.length > 3) return undefined;
  const [track, risk = 'stable', branch] = parts;
  const t = TRACK.exec(track);
  if (!t || !(RISKS as readonly string[]).includes(risk)) return undefined;
  if (branch !== undefined && !BRANCH.test(branch)) return undefined;
  const ch: SnapChannel = { track, risk: risk as Risk, strict: !!t[3] };
  if (t[1] !== undefined) ch.minor = { major: Number(t[1]), minor: Number(t[2]) };
  if (branch !== undefined) ch.branch = branch;
  return ch;
}

export function parseChannel(s: string, field = 'channel'): SnapChannel {
  const ch = tryParseChannel(s);
  if (!ch) {
    throw invalid(
      `${field}: ${JSON.stringify(s)} is not a MicroK8s snap channel; use <track>/<risk>[/<branch>] with track ` +
        `"1.NN", "1.NN-strict" or "latest" and risk stable|candidate|beta|edge, e.g. "1.29/stable" or "1.29"`,
    );
  }
  return ch;
}

/** The canonical form snapd reports (`1.29` → `1.29/stable`). */
export function formatChannel(ch: SnapChannel): string {
  return `${ch.track}/${ch.risk}${ch.branch !== undefined ? `/${ch.branch}` : ''}`;
}

export function normalizeChannel(s: string, field = 'channel'): string {
  return formatChannel(parseChannel(s, field));
}

export function formatMinor(m: Minor): string {
  return `${m.major}.${m.minor}`;
}

/**
 * The minor of a channel (`1.28/stable`, `1.28-strict/edge`), a version (`v1.28.5`, `v1.22.3-3+abc`) or a bare
 * minor (`1.28`). Undefined for `latest/*` and anything unrecognised.
 */
export function minorOf(channelOrVersion: string | Minor | KubeVersion | SnapChannel): Minor | undefined {
  if (typeof channelOrVersion !== 'string') {
    if ('track' in channelOrVersion) return channelOrVersion.minor;
    return { major: channelOrVersion.major, minor: channelOrVersion.minor };
  }
  const v = tryParseKubeVersion(channelOrVersion);
  if (v) return { major: v.major, minor: v.minor };
  return tryParseChannel(channelOrVersion)?.minor;
}

/** Negative, zero or positive, like a sort comparator. */
export function compareMinor(a: Minor, b: Minor): number {
  return a.major - b.major || a.minor - b.minor;
}

/** Orders by major, minor, patch; a pre-release sorts before its release (rc.0 < release). Build suffixes are ignored. */
export function compareVersions(a: KubeVersion, b: KubeVersion): number {
  const byNumber = a.major - b.major || a.minor - b.minor || a.patch - b.patch;
  if (byNumber) return byNumber;
  if (a.pre === b.pre) return 0;
  if (a.pre === undefined) return 1;
  if (b.pre === undefined) return -1;
  return comparePre(a.pre, b.pre);
}

const PRE_ORDER = ['alpha', 'beta', 'rc'];
function comparePre(a: string, b: string): number {
  const [ak, an] = a.split('.');
  const [bk, bn] = b.split('.');
  return PRE_ORDER.indexOf(ak) - PRE_ORDER.indexOf(bk) || Number(an) - Number(bn);
}

/** True when both name the same minor (`v1.28.5` and `1.28/stable`). */
export function sameMinor(a: string | Minor, b: string | Minor): boolean {
  const ma = typeof a === 'string' ? minorOf(a) : a;
  const mb = typeof b === 'string' ? minorOf(b) : b;
  return !!ma && !!mb && compareMinor(ma, mb) === 0;
}

