/** The one SSH layer: a per-worker connection pool handing out NodeSessions (contract in types.ts). */
export * from './types';
export { SshPool } from './pool';
export type { CommandProgress } from './progress';
