import type { ActivityDeps } from './deps';

export function createCheckActivities(_deps: ActivityDeps) {
  return {};
}
