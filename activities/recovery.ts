import type { ActivityDeps } from './deps';

export function createRecoveryActivities(_deps: ActivityDeps) {
  return {};
}
