/**
 * Where Temporal is, resolved like the Temporal CLI does: flags over environment (TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS*...) over the `temporal.toml` profile, via @temporalio/envconfig.
 */
import * as net from 'net';
import { LocalFileError, readLocalFileSync } from './files';
import { Connection } from '@temporalio/client';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow';
import { loadClientConnectConfig } from '@temporalio/envconfig';
// Type-only: the worker SDK (~0.4 s to load) is required only by the commands that open a native connection.
import type { NativeConnection, NativeConnectionOptions } from '@temporalio/worker';
import { ExitCode } from '../common/constants';
import { badInput, CliExit, connectionReason } from './exit';

export interface ConnectionFlags {
  address?: string;
  namespace?: string;
  apiKey?: string;
  tls?: boolean;
  tlsCertPath?: string;
  tlsKeyPath?: string;
  tlsCaPath?: string;
  tlsServerName?: string;
  profile?: string;
  configFile?: string;
}

export interface ConnectConfig {
  connectionOptions: NativeConnectionOptions;
  namespace: string;
}

function readFlagFile(flag: string, file: string): Buffer {
  try {
    return readLocalFileSync(file, 'TLS file').data;
  } catch (e) {
    if (!(e instanceof LocalFileError)) throw e;
    return badInput(`${flag}: ${e.message}; pass a readable PEM file`);
  }
}

export function resolveConnectConfig(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): ConnectConfig {
  // envconfig silently ignores a missing file, even one named explicitly: refuse it here instead.
  if (flags.configFile) {
    try {
      readLocalFileSync(flags.configFile, 'config file');
    } catch (e) {
      if (!(e instanceof LocalFileError)) throw e;
      badInput(`--config-file: ${e.message}; pass an existing temporal.toml or drop the flag`);
    }
  }
  let loaded;
  try {
    loaded = loadClientConnectConfig({
      ...(flags.profile ? { profile: flags.profile } : {}),
      ...(flags.configFile ? { configSource: { path: flags.configFile } } : {}),
      overrideEnvVars: Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined)),
    });
  } catch (e) {
    return badInput(`--profile/--config-file: ${(e as Error).message}; check the profile name and the TOML file`);
  }
  const options: NativeConnectionOptions = { ...loaded.connectionOptions };
  if (flags.address) options.address = flags.address;
  options.address ??= 'localhost:7233';
  if (flags.apiKey) options.apiKey = flags.apiKey;
  const wantsTls = flags.tls || flags.tlsCertPath || flags.tlsKeyPath || flags.tlsCaPath || flags.tlsServerName;
  if (wantsTls) {
    if (!!flags.tlsCertPath !== !!flags.tlsKeyPath) badInput('--tls-cert-path and --tls-key-path: give both for mTLS, or neither');
    const base: TLSConfig = typeof options.tls === 'object' && options.tls ? { ...options.tls } : {};
    if (flags.tlsCertPath && flags.tlsKeyPath) {
      base.clientCertPair = { crt: readFlagFile('--tls-cert-path', flags.tlsCertPath), key: readFlagFile('--tls-key-path', flags.tlsKeyPath) };
    }
    if (flags.tlsCaPath) base.serverRootCACertificate = readFlagFile('--tls-ca-path', flags.tlsCaPath);
    if (flags.tlsServerName) base.serverNameOverride = flags.tlsServerName;
    options.tls = base;
  }
  return { connectionOptions: options, namespace: flags.namespace || loaded.namespace || 'default' };
}

function unreachable(address: string | undefined, e: unknown): CliExit {
  return new CliExit(
    ExitCode.TEMPORAL_UNREACHABLE,
    `cannot reach Temporal at ${address}: ${connectionReason(e)}\n` +
      'Start a local one with "runbook dev", or point at yours with --address / TEMPORAL_ADDRESS (or a temporal.toml profile).',
  );
}

/** A client connection; exit 3 when nothing answers. */
export async function connectClient(cfg: ConnectConfig): Promise<Connection> {
  const o = cfg.connectionOptions;
  try {
    const connection = await Connection.connect({
      address: o.address,
      ...(o.tls !== undefined ? { tls: o.tls } : {}),
      ...(o.apiKey ? { apiKey: o.apiKey } : {}),
      ...(o.metadata ? { metadata: o.metadata } : {}),
      connectTimeout: '5s',
    });
    // Connection.connect is lazy about some failures: one cheap call proves the server answers.
    await connection.workflowService.getSystemInfo({});
    await checkNamespace(cfg, (req) => connection.workflowService.describeNamespace(req));
    return connection;
  } catch (e) {
    if (e instanceof CliExit) throw e;
    // grpc-js only says "Failed to connect before the deadline": one TCP attempt tells refused from silent.
    throw unreachable(o.address, (await tcpRefusal(o.address)) ?? e);
  }
}

/** The reason a plain TCP connect to `host:port` fails within a second, or undefined when it connects. */
async function tcpRefusal(address: string | undefined): Promise<Error | undefined> {
  const m = /^(.*):(\d+)$/.exec(address ?? '');
  if (!m) return undefined;
  const host = m[1].replace(/^\[|\]$/g, '');
  return new Promise((resolve) => {
    const sock = net.connect({ host, port: Number(m[2]) });
    const done = (e?: Error) => {
      sock.destroy();
      resolve(e);
    };
    sock.setTimeout(1000, () => done(new Error('timed out')));
    sock.once('connect', () => done());
    sock.once('error', (e) => done(e));
  });
}

/** A namespace that does not exist is a typo (exit 2), said before any command fails on it with a stack trace. */
async function checkNamespace(cfg: ConnectConfig, describe: (req: { namespace: string }) => Promise<unknown>): Promise<void> {
  try {
    await describe({ namespace: cfg.namespace });
  } catch (e) {
    if ((e as { code?: number }).code === 5 /* NOT_FOUND */) {
      badInput(
        `--namespace: "${cfg.namespace}" does not exist on ${cfg.connectionOptions.address}; fix --namespace (or TEMPORAL_NAMESPACE), or create it: temporal operator namespace create -n ${cfg.namespace}`,
      );
    }
    throw e;
  }
}

/** A worker connection; exit 3 when nothing answers. */
export async function connectNative(cfg: ConnectConfig): Promise<NativeConnection> {
  const { NativeConnection } = await import('@temporalio/worker');
  let connection: NativeConnection;
  try {
    connection = await NativeConnection.connect(cfg.connectionOptions);
  } catch (e) {
    throw unreachable(cfg.connectionOptions.address, e);
  }
  try {
    await checkNamespace(cfg, (req) => connection.workflowService.describeNamespace(req));
  } catch (e) {
    await connection.close();
    throw e instanceof CliExit ? e : unreachable(cfg.connectionOptions.address, e);
  }
  return connection;
}

/** Commander options shared by every command that talks to Temporal (`program` level). */
export const CONNECTION_OPTIONS: Array<[flags: string, description: string]> = [
  ['--address <host:port>', 'Temporal frontend (env TEMPORAL_ADDRESS; default localhost:7233)'],
  ['--namespace <ns>', 'Temporal namespace (env TEMPORAL_NAMESPACE; default "default")'],
  ['--api-key <key>', 'API key (env TEMPORAL_API_KEY); implies TLS'],
  ['--tls', 'use TLS (env TEMPORAL_TLS)'],
  ['--tls-cert-path <file>', 'client certificate for mTLS'],
  ['--tls-key-path <file>', 'client key for mTLS'],
  ['--tls-ca-path <file>', 'server CA certificate'],
  ['--tls-server-name <name>', 'override the TLS server name'],
  ['--profile <name>', 'temporal.toml profile (env TEMPORAL_PROFILE; default "default")'],
  ['--config-file <file>', 'temporal.toml path (env TEMPORAL_CONFIG_FILE)'],
];
