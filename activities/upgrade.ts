import type { ActivityDeps } from './deps';

export function createUpgradeActivities(_deps: ActivityDeps) {
  return {};
}
