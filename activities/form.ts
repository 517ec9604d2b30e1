import type { ActivityDeps } from './deps';

export function createFormActivities(_deps: ActivityDeps) {
  return {};
}
