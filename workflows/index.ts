/** Every runbook workflow the worker registers. Workflow code: deterministic, activity types only. */
export * from './check';
export * from './form';
export * from './remove-node';
export * from './upgrade';
export * from './backup';
export * from './recover-quorum';
export * from './refresh-policy';
export * from './refresh-certs';
export * from './reboot';
export * from './replace-node';
export * from './scheduled-run';
