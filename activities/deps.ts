import type { SshPool } from './ssh';

/** What activities need from the worker process: injected, so tests can substitute them. */
export interface ActivityDeps {
  ssh: SshPool;
  /** Engine state directory: backups live under `<stateDir>/backups/<cluster>/`. */
  stateDir: string;
}
