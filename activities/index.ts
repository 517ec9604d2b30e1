/** All activities, built by one factory so the worker injects its dependencies (samples-typescript style). */
import { createBackupActivities } from './backup';
import { createCertActivities } from './certs';
import { createCheckActivities } from './check';
import { withCommandAudit } from './ssh/audit';
import type { ActivityDeps } from './deps';
import { withFailureBudget } from './failure-budget';
import { createFormActivities } from './form';
import { createFormSurveyActivities } from './form-survey';
import { createRebootActivities } from './reboot';
import { createRebootGateActivities } from './reboot-gates';
import { createRecoveryActivities } from './recovery';
import { createRefreshPolicyActivities } from './refresh-policy';
import { createRemoveNodeActivities } from './remove-node';
import { createUpgradeActivities } from './upgrade';

export type { ActivityDeps } from './deps';

export function createActivities(deps: ActivityDeps) {
  // Every activity reports the remote commands it ran, in its result or its failure (the audit trail), the tries
  // a real failure got in place included; a real failure ends the step after a few tries (failure-budget.ts).
  return withCommandAudit(
    withFailureBudget({
      ...createCheckActivities(deps),
      ...createFormSurveyActivities(deps),
      ...createFormActivities(deps),
      ...createRemoveNodeActivities(deps),
      ...createUpgradeActivities(deps),
      ...createBackupActivities(deps),
      ...createRecoveryActivities(deps),
      ...createRefreshPolicyActivities(deps),
      ...createCertActivities(deps),
      ...createRebootActivities(deps),
      ...createRebootGateActivities(deps),
    }),
  );
}

export type Activities = ReturnType<typeof createActivities>;
