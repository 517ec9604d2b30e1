/**
 * Every RUNBOOK_* environment variable the product reads, declared once: what it means and whether the worker
 * reads it. Code reads and sets them only through `runbookEnv` and `setRunbookEnv` (an eslint rule forbids
 * `env.RUNBOOK_*` anywhere else), so this list is complete: the compose file's worker environment is checked
 * against the `worker` ones (test/unit/compose.test.ts). TEMPORAL_* names are @temporalio/envconfig's.
 */
export const RUNBOOK_VARIABLES = {
  RUNBOOK_TASK_QUEUE: { worker: true, what: 'task queue of the runbook workers (default microk8s-runbooks)' },
  RUNBOOK_STATE_DIR: { worker: true, what: 'engine state directory: dev server database, labs, backups, stack' },
  RUNBOOK_METRICS: { worker: true, what: "address of the worker's Prometheus /metrics, e.g. :9464" },
  RUNBOOK_CODEC_KEY_FILE: { worker: true, what: 'payload encryption key file' },
  RUNBOOK_CODEC_KEY: { worker: true, what: 'payload encryption key, base64 (prefer the key file)' },
  RUNBOOK_CODEC_KEY_ID: { worker: true, what: 'id of the current encryption key' },
  RUNBOOK_CODEC_OLD_KEYS: { worker: true, what: 'older keys still able to decrypt: [<id>=]<file>,...' },
  RUNBOOK_CACHE_DIR: { worker: false, what: 'where built binaries are cached (default ~/.cache/microk8s-runbooks)' },
  RUNBOOK_UI_URL: { worker: false, what: 'base of the Web UI links the CLI prints' },
  RUNBOOK_SKIP_KEY_CHECK: { worker: false, what: "1: the CLI does not check the inventory's key files (the worker runs elsewhere)" },
  RUNBOOK_RECONNECT_TIMEOUT: { worker: false, what: 'how long follow/watch ride out a lost server before exit 3 (default 120s)' },
  RUNBOOK_DEBUG: { worker: false, what: '1: print stack traces of unexpected errors' },
} as const;

export type RunbookVariable = keyof typeof RUNBOOK_VARIABLES;

export function runbookEnv(name: RunbookVariable, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env[name];
}

/** For the CLI's own children and links (the dev server's UI address): the one place a RUNBOOK_* is set. */
export function setRunbookEnv(name: RunbookVariable, value: string): void {
  process.env[name] = value;
}
