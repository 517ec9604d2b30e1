/** The engine's state directory (backups, dev-server database, labs): one default for the worker, CLI and lab. */
import * as os from 'os';
import * as path from 'path';
import { runbookEnv } from './environment';

export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return runbookEnv('RUNBOOK_STATE_DIR', env) || path.join(os.homedir(), '.local/state/microk8s-runbooks');
}
