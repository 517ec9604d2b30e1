/**
 * Crash resume: the worker runs as its own process (`runbook worker`) and is SIGKILLed three times during one
 * upgrade, mid-drain, mid-refresh and mid-hop; a new worker takes over each time. The upgrade must finish with
 * every node on the target, the journal invariants intact, and no node refreshed twice to the same channel.
 */
import type { JournalEntry } from '../../lab';
import { waitFor } from '../support/lab';
import { useServerSuite } from '../support/e2e';
import { formedLab, killWorker, spawnUpgradeWorker, journalInvariants, refreshes, settle, startUpgrade } from './upgrade-support';

const suite = useServerSuite({ name: 'upgrade-crash-e2e' });


test('SIGKILL the worker three times mid-run: the upgrade resumes and finishes, nothing refreshed twice', async () => {
  const lab = await formedLab(suite, 3, 1);
  // Slow commands on the nodes so each kill lands inside a step, not between steps.
  for (const n of ['k8s-1', 'k8s-2', 'k8s-3', 'k8s-w1']) await lab.fault(n, 'slow', { ms: 300 });
  const taskQueue = `crash-${process.pid}-${Date.now()}`;
  let worker = spawnUpgradeWorker(suite, taskQueue);
  const kills: string[] = [];
  const handle = await startUpgrade(suite.env, lab, taskQueue, { to: '1.29', heartbeatTimeoutSeconds: 5 });
  const events = (name: string, filter: (e: JournalEntry) => boolean = () => true) =>
    lab.journal().filter((e) => e.event === name && filter(e)).length;
  const killAt = async (what: string, check: () => boolean) => {
    await waitFor(what, check, 120_000, 20);
    await killWorker(worker);
    kills.push(what);
    worker = spawnUpgradeWorker(suite, taskQueue);
  };
  await killAt('mid-drain (first cordon)', () => events('cordoned') >= 1);
  await killAt('mid-refresh (second node out of service)', () => events('out-of-service', (e) => e.reason === 'refresh') >= 2);
  await killAt('mid-hop 1.29 (first 1.29 refresh)', () => events('refreshed', (e) => e.channel === '1.29/stable') >= 1);
  const { value, error } = await settle(handle);
  expect(error).toBeUndefined();
  expect(value.outcome).toBe('upgraded');
  expect(kills).toHaveLength(3);
  const st = await lab.status();
  for (const n of st.nodes) expect(n).toMatchObject({ ready: true, cordoned: false, held: false, channel: '1.29/stable' });
  const journal = lab.journal();
  expect(journalInvariants(journal, ['k8s-1', 'k8s-2', 'k8s-3'])).toEqual([]);
  const perNodeChannel = refreshes(journal).map((r) => `${r.node}@${r.channel}`);
  expect(new Set(perNodeChannel).size).toBe(perNodeChannel.length); // no second refresh of a node to a channel
  expect(perNodeChannel).toHaveLength(8); // patch pass + 1.29, 4 nodes each
}, 300_000);
