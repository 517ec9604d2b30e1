import type { ActivityDeps } from './deps';

export function createBackupActivities(_deps: ActivityDeps) {
  return {};
}
