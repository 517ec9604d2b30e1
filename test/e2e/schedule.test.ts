/**
 * `runbook schedule` end to end: Temporal Schedules on the real dev server, a real worker, a formed lab behind real
 * sshd. A scheduled backup runs when triggered; while another runbook holds the cluster it is skipped and says so;
 * pause, unpause and delete; bad input is refused with exit 2.
 */
import { useLabSuite } from '../support/e2e';
import { waitFor } from '../support/lab';

const s = useLabSuite({ lab: { name: 'sched', controlPlanes: 3, workers: 0, channel: '1.28/stable', formed: true, profile: 'fast' } });

interface Row {
  id: string;
  kind: string;
  cluster: string;
  spec: string;
  paused: boolean;
  last?: string;
}
const list = async (): Promise<Row[]> => JSON.parse((await s.cli(['schedule', 'list', '--json'])).stdout) as Row[];
const id = () => `runbook-${s.lab.inventory.cluster}.backup`;

test('a backup schedule: created paused, triggered it backs up; while another runbook holds the cluster a run is skipped and says so', async () => {
  const created = await s.cli(['schedule', 'create', 'backup', '-i', s.lab.inventoryPath, '--every', '6h', '--keep', '2', '--paused']);
  expect(created.stderr).toBe('');
  expect(created.stdout).toBe(`created schedule ${id()}: backup of ${s.lab.inventory.cluster} every 6h (paused)\n`);
  // Schedules reach the list through visibility, a moment after they are created.
  await waitFor('the schedule in the list', async () => (await list()).length === 1, 30_000, 250);
  expect(await list()).toEqual([expect.objectContaining({ id: id(), kind: 'backup', cluster: s.lab.inventory.cluster, spec: 'every 6h', paused: true })]);
  const again = await s.cli(['schedule', 'create', 'backup', '-i', s.lab.inventoryPath, '--every', '6h']);
  expect(again.code).toBe(2);
  expect(again.stderr).toMatch(/--id: schedule runbook-\S+\.backup exists already; delete it first/);

  expect((await s.cli(['schedule', 'trigger', id()])).code).toBe(0);
  const ran = await waitFor('the triggered backup', async () => (await list())[0].last?.match(/backup \S+ of k8s-1$/), 120_000, 500);
  expect(ran).toBeTruthy();

  // Another runbook holds the cluster: a reboot waiting for its plan approval.
  const holder = s.cli(['reboot', '-i', s.lab.inventoryPath]);
  const lockId = `runbook-${s.lab.inventory.cluster}`;
  await waitFor('the reboot to wait for approval', async () => /waiting for approval|plan/.test((await s.cli(['status', lockId])).stdout), 60_000, 250);
  expect((await s.cli(['schedule', 'trigger', id()])).code).toBe(0);
  await waitFor('the skipped run', async () => /skipped: another runbook holds cluster \S+ \(runbook-\S+ is running\)/.test((await list())[0].last ?? ''), 60_000, 500);
  expect((await s.cli(['reject', lockId, '--reason', 'not tonight'])).code).toBe(0);
  expect((await holder).code).toBe(1);

  const paused = await s.cli(['schedule', 'unpause', id(), '--reason', 'go live']);
  expect(paused.stdout).toBe(`${id()}: unpaused\n`);
  expect((await list())[0].paused).toBe(false);
  expect((await s.cli(['schedule', 'pause', id(), '--reason', 'change freeze'])).code).toBe(0);
  expect((await list())[0].paused).toBe(true);
  expect((await s.cli(['schedule', 'delete', id()])).code).toBe(0);
  await waitFor('the schedule gone from the list', async () => (await list()).length === 0, 30_000, 250);
}, 300_000);

test('bad input names the flag and the fix, exit 2, no schedule is created', async () => {
  const create = (...args: string[]) => s.cli(['schedule', 'create', ...args]);
  const cases: Array<[Promise<{ code: number; stderr: string }>, RegExp]> = [
    [create('upgrade', '-i', s.lab.inventoryPath, '--every', '6h'), /<kind>: "upgrade" cannot be scheduled; use backup, check or drill/],
    [create('backup', '-i', s.lab.inventoryPath), /--every or --cron: give exactly one/],
    [create('backup', '-i', s.lab.inventoryPath, '--every', '30s'), /--every: must be at least 1m/],
    [create('check', '-i', s.lab.inventoryPath, '--cron', 'hourly'), /--cron: is not a cron expression; use five fields/],
    [create('check', '-i', s.lab.inventoryPath, '--every', '1h', '--keep', '3'), /--keep, --node, --stopped: are for backup schedules, not check/],
    [s.cli(['schedule', 'pause', 'no-such.schedule']), /no-such\.schedule: no such schedule; runbook schedule list shows them/],
  ];
  for (const [run, message] of cases) {
    const r = await run;
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 2, stderr: expect.stringMatching(message) });
  }
  expect(await list()).toEqual([]);
});
