/**
 * Host-key verification for one hop (a node or its jump host). A pinned `SHA256:` fingerprint in the inventory
 * wins; otherwise the known_hosts file decides, under policy `strict` (unknown hosts refused) or `accept-new`
 * (unknown hosts recorded, changed keys refused). The verdict is kept so the connect error can be replaced by
 * a typed, non-retryable failure that names the node and both fingerprints.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { ApplicationFailure } from '@temporalio/common';
import type { HostKeyPolicy } from '../../common/inventory';
import { hostKeyMismatch, hostKeyUnknown, invalidInput } from './failures';
import {
  checkKnownHosts,
  fingerprint,
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

function readKnownHosts(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw invalidInput(`cannot read known_hosts file ${file}: ${(e as Error).message}; fix its permissions or set knownHosts in the inventory`);
  }
}

export class HostKeyVerifier {
  /** Set when verification refused the key (or could not run). */
  failure?: ApplicationFailure;
  /** The presented key's fingerprint, once seen. */
  presented?: string;

  constructor(readonly hop: HopTrust) {}

  private get host(): string {
    return hostName(this.hop.address, this.hop.port);
  }

  /** The host key algorithm order for this hop: recorded key types first. */
  algorithms(): string[] {
    if (this.hop.pinned) return preferredHostKeyAlgorithms([]);
    return preferredHostKeyAlgorithms(knownKeyTypes(parseKnownHosts(readKnownHosts(this.hop.knownHostsFile)), this.host));
  }

  /** ssh2 `hostVerifier` (raw key blob). Returns whether to continue the handshake. */
  readonly verify = (key: Buffer): boolean => {
    try {
      this.failure = this.judge(key);
    } catch (e) {
      this.failure = e as ApplicationFailure;
    }
    return this.failure === undefined;
  };

  private judge(key: Buffer): ApplicationFailure | undefined {
    const presented = (this.presented = fingerprint(key));
    const { label, pinned, knownHostsFile, policy } = this.hop;
    if (pinned) {
      if (pinned.replace(/=+$/, '') === presented) return undefined;
      return hostKeyMismatch(
        `host key mismatch for ${label}: the inventory pins ${pinned} but the host presented ${presented}. ` +
          'If the host was reinstalled, verify the new key out of band and update hostKey in the inventory; otherwise someone may be intercepting the connection.',
      );
    }
    const entries = parseKnownHosts(readKnownHosts(knownHostsFile));
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
            `(ssh-keygen -R ${this.host} -f ${knownHostsFile}); otherwise someone may be intercepting the connection.`,
        );
      case 'unknown':
        if (policy === 'accept-new') {
          this.record(key);
          return undefined;
        }
        return hostKeyUnknown(
          `unknown host key for ${label}: ${presented} is not in ${knownHostsFile} and hostKeyPolicy is strict. ` +
            `Add it after checking the fingerprint out of band (ssh-keyscan -p ${this.hop.port} ${this.hop.address} >> ${knownHostsFile}), ` +
            'pin it as hostKey in the inventory, or set hostKeyPolicy: accept-new to trust on first use.',
        );
    }
  }

  /** Trust on first use: append the key unless a concurrent connection recorded it meanwhile. */
  private record(key: Buffer): void {
    const file = this.hop.knownHostsFile;
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const current = readKnownHosts(file);
    if (checkKnownHosts(parseKnownHosts(current), this.host, key).status === 'known') return;
    const sep = current && !current.endsWith('\n') ? '\n' : '';
    fs.appendFileSync(file, `${sep}${knownHostLine(this.host, key)}\n`, { mode: 0o600 });
  }
}
