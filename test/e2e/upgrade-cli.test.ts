/**
 * `runbook upgrade` as a user runs it: bad flags exit 2 and start nothing; `--plan` prints the hops and the order
 * from live state and changes nothing.
 */
import { useLabSuite } from '../support/e2e';
import { refreshes } from './upgrade-support';

const suite = useLabSuite({ lab: { name: 'upcli', controlPlanes: 3, workers: 1, channel: '1.28/stable', formed: true } });

test.each([
  [['--to', '1.29', '--worker-batch', '0'], /--worker-batch: must be at least 1/],
  [['--to', 'latest/stable'], /--to: "latest\/stable" is not a MicroK8s channel; use <1\.NN>/],
  [['--to', '1.29', '--approve', 'always'], /--approve: must be none, each or on-failure/],
  [['--to', '1.29', '--rollback', 'everything'], /--rollback: must be node or all/],
  [['--to', '1.29', '--on-failure', 'retry'], /--on-failure: must be rollback or pause/],
  [['--to', '1.29', '--drain-timeout', 'soon'], /--drain-timeout: "soon" is not a duration; use e\.g\. 5m/],
  [['--to', '1.29', '--soak', '2w'], /--soak: "2w" is not a duration; use e.g. .* \(s, m, h or d\)/],
  [['--to', '1.29', '--soak', '2d'], /--soak: must be at most 24h/],
  [['--to', '1.29', '--step-timeout', '5s'], /--step-timeout: must be at least 10s/],
])('bad input %j exits 2 naming the flag, and starts nothing', async (args, message) => {
  const r = await suite.cli(['upgrade', '-i', suite.lab.inventoryPath, ...args]);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(message);
  expect((await suite.env.client.workflow.count(`RunbookCluster="${suite.lab.inventory.cluster}"`)).count).toBe(0);
});

test('--plan prints hops one minor at a time and the order, and changes nothing', async () => {
  const r = await suite.cli(['upgrade', '-i', suite.lab.inventoryPath, '--to', '1.30', '--plan']);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/Patch pass/);
  expect(r.stdout).toMatch(/Hop 1\.29\/stable[\s\S]*Hop 1\.30\/stable/);
  expect(r.stdout).toMatch(/leader/);
  expect(r.stdout).toMatch(/k8s-w1 → 1\.30\/stable/);
  expect(refreshes(suite.lab.journal())).toEqual([]);
  expect(suite.lab.journal().filter((e) => e.event === 'cordoned' || e.event === 'held')).toEqual([]);
});

describe('the plan proves the request before any change (exit 2, nothing changed)', () => {
  const untouched = () => {
    expect(refreshes(suite.lab.journal())).toEqual([]);
    expect(suite.lab.journal().filter((e) => e.event === 'cordoned' || e.event === 'held')).toEqual([]);
  };

  test('--to a channel the store does not have names the highest available, before any hop runs', async () => {
    const r = await suite.cli(['upgrade', '-i', suite.lab.inventoryPath, '--to', '1.99', '--yes']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/1\.33\/stable.*not in the snap store \(snap info microk8s\); the highest available is 1\.32\/stable: use --to 1\.32\/stable/);
    untouched();
  });

  test('--to two minors ahead with --yes needs --hops', async () => {
    const r = await suite.cli(['upgrade', '-i', suite.lab.inventoryPath, '--to', '1.30', '--yes']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--to: 2 minor passes \(1\.29\/stable → 1\.30\/stable\); confirm them with --hops 2, or drop --yes to confirm the plan/);
    untouched();
  });

  test('--hops that does not match the plan is refused', async () => {
    const r = await suite.cli(['upgrade', '-i', suite.lab.inventoryPath, '--to', '1.30', '--hops', '3', '--yes']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--hops: 3 given, but the plan has 2 minor pass\(es\) \(1\.29\/stable → 1\.30\/stable\); pass --hops 2/);
    untouched();
  });

  test('--hops that is not a decimal number is a flag error and starts nothing', async () => {
    const before = (await suite.env.client.workflow.count(`RunbookCluster="${suite.lab.inventory.cluster}"`)).count;
    const r = await suite.cli(['upgrade', '-i', suite.lab.inventoryPath, '--to', '1.30', '--hops', '0x2', '--yes']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--hops: "0x2" is not a whole number; write it in decimal digits/);
    expect((await suite.env.client.workflow.count(`RunbookCluster="${suite.lab.inventory.cluster}"`)).count).toBe(before);
  });
});
