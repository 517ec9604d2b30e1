/** All activities, built by one factory so the worker injects its dependencies (samples-typescript style). */
import { createBackupActivities } from './backup';
import { createCheckActivities } from './check';
import type { ActivityDeps } from './deps';
import { createFormActivities } from './form';
import { createRecoveryActivities } from './recovery';
import { createUpgradeActivities } from './upgrade';

export type { ActivityDeps } from './deps';

export function createActivities(deps: ActivityDeps) {
  return {
    ...createCheckActivities(deps),
    ...createFormActivities(deps),
    ...createUpgradeActivities(deps),
    ...createBackupActivities(deps),
    ...createRecoveryActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
