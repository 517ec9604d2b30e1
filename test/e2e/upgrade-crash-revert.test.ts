/**
 * Crash resume mid-revert (issue 5, "Crash at any step"): k8s-2 fails its 1.29 upgrade, `--rollback node` starts
 * reverting it, and the worker process is SIGKILLed while `snap revert` runs on k8s-2. The revert takes effect with
 * no worker alive, so its activity never reports; a new worker must see that and not revert again (a second
 * `snap revert --revision=N` would fail: snapd then keeps only the 1.29 revision as the previous one).
 */
import * as fs from 'fs';
import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { JournalEntry } from '../../lab';
import { waitFor } from '../support/lab';
import { useServerSuite } from '../support/e2e';
import { nodeWorkflowId } from '../../common/constants';
import { formedLab, killWorker, spawnUpgradeWorker, journalInvariants, refreshes, settle, startUpgrade, waitProgress } from './upgrade-support';

const CPS = ['k8s-1', 'k8s-2', 'k8s-3'];
/** Added before every k8s-2 command once its upgrade failed: the window in which `snap revert` runs but has not acted. */
const REVERT_WINDOW_MS = 1500;

const suite = useServerSuite({ name: 'upgrade-crash-revert-e2e' });


/**
 * Whether a lab command (`snap revert …`) is running on `node` right now: the journal only records a command
 * when it ends, so its start is seen in the process table (the shims exec the simulator with LAB_DIR/LAB_NODE).
 */
function labCommandRunning(labDir: string, node: string, argv: string[]): boolean {
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const at = cmd.findIndex((a) => a.endsWith('/lab/sim/main.js'));
      if (at < 0 || argv.some((a, i) => cmd[at + 1 + i] !== a)) continue;
      const vars = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      if (vars.includes(`LAB_DIR=${labDir}`) && vars.includes(`LAB_NODE=${node}`)) return true;
    } catch {
      // the process ended between readdir and read
    }
  }
  return false;
}

/** Each scheduled `activityType` in a workflow's history: its last attempt, and whether it completed. */
async function activityAttempts(env: TestWorkflowEnvironment, workflowId: string, activityType: string): Promise<Array<{ attempt: number; completed: boolean }>> {
  const events = (await env.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const scheduled = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activityType).map((e) => String(e.eventId));
  return scheduled.map((id) => ({
    attempt: events.find((e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId) === id)?.activityTaskStartedEventAttributes?.attempt ?? 0,
    completed: events.some((e) => String(e.activityTaskCompletedEventAttributes?.scheduledEventId) === id),
  }));
}

test('SIGKILL the worker mid-revert: the rollback resumes, k8s-2 is reverted exactly once, Ready and uncordoned', async () => {
  const lab = await formedLab(suite, 3, 1);
  const taskQueue = `crash-revert-${process.pid}-${Date.now()}`;
  let worker = spawnUpgradeWorker(suite, taskQueue);
  await lab.fault('k8s-2', 'fail-upgrade', { to: '1.29' });
  const handle = await startUpgrade(suite.env, lab, taskQueue, {
    to: '1.29',
    rollback: 'node',
    readyTimeoutSeconds: 5,
    readyPollMs: 200,
    heartbeatTimeoutSeconds: 5,
  });
  const k2 = (name: string) => (e: JournalEntry) => e.node === 'k8s-2' && e.event === name;

  // k8s-2's 1.29 refresh broke kubelite: from now on slow its commands so the kill lands inside `snap revert`.
  await waitFor('k8s-2 upgrade-failed', () => lab.journal().some(k2('upgrade-failed')), 60_000, 50);
  await lab.fault('k8s-2', 'slow', { ms: REVERT_WINDOW_MS });
  await waitProgress(handle, (p) => p.nodes.some((n) => n.name === 'k8s-2' && n.state === 'reverting'), 60_000);
  await waitFor('snap revert running on k8s-2', () => labCommandRunning(lab.dir, 'k8s-2', ['snap', 'revert']), 30_000, 10);
  await killWorker(worker);
  expect(lab.journal().filter(k2('reverted'))).toHaveLength(0); // killed before the revert acted

  // The revert completes on the node with no worker alive: its activity attempt will never report.
  await waitFor('k8s-2 reverted while no worker runs', () => lab.journal().some(k2('reverted')), 10_000, 20);
  await lab.fault('k8s-2', 'slow', { ms: 0 }); // the window is over: keep the rest of the run quick
  worker = spawnUpgradeWorker(suite, taskQueue);

  const { error } = await settle(handle);
  expect(error).toBeInstanceOf(WorkflowFailedError);
  expect(error.cause.type).toBe('UpgradeFailed');
  expect(String(error.cause.message)).toMatch(/upgrade stopped at k8s-2 \(waitNodeReady\).*rolled back the failed node \(--rollback node\)/);
  const details = error.cause.details[0] as { compensations: string[]; leftCordoned: string[] };
  expect(details.leftCordoned).toEqual([]);
  expect(details.compensations.join('\n')).not.toMatch(/FAILED/);
  expect(details.compensations).toEqual(expect.arrayContaining([expect.stringMatching(/^k8s-2 Ready on v1\.28\./), 'uncordoned k8s-2']));

  const journal = lab.journal();
  // k8s-2 is back on the revision it ran before the 1.29 refresh, reverted once: one `reverted` event and one
  // `snap revert` command (the killed worker's, which finished on the node); a second one would have failed,
  // snapd then keeping only the 1.29 revision as the previous one.
  const hop = refreshes(journal).filter((r) => r.channel === '1.29/stable');
  expect(hop.map((r) => r.node)).toContain('k8s-2');
  const refreshed129 = journal.find((e) => k2('refreshed')(e) && e.channel === '1.29/stable')!;
  const reverted = journal.filter(k2('reverted'));
  expect(reverted).toHaveLength(1);
  expect(reverted[0]).toMatchObject({ fromRevision: refreshed129.toRevision, toRevision: refreshed129.fromRevision });
  const revertCommands = journal.filter((e) => e.node === 'k8s-2' && e.argv?.[0] === 'snap' && e.argv[1] === 'revert');
  expect(revertCommands.map((e) => e.exit)).toEqual([0]);
  // The rollback child resumed its revertSnap activity on the new worker: a second attempt, which completed.
  expect(await activityAttempts(suite.env, nodeWorkflowId(handle.workflowId, 'rollback', 'k8s-2'), 'revertSnap')).toEqual([{ attempt: 2, completed: true }]);

  const st = await lab.status();
  const node2 = st.nodes.find((n) => n.name === 'k8s-2')!;
  expect(node2).toMatchObject({ ready: true, cordoned: false, held: false, revision: refreshed129.fromRevision });
  expect(node2.version).toMatch(/^v1\.28\./);
  for (const n of st.nodes) expect(n).toMatchObject({ ready: true, cordoned: false, held: false });
  // --rollback node: the control planes upgraded before k8s-2 stay on 1.29; the worker never got 1.29.
  for (const n of hop.slice(0, hop.findIndex((r) => r.node === 'k8s-2'))) expect(st.nodes.find((x) => x.name === n.node)!.version).toMatch(/^v1\.29\./);
  expect(hop.some((r) => r.node === 'k8s-w1')).toBe(false);
  // Holds: each node's last hold was released.
  for (const n of st.nodes) {
    const last = journal.filter((e) => e.node === n.name && (e.event === 'held' || e.event === 'unheld')).pop();
    expect(last?.event).toBe('unheld');
  }
  expect(journalInvariants(journal, CPS)).toEqual([]);
}, 150_000);
