/**
 * Opening one authenticated ssh2 connection to a node, directly or through its jump host (ProxyJump via
 * `forwardOut`), with both hops' host keys verified. Errors come out typed (see failures.ts).
 */
import * as fs from 'fs';
import { Client, type ConnectConfig, type ServerHostKeyAlgorithm } from 'ssh2';
import type { Duplex } from 'stream';
import { ApplicationFailure } from '@temporalio/common';
import type { NodeSpec } from '../../common/inventory';
import { authFailed, connectionFailed, invalidInput } from './failures';
import { expandHome, LocalFileError, readLocalFile } from '../../local/files';
import { HostKeyVerifier, readKnownHosts } from './host-key';
import type { TrustSettings } from './types';

export const DEFAULT_KNOWN_HOSTS = '~/.ssh/known_hosts';
const DEFAULT_IDENTITIES = ['~/.ssh/id_ed25519', '~/.ssh/id_ecdsa', '~/.ssh/id_rsa'];

export interface ConnectOptions {
  connectTimeoutMs: number;
  keepaliveIntervalMs: number;
}

export interface OpenConnection {
  client: Client;
  /** The jump host connection the client's socket runs through, if any. */
  jump?: Client;
}

interface Hop {
  label: string;
  address: string;
  port: number;
  user: string;
  identityFile?: string;
  agent?: boolean;
  hostKey?: string;
}

/** Credentials for one hop: the identity file (read here, never an input), the agent, or OpenSSH's defaults. */
async function credentials(hop: Hop): Promise<Pick<ConnectConfig, 'privateKey' | 'agent'>> {
  const agentSock = process.env.SSH_AUTH_SOCK;
  if (hop.agent && !agentSock) {
    throw invalidInput(`${hop.label}: agent: true but SSH_AUTH_SOCK is not set; start ssh-agent (eval "$(ssh-agent)"; ssh-add) or set identityFile`);
  }
  const agent = hop.agent || (!hop.identityFile && agentSock) ? agentSock : undefined;
  let keyFile = hop.identityFile && expandHome(hop.identityFile);
  if (!keyFile && !agent) keyFile = DEFAULT_IDENTITIES.map(expandHome).find((f) => fs.existsSync(f));
  if (!keyFile && !agent) {
    throw invalidInput(
      `${hop.label}: no SSH credentials: set identityFile or agent: true in the inventory (no SSH_AUTH_SOCK, no ~/.ssh/id_ed25519, id_ecdsa or id_rsa)`,
    );
  }
  let privateKey: Buffer | undefined;
  if (keyFile) {
    if (!keyFile.startsWith('/')) {
      throw invalidInput(`${hop.label}: identityFile ${JSON.stringify(keyFile)} is relative; the CLI resolves it against the inventory's directory, so start runbooks with the runbook CLI or give an absolute path`);
    }
    try {
      privateKey = await readLocalFile(keyFile, 'identity file');
    } catch (e) {
      if (!(e instanceof LocalFileError)) throw e;
      throw invalidInput(`${hop.label}: identityFile: ${e.message}; fix the path in the inventory`);
    }
  }
  return { privateKey, agent };
}

function classify(err: Error & { level?: string; code?: string }, hop: Hop, verifier: HostKeyVerifier, timeoutMs: number): ApplicationFailure {
  if (verifier.failure) return verifier.failure;
  if (err instanceof ApplicationFailure) return err;
  const where = `${hop.label}: ${hop.user}@${hop.address}:${hop.port}`;
  if (err.level === 'client-authentication') {
    return authFailed(
      `${where}: authentication failed (${err.message}); check that the key (${hop.identityFile ?? (hop.agent ? 'ssh-agent' : 'default key')}) is in the user's ~/.ssh/authorized_keys on the host and that user and identityFile are right in the inventory`,
    );
  }
  if (err.level === 'agent') return authFailed(`${where}: ssh-agent failed (${err.message}); check SSH_AUTH_SOCK or set identityFile`);
  if (/passphrase/i.test(err.message) || /privateKey|Cannot parse privateKey/i.test(err.message)) {
    return invalidInput(`${where}: identityFile ${hop.identityFile} cannot be used (${err.message}); passphrase-protected keys must be loaded into ssh-agent (ssh-add) and used with agent: true`);
  }
  if (err.level === 'client-timeout') return connectionFailed(`${where}: no SSH session within ${timeoutMs} ms (${err.message})`);
  const code = err.code ? ` (${err.code})` : '';
  return connectionFailed(`${where}: cannot connect${code}: ${err.message}`);
}

/** Connect and authenticate one hop, over `sock` when it runs through a jump host. */
async function connectHop(hop: Hop, trust: Required<TrustSettings>, opts: ConnectOptions, sock?: Duplex): Promise<Client> {
  const knownHostsFile = expandHome(trust.knownHosts);
  // Read before the handshake, asynchronously: ssh2 calls the verifier from inside its protocol handler.
  const knownHostsText = hop.hostKey ? '' : await readKnownHosts(knownHostsFile);
  const creds = await credentials(hop);
  const verifier = new HostKeyVerifier(
    { label: hop.label, address: hop.address, port: hop.port, pinned: hop.hostKey, knownHostsFile, policy: trust.hostKeyPolicy },
    knownHostsText,
  );
  return new Promise<Client>((resolve, reject) => {
    const client = new Client();
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      client.destroy();
      reject(classify(err, hop, verifier, opts.connectTimeoutMs));
    };
    client.on('error', fail); // stays attached: later errors are seen by the pool through 'close'
    client.once('close', () => fail(new Error('connection closed during the SSH handshake')));
    client.once('ready', () => {
      settled = true;
      client.setNoDelay(true); // ssh2 leaves Nagle on, which delays each small exec round trip
      resolve(client);
    });
    try {
      client.connect({
        host: hop.address,
        port: hop.port,
        username: hop.user,
        sock,
        ...creds,
        hostVerifier: verifier.verify,
        algorithms: { serverHostKey: verifier.algorithms() as ServerHostKeyAlgorithm[] },
        readyTimeout: opts.connectTimeoutMs,
        keepaliveInterval: opts.keepaliveIntervalMs,
        keepaliveCountMax: 3,
      });
    } catch (e) {
      fail(e as Error);
    }
  });
}

function forwardTo(jump: Client, node: NodeSpec): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    jump.forwardOut('127.0.0.1', 0, node.address, node.port, (err, stream) => {
      if (err) reject(connectionFailed(`${node.name}: jump host ${node.jump!.address} cannot reach ${node.address}:${node.port}: ${err.message}`));
      else resolve(stream);
    });
  });
}

/** Open an authenticated connection to a node, verifying the host key of every hop. */
export async function openConnection(node: NodeSpec, trust: TrustSettings, opts: ConnectOptions): Promise<OpenConnection> {
  const settings = { knownHosts: trust.knownHosts ?? DEFAULT_KNOWN_HOSTS, hostKeyPolicy: trust.hostKeyPolicy ?? 'strict' };
  const target: Hop = { ...node, label: `${node.name} (${node.address}:${node.port})` };
  if (!node.jump) return { client: await connectHop(target, settings, opts) };
  const j = node.jump;
  // A jump without its own credentials uses the node's, as one key usually opens both.
  const creds = j.identityFile || j.agent ? {} : { identityFile: node.identityFile, agent: node.agent };
  const jump = await connectHop({ ...j, ...creds, label: `jump host ${j.address}:${j.port} of ${node.name}` }, settings, opts);
  try {
    const client = await connectHop(target, settings, opts, await forwardTo(jump, node));
    client.once('close', () => jump.end()); // the jump connection serves this client only
    jump.once('close', () => client.destroy());
    return { client, jump };
  } catch (e) {
    jump.end();
    throw e;
  }
}
