/** The engine's state directory (backups, dev-server database, labs): one default for the worker, CLI and lab. */
import * as os from 'os';
import * as path from 'path';

export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.RUNBOOK_STATE_DIR || path.join(os.homedir(), '.local/state/microk8s-runbooks');
}
