/**
 * The runbooks a client starts (common/runbooks.ts), as the worker registers them: each wrapped once with its
 * webhook notifications (workflows/notifications.ts), with the one line its end notice says. A new runbook is added
 * here, or it notifies nobody (test/unit/notifications.test.ts checks every RUNBOOK_TYPES entry is wrapped).
 */
import { describeClusterResult } from '../common/fleet';
import { backup as backupSteps, restoreBackup as restoreBackupSteps } from './backup';
import { check as checkSteps } from './check';
import { restoreDrill as restoreDrillSteps } from './drill';
import { form as formSteps } from './form';
import { notifying } from './notifications';
import { rollingReboot as rollingRebootSteps } from './reboot';
import { recoverQuorum as recoverQuorumSteps } from './recover-quorum';
import { refreshCerts as refreshCertsSteps } from './refresh-certs';
import { refreshPolicy as refreshPolicySteps } from './refresh-policy';
import { removeNode as removeNodeSteps } from './remove-node';
import { replaceNode as replaceNodeSteps } from './replace-node';
import { rollingUpgrade as rollingUpgradeSteps } from './upgrade';

const list = (names: string[]) => (names.length ? names.join(', ') : 'none');

export const check = notifying('check', checkSteps, (r) =>
  r.healthy ? (r.formed === false ? 'pre-flight passed; the nodes are not formed into a cluster yet' : 'healthy') : `${r.problems.length} problem(s): ${r.problems[0] ?? ''}`,
);

export const form = notifying('form', formSteps, (r) => (r.changed ? `formed from ${r.primary}; joined ${list(r.joined)}` : 'already formed as the inventory says; nothing changed'));

export const removeNode = notifying('remove-node', removeNodeSteps, (r) =>
  r.changed ? `${r.node} removed${r.voters !== undefined ? `; ${r.voters} dqlite voter(s) left` : ''}` : `${r.node} was not in the cluster; nothing changed`,
);

export const rollingUpgrade = notifying('upgrade', rollingUpgradeSteps, (r) => describeClusterResult('upgrade', r).detail);

export const backup = notifying('backup', backupSteps, (r) => describeClusterResult('backup', r).detail);

export const restoreBackup = notifying('restore-backup', restoreBackupSteps, (r) => `restored: ${r.changes.length} file change(s); what was there is kept as backup ${r.safetyBackup ?? '(none)'}`);

export const recoverQuorum = notifying('recover-quorum', recoverQuorumSteps, (r) =>
  `recovered on ${list(r.survivors)} from ${r.template ?? '?'}: ${r.voters ?? '?'} voter(s), HA ${r.ha ? 'yes' : 'no'}; removed ${list(r.removedNodes)}`,
);

export const refreshPolicy = notifying('refresh-policy', refreshPolicySteps, (r) =>
  r.action === 'status'
    ? `status read on ${r.nodes.length} node(s)${r.drift.length ? `; drift: ${r.drift[0]}` : '; no drift'}`
    : r.changed.length
      ? `${r.action === 'hold' ? 'held' : 'released'} on ${list(r.changed)}`
      : 'nothing changed',
);

export const refreshCerts = notifying('refresh-certs', refreshCertsSteps, (r) =>
  r.ca
    ? `new CA on ${r.ca.anchor}; re-joined ${list(r.ca.rejoined)}`
    : `refreshed ${r.rotated.filter((c) => !c.skipped).length} certificate(s)${r.rotated.length ? `: ${r.rotated.map((c) => `${c.cert} on ${c.node}`).join(', ')}` : ''}`,
);

export const rollingReboot = notifying('reboot', rollingRebootSteps, (r) => {
  const rebooted = r.nodes.filter((n) => n.outcome === 'rebooted').map((n) => n.node);
  return `rebooted ${list(rebooted)}${r.nodes.length > rebooted.length ? `; ${r.nodes.length - rebooted.length} skipped` : ''}`;
});

export const replaceNode = notifying('replace-node', replaceNodeSteps, (r) => `${r.node} replaced by ${r.replacement}: ${r.voters} dqlite voter(s), HA ${r.ha ? 'yes' : 'no'}`);

export const restoreDrill = notifying('drill', restoreDrillSteps, (r) =>
  r.outcome === 'ok' ? `backup ${r.backup.id} restores: ${r.verdict?.restored.length ?? 0} Node object(s) back, dqlite leader ${r.verdict?.leader?.node ?? '?'}` : `backup ${r.backup.id}: ${r.outcome}`,
);
