/**
 * OpenSSH known_hosts: parsing, host lookup and the lines accept-new appends. Supports plain and comma-listed
 * host patterns (with `*`, `?` and `!` negation), `[host]:port` for ports other than 22, hashed `|1|salt|hash`
 * entries, and the `@revoked` marker (`@cert-authority` lines are skipped: host certificates are not supported).
 */
import { createHash, createHmac } from 'crypto';

export interface KnownHostEntry {
  /** 1-based line number, for messages. */
  line: number;
  marker?: 'revoked' | 'cert-authority';
  /** The host field as written: a comma list of patterns, or one hashed entry. */
  hosts: string;
  keyType: string;
  /** The public key blob (SSH wire format), as presented by servers. */
  key: Buffer;
}

/** OpenSSH `SHA256:` fingerprint of a public key blob. */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** The key type embedded at the start of a key blob (`ssh-ed25519`, `ssh-rsa`, ...). */
export function keyTypeOf(key: Buffer): string {
  if (key.length < 4) return '';
  const len = key.readUInt32BE(0);
  return len > 0 && 4 + len <= key.length ? key.subarray(4, 4 + len).toString('latin1') : '';
}

/** How OpenSSH names a host in known_hosts: the bare address on port 22, `[address]:port` otherwise. */
export function hostName(address: string, port: number): string {
  return port === 22 ? address : `[${address}]:${port}`;
}

/** One known_hosts line: an entry, nothing (blank, comment, a marker OpenSSH ignores), or malformed. */
function parseLine(raw: string, lineNo: number): KnownHostEntry | 'skip' | 'malformed' {
  const line = raw.trim();
  if (!line || line.startsWith('#')) return 'skip';
  const fields = line.split(/\s+/);
  let marker: KnownHostEntry['marker'];
  if (fields[0].startsWith('@')) {
    const m = fields.shift()!.slice(1);
    if (m !== 'revoked' && m !== 'cert-authority') return 'skip'; // unknown marker: OpenSSH ignores the line too
    marker = m;
  }
  const [hosts, keyType, b64] = fields;
  if (!hosts || !keyType || !b64 || !/^[A-Za-z0-9+/]+=*$/.test(b64)) return 'malformed';
  const key = Buffer.from(b64, 'base64');
  if (keyTypeOf(key) !== keyType) return 'malformed'; // corrupt or mislabelled: never trust it
  return { line: lineNo, marker, hosts, keyType, key };
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const parsed = parseLine(raw, i + 1);
    if (typeof parsed === 'object') entries.push(parsed);
  });
  return entries;
}

/** The first line (1-based) that is neither an entry, a comment nor blank; undefined for a well-formed file. */
export function firstMalformedLine(text: string): number | undefined {
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) if (parseLine(lines[i], i + 1) === 'malformed') return i + 1;
  return undefined;
}

/** Glob match with OpenSSH's `*` and `?`. */
function globMatch(pattern: string, text: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 'i').test(text);
}

function hashedMatch(field: string, host: string): boolean {
  const parts = field.split('|'); // ['', '1', salt, hash]
  if (parts.length !== 4 || parts[1] !== '1') return false;
  const salt = Buffer.from(parts[2], 'base64');
  const digest = createHmac('sha1', salt).update(host).digest('base64');
  return digest === parts[3];
}

/** Does an entry's host field name this host (`hostName(address, port)`)? A matching `!pattern` excludes it. */
export function entryMatchesHost(entry: KnownHostEntry, host: string): boolean {
  if (entry.hosts.startsWith('|')) return hashedMatch(entry.hosts, host);
  let matched = false;
  for (const pattern of entry.hosts.split(',')) {
    if (pattern.startsWith('!')) {
      if (globMatch(pattern.slice(1), host)) return false;
    } else if (globMatch(pattern, host)) {
      matched = true;
    }
  }
  return matched;
}

export type KnownHostsVerdict =
  | { status: 'known'; line: number }
  | { status: 'revoked'; line: number }
  /** The host has keys on record and the presented one is not among them. */
  | { status: 'changed'; expected: string[]; lines: number[] }
  | { status: 'unknown' };

/** Judge a presented key against the entries for `host`. */
export function checkKnownHosts(entries: KnownHostEntry[], host: string, key: Buffer): KnownHostsVerdict {
  const revoked = entries.find((e) => e.marker === 'revoked' && e.key.equals(key));
  if (revoked) return { status: 'revoked', line: revoked.line };
  const forHost = entries.filter((e) => !e.marker && entryMatchesHost(e, host));
  const same = forHost.find((e) => e.key.equals(key));
  if (same) return { status: 'known', line: same.line };
  // A key of another type while keys are on record counts as changed: the algorithm order prefers the
  // recorded types (see preferredHostKeyAlgorithms), so an honest server presents one of them.
  if (forHost.length > 0) {
    return { status: 'changed', expected: forHost.map((e) => fingerprint(e.key)), lines: forHost.map((e) => e.line) };
  }
  return { status: 'unknown' };
}

/** The key types on record for a host, in file order. */
export function knownKeyTypes(entries: KnownHostEntry[], host: string): string[] {
  return [...new Set(entries.filter((e) => !e.marker && entryMatchesHost(e, host)).map((e) => e.keyType))];
}

/** ssh2's default host key algorithms (ssh2 1.17), most preferred first. */
const DEFAULT_HOST_KEY_ALGORITHMS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];

/** Like OpenSSH, ask first for the key types already recorded, so a server with several keys shows a known one. */
export function preferredHostKeyAlgorithms(knownTypes: string[]): string[] {
  const first = knownTypes.flatMap((t) => (t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t]));
  const supported = first.filter((a) => DEFAULT_HOST_KEY_ALGORITHMS.includes(a));
  return [...new Set([...supported, ...DEFAULT_HOST_KEY_ALGORITHMS])];
}

/** The line accept-new appends (plain, not hashed, so operators can read what was trusted). */
export function knownHostLine(host: string, key: Buffer): string {
  return `${host} ${keyTypeOf(key)} ${key.toString('base64')}`;
}
