/** All activities, built by one factory so the worker injects its dependencies (samples-typescript style). */
import { createBackupActivities } from './backup';
import { createCertActivities } from './certs';
import { createCheckActivities } from './check';
import { createDrillActivities } from './drill';
import { withCommandAudit } from './ssh/audit';
import type { ActivityDeps } from './deps';
import { withFailureBudget } from './failure-budget';
import { createFormActivities } from './form';
import { createFormSurveyActivities } from './form-survey';
import { createNotificationActivities } from './notifications';
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
  const steps = withCommandAudit(
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
      ...createDrillActivities(deps),
    }),
  );
  // Webhook deliveries run no remote command and retry on their own few attempts (workflows/notifications.ts).
  return { ...steps, ...createNotificationActivities() };
}

export type Activities = ReturnType<typeof createActivities>;
