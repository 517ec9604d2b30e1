/**
 * Where `runbook stack` keeps everything (one directory under the state dir) and which ports it uses. Every other
 * port comes from the frontend's, so a caller that finds a free block of eight ports can run a stack beside others.
 */
import * as path from 'path';

/** The four Temporal server services, each its own process (a test kills and restarts them one by one). */
export const SERVER_SERVICES = ['frontend', 'history', 'matching', 'worker'] as const;
export type ServerService = (typeof SERVER_SERVICES)[number];

/** Everything `runbook stack status` reports, in start order. */
export const STACK_COMPONENTS = ['postgres', ...SERVER_SERVICES, 'ui'] as const;
export type StackComponent = (typeof STACK_COMPONENTS)[number];

export const STACK_DEFAULT_PORTS = {
  /** The frontend's gRPC port: what TEMPORAL_ADDRESS points at. */
  port: 7233,
  uiPort: 8080,
  /** Not 5432, so a system PostgreSQL on its default port does not collide. */
  pgPort: 5433,
} as const;

export interface StackPorts {
  port: number;
  uiPort: number;
  pgPort: number;
}

/** How many ports above `port` the server uses: four gRPC ports, then four membership (ringpop) ports. */
export const SERVER_PORT_SPAN = 8;

/** gRPC port and membership port of each service. */
export function servicePorts(frontendPort: number): Record<ServerService, { grpc: number; membership: number }> {
  return Object.fromEntries(
    SERVER_SERVICES.map((s, i) => [s, { grpc: frontendPort + i, membership: frontendPort + SERVER_SERVICES.length + i }]),
  ) as Record<ServerService, { grpc: number; membership: number }>;
}

/** The port a component answers on (status shows it and dials it). The worker service serves no gRPC: membership. */
export function componentPort(c: StackComponent, ports: StackPorts): number {
  if (c === 'postgres') return ports.pgPort;
  if (c === 'ui') return ports.uiPort;
  const p = servicePorts(ports.port)[c];
  return c === 'worker' ? p.membership : p.grpc;
}

export interface StackPaths {
  root: string;
  pgDir: string;
  pgData: string;
  pgPasswordFile: string;
  temporalRoot: string;
  temporalConfig: string;
  dynamicConfig: string;
  uiRoot: string;
  uiConfig: string;
  runDir: string;
  logDir: string;
  /** The ports the stack was last started with. */
  portsFile: string;
}

export function stackPaths(stateDir: string): StackPaths {
  const root = path.join(path.resolve(stateDir), 'stack');
  const pgDir = path.join(root, 'postgres');
  const temporalRoot = path.join(root, 'temporal');
  const uiRoot = path.join(root, 'ui');
  return {
    root,
    pgDir,
    pgData: path.join(pgDir, 'data'),
    pgPasswordFile: path.join(pgDir, 'password'),
    temporalRoot,
    // The server reads <root>/<config dir>/<env>.yaml: `--root temporalRoot --config config --env development`.
    temporalConfig: path.join(temporalRoot, 'config', 'development.yaml'),
    dynamicConfig: path.join(temporalRoot, 'dynamicconfig.yaml'),
    uiRoot,
    uiConfig: path.join(uiRoot, 'config', 'development.yaml'),
    runDir: path.join(root, 'run'),
    logDir: path.join(root, 'logs'),
    portsFile: path.join(root, 'run', 'ports.json'),
  };
}
