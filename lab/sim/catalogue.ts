/**
 * The simulated snap store: channel → version → revision. Nodes start on a non-latest patch of their track so
 * that "move to the latest patch first" means something; revisions grow with (minor, patch).
 */
import { createHash } from 'crypto';

export const MINORS = Array.from({ length: 13 }, (_, i) => 20 + i); // 1.20 .. 1.32
export const LATEST_TRACK_MINOR = 32;

export interface Release {
  minor: number;
  patch: number;
  version: string;
  revision: number;
}

export function latestPatch(minor: number): number {
  return 8 + (minor % 4);
}

/** Builds before 1.25 carried the git-describe suffix; 1.25 and later are clean (behaviour reference §8). */
export function versionString(minor: number, patch: number): string {
  if (minor >= 25) return `v1.${minor}.${patch}`;
  const hex = createHash('sha256').update(`1.${minor}.${patch}`).digest('hex').slice(0, 14);
  return `v1.${minor}.${patch}-${(patch % 5) + 1}+${hex}`;
}

export function release(minor: number, patch: number): Release {
  return { minor, patch, version: versionString(minor, patch), revision: 5000 + (minor - 20) * 40 + patch };
}

export interface Channel {
  track: string;
  risk: string;
  minor: number;
}

/** `1.29` means `1.29/stable` (snapd appends the risk). Undefined for a channel the store does not have. */
export function parseChannel(ch: string): Channel | undefined {
  const [track, risk = 'stable', ...rest] = ch.split('/');
  if (rest.length > 1 || !['stable', 'candidate', 'beta', 'edge'].includes(risk)) return undefined;
  if (track === 'latest') return { track, risk, minor: LATEST_TRACK_MINOR };
  const m = /^1\.(\d+)$/.exec(track ?? '');
  if (!m || !MINORS.includes(Number(m[1]))) return undefined;
  return { track, risk, minor: Number(m[1]) };
}

export function channelName(c: Channel): string {
  return `${c.track}/${c.risk}`;
}

/** What a channel serves now. */
export function latestIn(c: Channel): Release {
  return release(c.minor, latestPatch(c.minor));
}

/** What `snap install --channel` of a lab node gives: two patches behind the track's latest. */
export function initialRelease(c: Channel): Release {
  return release(c.minor, Math.max(0, latestPatch(c.minor) - 2));
}

export function minorOfVersion(version: string): number | undefined {
  const m = /^v1\.(\d+)\./.exec(version);
  return m ? Number(m[1]) : undefined;
}
