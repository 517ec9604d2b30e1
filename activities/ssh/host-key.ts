/**
 * Host-key verification for one hop (a node or its jump host). A pinned `SHA256:` fingerprint in the inventory
 * wins; otherwise the known_hosts file decides, under policy `strict` (unknown hosts refused) or `accept-new`
 * (unknown hosts recorded, changed keys refused). The verdict is kept so the connect error can be replaced by
 * a typed, non-retryable failure that names the node and both fingerprints.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { ApplicationFailure } from '@temporalio/common';
import { command, shellQuote } from '../../common/shell';
import { LocalFileError, readLocalText } from '../../local/files';
import type { HostKeyPolicy } from '../../common/inventory';
import { hostKeyMismatch, hostKeyUnknown, invalidInput } from './failures';
import {
  checkKnownHosts,
  fingerprint,
  firstMalformedLine,
  hostName,
  knownHostLine,
  knownKeyTypes,
  parseKnownHosts,
  preferredHostKeyAlgorithms,
} from './known-hosts';

export interface HopTrust {
  /** Who we are talking to, for messages: `k8s-1 (10.0.0.1:22)` or `jump host of k8s-1 (...)`. */
  label: string;
  address: string;
  port: number;
  pinned?: string;
  knownHostsFile: string;
  policy: HostKeyPolicy;
}

/** The known_hosts text, '' when the file does not exist; read asynchronously, a regular file within its cap. */
export async function readKnownHosts(file: string): Promise<string> {
  try {
    return await readLocalText(file, 'known_hosts file');
  } catch (e) {
    if (e instanceof LocalFileError && e.code === 'ENOENT') return '';
    if (e instanceof LocalFileError) throw invalidInput(`knownHosts: ${e.message}; fix knownHosts in the inventory`);
    throw e;
  }
}

/**
 * Where accept-new may write: a file that parses as known_hosts, or a new file in a directory that exists. Never
 * another kind of file (a config file named by mistake), never a directory created on the way.
 */
export async function acceptNewProblem(file: string, current: string): Promise<string | undefined> {
  if (current) {
    const bad = firstMalformedLine(current);
    return bad ? `line ${bad} is not a known_hosts entry, so it is not a known_hosts file; accept-new appends only to one` : undefined;
  }
  try {
    const st = await fs.promises.stat(file);
    if (!st.isFile()) return 'is not a regular file';
    return undefined; // an existing empty file
  } catch {
    try {
      if (!(await fs.promises.stat(path.dirname(file))).isDirectory()) return `${path.dirname(file)} is not a directory`;
    } catch {
      return `its directory ${path.dirname(file)} does not exist; create it (mkdir -m 700 ${path.dirname(file)}) or fix knownHosts`;
    }
    return undefined;
  }
}

export class HostKeyVerifier {
  /** Set when verification refused the key (or could not run). */
  failure?: ApplicationFailure;
  /** The presented key's fingerprint, once seen. */
  presented?: string;

  /** `knownHostsText`: the file as read before the handshake (the verifier runs inside ssh2's callback). */
  constructor(
    readonly hop: HopTrust,
    private readonly knownHostsText: string,
  ) {}

  private get host(): string {
    return hostName(this.hop.address, this.hop.port);
  }

  /** The host key algorithm order for this hop: recorded key types first. */
  algorithms(): string[] {
    if (this.hop.pinned) return preferredHostKeyAlgorithms([]);
    return preferredHostKeyAlgorithms(knownKeyTypes(parseKnownHosts(this.knownHostsText), this.host));
  }

  /** ssh2 `hostVerifier` (raw key blob), asynchronous form: `done(true)` continues the handshake. */
  readonly verify = (key: Buffer, done: (ok: boolean) => void): void => {
    let pending: Promise<void> | undefined;
    try {
      const verdict = this.judge(key);
      if (verdict === 'record') pending = this.record(key);
      else this.failure = verdict;
    } catch (e) {
      this.failure = e as ApplicationFailure;
    }
    if (!pending) return done(this.failure === undefined);
    pending.then(
      () => done(true),
      (e) => {
        this.failure = e as ApplicationFailure;
        done(false);
      },
    );
  };

  private judge(key: Buffer): ApplicationFailure | 'record' | undefined {
    const presented = (this.presented = fingerprint(key));
    const { label, pinned, knownHostsFile, policy } = this.hop;
    if (pinned) {
      if (pinned.replace(/=+$/, '') === presented) return undefined;
      return hostKeyMismatch(
        `host key mismatch for ${label}: the inventory pins ${pinned} but the host presented ${presented}. ` +
          'If the host was reinstalled, verify the new key out of band and update hostKey in the inventory; otherwise someone may be intercepting the connection.',
      );
    }
    const entries = parseKnownHosts(this.knownHostsText);
    const verdict = checkKnownHosts(entries, this.host, key);
    switch (verdict.status) {
      case 'known':
        return undefined;
      case 'revoked':
        return hostKeyMismatch(
          `host key for ${label} is revoked (${knownHostsFile} line ${verdict.line}): the host presented ${presented}; refusing to connect.`,
        );
      case 'changed':
        return hostKeyMismatch(
          `host key mismatch for ${label}: ${knownHostsFile} expects ${verdict.expected.join(' or ')} (line ${verdict.lines.join(', ')}) ` +
            `but the host presented ${presented}. If the host was reinstalled, verify the new key out of band and replace the line ` +
            `(${command('ssh-keygen', '-R', this.host, '-f', knownHostsFile)}); otherwise someone may be intercepting the connection.`,
        );
      case 'unknown':
        if (policy === 'accept-new') return 'record';
        return hostKeyUnknown(
          `unknown host key for ${label}: ${presented} is not in ${knownHostsFile} and hostKeyPolicy is strict. ` +
            `Add it after checking the fingerprint out of band (${command('ssh-keyscan', '-p', String(this.hop.port), this.hop.address)} >> ${shellQuote(knownHostsFile)}), ` +
            'pin it as hostKey in the inventory, or set hostKeyPolicy: accept-new to trust on first use.',
        );
    }
  }

  /** Trust on first use: append the key unless a concurrent connection recorded it meanwhile. */
  private async record(key: Buffer): Promise<void> {
    const file = this.hop.knownHostsFile;
    const current = await readKnownHosts(file);
    const problem = await acceptNewProblem(file, current);
    if (problem) throw invalidInput(`knownHosts ${file}: ${problem}; hostKeyPolicy accept-new records new host keys there`);
    if (checkKnownHosts(parseKnownHosts(current), this.host, key).status === 'known') return;
    const sep = current && !current.endsWith('\n') ? '\n' : '';
    await fs.promises.appendFile(file, `${sep}${knownHostLine(this.host, key)}\n`, { mode: 0o600 });
  }
}
