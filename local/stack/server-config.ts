/**
 * The Temporal server's and the UI server's configuration, generated into the stack directory at every `up` (so a
 * changed port takes effect). 0600: the server's file holds the database password.
 */
import * as fs from 'fs';
import * as path from 'path';
import YAML from 'yaml';
import { DEFAULT_NAMESPACE } from '../../common/temporal-versions';
import { PG_USER } from './postgres';
import { servicePorts, SERVER_SERVICES, type StackPaths, type StackPorts } from './layout';

/** Small on purpose: one machine, a handful of runbooks; shards cannot be changed once the database exists. */
export const NUM_HISTORY_SHARDS = 4;

function datastore(database: string, ports: StackPorts, password: string, maxConns: number) {
  return {
    sql: {
      pluginName: 'postgres12',
      databaseName: database,
      connectAddr: `127.0.0.1:${ports.pgPort}`,
      connectProtocol: 'tcp',
      user: PG_USER,
      password,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  };
}

export function serverConfig(paths: StackPaths, ports: StackPorts, password: string) {
  const svc = servicePorts(ports.port);
  return {
    log: { stdout: true, level: 'warn' },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: NUM_HISTORY_SHARDS,
      datastores: {
        'postgres-default': datastore('temporal', ports, password, 10),
        'postgres-visibility': datastore('temporal_visibility', ports, password, 4),
      },
    },
    // No pprof or metrics listeners: four processes share this file and would fight over one port.
    global: { membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' } },
    services: Object.fromEntries(
      SERVER_SERVICES.map((s) => [s, { rpc: { grpcPort: svc[s].grpc, membershipPort: svc[s].membership, bindOnLocalHost: true } }]),
    ),
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: { active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: `127.0.0.1:${ports.port}` } },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    dynamicConfigClient: { filepath: paths.dynamicConfig, pollInterval: '10s' },
  };
}

/** As the dev server: new search attributes usable at once, updates on, namespaces seen within a second. */
export function dynamicConfig() {
  const on = (value: unknown) => [{ value, constraints: {} }];
  return {
    'system.forceSearchAttributesCacheRefreshOnRead': on(true),
    'system.namespaceCacheRefreshInterval': on('1s'),
    'frontend.enableUpdateWorkflowExecution': on(true),
    'frontend.enableUpdateWorkflowExecutionAsyncAccepted': on(true),
    'frontend.enableServerVersionCheck': on(false),
  };
}

export function uiConfig(ports: StackPorts) {
  return {
    temporalGrpcAddress: `127.0.0.1:${ports.port}`,
    host: '127.0.0.1',
    port: ports.uiPort,
    enableUi: true,
    defaultNamespace: DEFAULT_NAMESPACE,
    // No internet here: do not ask GitHub for newer releases.
    notifyOnNewVersion: false,
    refreshInterval: '1m',
    cors: { cookieInsecure: true, allowOrigins: [`http://localhost:${ports.uiPort}`, `http://127.0.0.1:${ports.uiPort}`] },
    auth: { enabled: false },
  };
}

function writeYaml(file: string, value: object): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(`${file}.tmp`, YAML.stringify(value), { mode: 0o600 });
  fs.renameSync(`${file}.tmp`, file);
}

export function writeStackConfig(paths: StackPaths, ports: StackPorts, password: string): void {
  writeYaml(paths.temporalConfig, serverConfig(paths, ports, password));
  writeYaml(paths.dynamicConfig, dynamicConfig());
  writeYaml(paths.uiConfig, uiConfig(ports));
}
