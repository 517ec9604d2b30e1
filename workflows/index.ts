/** Every runbook workflow the worker registers. Workflow code: deterministic, activity types only. */
// The runbooks a client starts, each wrapped with its webhook notifications (workflows/runbooks.ts).
export * from './runbooks';
// Steps of other runbooks and launchers: their runbooks' notices cover them.
export { rollbackNode, upgradeNode } from './upgrade';
export * from './scheduled-run';
export * from './fleet';
