/** Command builders and their output parsers for MicroK8s, snapd, kubectl and dqlite, side by side per tool. */
export * from './dqlite';
export * from './kubectl';
export * from './snap';
export * from './status';
export * from './version';
export * from './unexpected-output';
