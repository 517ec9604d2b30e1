/**
 * `runbook fleet` end to end: the CLI as a child process, the real dev server, a real worker and three lab clusters
 * (a control plane and a worker each) behind real sshd. A fleet run starts each cluster's own runbook under that cluster's lock:
 * a busy cluster is skipped and said so, the canary goes first and alone, a failed canary stops the rest, and the
 * others run at most --max-parallel at a time. The judge is each lab's own state (versions, journal).
 */
import * as fs from 'fs';
import * as path from 'path';
import type { FleetResult } from '../../common/fleet';
import type { Lab } from '../../lab';
import { useServerSuite } from '../support/e2e';
import { startRunbook, type TestWorker } from '../support/temporal';

const suite = useServerSuite({ name: 'fleet-e2e' });
let worker: TestWorker;
let labs: Lab[] = [];
let fleetFile: string;
let fleetDir: string;
const names = () => labs.map((l) => l.inventory.cluster);

beforeAll(async () => {
  labs = await Promise.all(['fa', 'fb', 'fc'].map((name) => suite.lab({ name, controlPlanes: 1, workers: 1, channel: '1.28/stable', formed: true, profile: 'fast' })));
  worker = await suite.worker();
  fleetFile = path.join(suite.stateDir, 'fleet.yaml');
  fs.writeFileSync(fleetFile, `fleet: edge\ninventories:\n${labs.map((l) => `  - ${l.inventoryPath}\n`).join('')}`);
  // The directory form: the fleet is named after the directory, its inventories are its *.yaml files by name.
  fleetDir = path.join(suite.stateDir, 'shops');
  fs.mkdirSync(fleetDir);
  labs.forEach((l, i) => fs.copyFileSync(l.inventoryPath, path.join(fleetDir, `${i}-${l.inventory.cluster}.yaml`)));
}, 180_000);

const fleet = (args: string[]) => suite.cli(['fleet', ...args], { taskQueue: worker.taskQueue, timeoutMs: 280_000 });
const result = (stdout: string) => JSON.parse(stdout) as FleetResult;
const versionOf = async (lab: Lab) => [...new Set((await lab.status()).nodes.map((n) => n.version))].join(', ');

test('fleet check: a cluster busy with another runbook is skipped and named; the canary ends before the others start; exit 1', async () => {
  const [a, b, c] = names();
  // An upgrade waiting for its plan approval holds cluster b.
  const holder = await startRunbook(suite.env, { kind: 'upgrade', workflowType: 'rollingUpgrade', inventory: labs[1].inventory, input: { to: '1.29/stable' }, summary: 'holder' }, worker.taskQueue);
  try {
    const r = await fleet(['check', '-f', fleetDir, '--max-parallel', '2', '--yes', '--json']);
    expect(r.code).toBe(1);
    const out = result(r.stdout);
    expect(out.fleet).toBe('shops');
    expect(out.clusters.map((x) => [x.cluster, x.outcome])).toEqual([
      [a, 'succeeded'],
      [b, 'busy'],
      [c, 'succeeded'],
    ]);
    expect(out.clusters[1].detail).toBe(`another runbook holds cluster ${b} (runbook-${b} is running); skipped`);
    expect(out.clusters[0].detail).toBe('healthy');
    expect(Date.parse(out.clusters[0].endedAt!)).toBeLessThanOrEqual(Date.parse(out.clusters[2].startedAt!));
  } finally {
    await holder.cancel();
    await holder.result().catch(() => undefined);
  }
}, 300_000);

test('fleet upgrade: the canary fails (rolled back) and the rest never start; fleet status shows the table', async () => {
  const [a, b, c] = names();
  await labs[0].fault('k8s-1', 'fail-upgrade', { to: '1.29' });
  try {
    const plan = await fleet(['upgrade', '-f', fleetFile, '--to', '1.29', '--max-parallel', '2', '--plan', '--json']);
    expect(plan.code).toBe(0);
    expect(result(plan.stdout).plan).toEqual([
      expect.stringMatching(/^upgrade on 3 cluster\(s\) of fleet edge, each with its own runbook under its own lock/),
      `canary: ${a} alone first`,
      `then ${b}, ${c}: at most 2 at a time`,
      'no new cluster starts after 1 failure(s); running ones finish',
      'each cluster: rolling upgrade to 1.29/stable, planned from its own live state, without asking again',
    ]);

    const r = await fleet(['upgrade', '-f', fleetFile, '--to', '1.29', '--max-parallel', '2', '--ready-timeout', '15s', '--yes', '--json']);
    expect(r.code).toBe(1);
    const out = result(r.stdout);
    expect(out.clusters.map((x) => [x.cluster, x.outcome])).toEqual([
      [a, 'failed'],
      [b, 'not-started'],
      [c, 'not-started'],
    ]);
    expect(out.stoppedEarly).toBe(true);
    expect(out.clusters[0].detail).toMatch(/k8s-1/);
    for (const l of labs) expect(await versionOf(l)).toMatch(/^v1\.28\./); // a rolled back, b and c untouched
    expect(labs[1].journal().filter((e) => e.event === 'refreshed' || e.event === 'cordoned')).toEqual([]);

    const st = await fleet(['status', '-f', fleetFile]);
    expect(st.code).toBe(0);
    expect(st.stdout).toMatch(new RegExp(`^fleet edge \\(fleet-edge\\): completed, done: 0 succeeded, 1 failed, 0 busy, 2 not started`, 'm'));
    expect(st.stdout).toMatch(new RegExp(`^${b}\\s+skipped\\s+not started: 1 failure\\(s\\) reached --stop-after-failures 1$`, 'm'));
  } finally {
    await labs[0].heal('k8s-1');
  }
}, 300_000);

test('fleet upgrade: with the canary healthy, every cluster is upgraded, the two after it at once', async () => {
  const r = await fleet(['upgrade', '-f', fleetFile, '--to', '1.29', '--max-parallel', '2', '--yes', '--json']);
  expect(r.code).toBe(0);
  const out = result(r.stdout);
  expect(out.clusters.map((x) => x.outcome)).toEqual(['succeeded', 'succeeded', 'succeeded']);
  for (const l of labs) expect(await versionOf(l)).toMatch(/^v1\.29\./);
  const [, b, c] = out.clusters;
  // At most two at a time, and here two: each of b and c started before the other ended.
  expect(Date.parse(b.startedAt!)).toBeLessThan(Date.parse(c.endedAt!));
  expect(Date.parse(c.startedAt!)).toBeLessThan(Date.parse(b.endedAt!));
  expect(Date.parse(out.clusters[0].endedAt!)).toBeLessThanOrEqual(Date.parse(b.startedAt!));
}, 300_000);

test('bad input: no such fleet, a cluster listed twice, a bad fleet name, --max-parallel 0: exit 2 naming the fix, nothing starts', async () => {
  const twice = path.join(suite.stateDir, 'twice.yaml');
  fs.writeFileSync(twice, `fleet: twice\ninventories:\n  - ${labs[0].inventoryPath}\n  - ${path.join(fleetDir, fs.readdirSync(fleetDir)[0])}\n`);
  const badName = path.join(suite.stateDir, 'bad-name.yaml');
  fs.writeFileSync(badName, `fleet: Edge_Sites\ninventories:\n  - ${labs[0].inventoryPath}\n`);
  const cases: Array<[string[], RegExp]> = [
    [['check', '-f', path.join(suite.stateDir, 'nope.yaml')], /^-f: ".*nope\.yaml": no such file or directory; pass a fleet file/m],
    [['check', '-f', twice], /are both cluster .*; a fleet lists each cluster once/],
    [['check', '-f', badName], /fleet: must be a lowercase name \(a-z, 0-9, "-"\), e\.g\. edge-sites/],
    [['check', '-f', fleetFile, '--max-parallel', '0'], /^--max-parallel: must be at least 1/m],
    [['status'], /^-f or --fleet: give exactly one/m],
  ];
  for (const [args, message] of cases) {
    const r = await fleet(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/started fleet|\n\s+at /);
  }
});
