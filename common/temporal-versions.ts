/**
 * The Temporal releases the engine runs against, in one place: `runbook stack` builds and runs these, the Temporal
 * CLI's dev server embeds the same server and UI, and docker-compose.yml pins the same image tags
 * (test/unit/stack-pins.test.ts holds the file to them).
 */
export const TEMPORAL_SERVER_VERSION = '1.29.1';
export const TEMPORAL_UI_VERSION = '2.42.1';
/** The Temporal CLI (v1.5.1 embeds server 1.29.1 and UI 2.42.1). */
export const TEMPORAL_CLI_VERSION = '1.5.1';

/** The namespace runbooks run in unless told otherwise, and how long it keeps closed runs. */
export const DEFAULT_NAMESPACE = 'default';
export const NAMESPACE_RETENTION_HOURS = 72;
