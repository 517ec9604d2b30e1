/**
 * `runbook reboot` end to end: the CLI as a child process, the real dev server, a real worker and a formed lab
 * behind real sshd whose machines reboot as §12 describes (a new boot id, the sentinel gone, sshd down for the boot,
 * MicroK8s not running until its services are up, a voter handing its role over on a clean stop).
 */
import * as fs from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as path from 'path';
import type { JournalEntry } from '../../lab';
import type { RebootResult } from '../../common/reboot';
import { useLabSuite } from '../support/e2e';
import { waitFor } from '../support/lab';

const s = useLabSuite({ lab: { name: 'reboot', controlPlanes: 3, workers: 2, channel: '1.28/stable', formed: true, profile: 'fast' } });

const reboot = (...args: string[]) => s.cli(['reboot', '-i', s.lab.inventoryPath, ...args]);
const bootIds = async () => Object.fromEntries((await s.lab.status()).nodes.map((n) => [n.name, n.bootId]));
const events = (since: number, ...names: string[]): JournalEntry[] => s.lab.journal().slice(since).filter((e) => names.includes(String(e.event)));

test('--only-if-required --plan: only the nodes a package asked to reboot are planned, control planes first; nothing changes', async () => {
  await s.lab.fault('k8s-2', 'reboot-required', { pkgs: ['linux-image-6.8.0-50-generic'] });
  await s.lab.fault('k8s-w1', 'reboot-required');
  const ids = await bootIds();
  const r = await reboot('--only-if-required', '--plan', '--json');
  expect(r.code).toBe(0);
  const plan = JSON.parse(r.stdout) as RebootResult;
  expect(plan.plan).toEqual([
    'hold snap auto-refresh on every node for the run (holds set before stay)',
    expect.stringMatching(/^k8s-2 \(control plane; reboot required by linux-image-6\.8\.0-50-generic\): check quorum, cordon and drain, systemctl reboot, wait for a new boot id and MicroK8s running, wait Ready, health gate \(control planes Ready, voters, HA\), uncordon$/),
    expect.stringMatching(/^k8s-w1 \(worker; reboot required by linux-image-.*\): cordon and drain, systemctl reboot, wait for a new boot id, wait Ready, uncordon$/),
    'k8s-1: skipped, no reboot required (--only-if-required)',
    'k8s-3: skipped, no reboot required (--only-if-required)',
    'k8s-w2: skipped, no reboot required (--only-if-required)',
  ]);
  expect(await bootIds()).toEqual(ids);
}, 120_000);

test('a rolling reboot with a maintenance command: control planes one at a time with the leader last, then workers two at a time; every node rebooted once, uncordoned, check healthy', async () => {
  const ids = await bootIds();
  const leader = (await s.lab.status()).nodes.find((n) => n.leader)!.name;
  const since = s.lab.journal().length;
  const r = await reboot('--command', 'echo "patched by $(id -un)"', '--worker-batch', '2', '--yes', '--json');
  expect(r.code).toBe(0);
  const result = JSON.parse(r.stdout) as RebootResult;
  expect(result.nodes.map((n) => [n.node, n.outcome])).toEqual([...['k8s-1', 'k8s-2', 'k8s-3'].filter((n) => n !== leader), leader, 'k8s-w1', 'k8s-w2'].map((n) => [n, 'rebooted']));
  for (const n of result.nodes) {
    expect(n.maintenance).toEqual({ exitCode: 0, tail: 'patched by root' }); // --command runs as root
    expect(n.bootIdBefore).toBe(ids[n.node]);
    expect(n.bootIdAfter).not.toBe(ids[n.node]);
  }
  const after = await s.lab.status();
  // Auto-refresh was held for the run and released after it.
  for (const n of after.nodes) expect(n).toMatchObject({ ready: true, cordoned: false, held: false, rebootRequired: null, bootId: result.nodes.find((x) => x.node === n.name)!.bootIdAfter });
  expect(events(since, 'held').length).toBe(5);
  expect(events(since, 'unheld').length).toBe(5);

  // The journal: each node cordoned before its reboot and uncordoned after it came back; never two control planes
  // down at once; the leader's reboot last among them; workers only after every control plane, in one batch of two.
  const journal = events(since, 'cordoned', 'reboot', 'rebooted', 'uncordoned');
  const order = journal.map((e) => `${e.event} ${e.node}`);
  for (const n of after.nodes.map((x) => x.name)) {
    const i = (what: string) => order.indexOf(`${what} ${n}`);
    const steps = [i('cordoned'), i('reboot'), i('rebooted'), i('uncordoned')];
    expect(steps.every((x, k) => x >= 0 && (k === 0 || x > steps[k - 1]))).toBe(true);
    expect(order.filter((x) => x === `reboot ${n}`)).toHaveLength(1);
  }
  let down = 0;
  const cpSteps = journal.filter((x) => !x.node.startsWith('k8s-w') && ['reboot', 'uncordoned'].includes(String(x.event)));
  for (const e of cpSteps) {
    down += e.event === 'reboot' ? 1 : -1;
    expect(down).toBeLessThanOrEqual(1);
  }
  const reboots = order.filter((x) => x.startsWith('reboot ')).map((x) => x.slice(7));
  expect(reboots.slice(0, 3).pop()).toBe(leader);
  expect(new Set(reboots.slice(3))).toEqual(new Set(['k8s-w1', 'k8s-w2']));
  // One batch: each worker was cordoned before the other was uncordoned.
  expect(order.indexOf('cordoned k8s-w2')).toBeLessThan(order.indexOf('uncordoned k8s-w1'));
  expect(order.indexOf('cordoned k8s-w1')).toBeLessThan(order.indexOf('uncordoned k8s-w2'));

  const check = await s.cli(['check', '-i', s.lab.inventoryPath]);
  expect(check.code).toBe(0);
}, 300_000);

test('a node that does not come back stops the run at its deadline, named, and stays cordoned; the nodes after it are not touched', async () => {
  await s.lab.fault('k8s-w1', 'reboot-required');
  await s.lab.fault('k8s-w2', 'reboot-required');
  await s.lab.fault('k8s-w1', 'no-boot');
  const since = s.lab.journal().length;
  try {
    const r = await reboot('--only-if-required', '--boot-timeout', '5s', '--yes');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/k8s-w1: did not come back within 5s after its reboot \(last: down: .+\); it stays cordoned/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(events(since, 'reboot').map((e) => e.node)).toEqual(['k8s-w1']);
    const st = await s.lab.status();
    expect(st.nodes.find((n) => n.name === 'k8s-w1')).toMatchObject({ cordoned: true });
    expect(st.nodes.find((n) => n.name === 'k8s-w2')).toMatchObject({ cordoned: false, rebootRequired: expect.any(Array) });
  } finally {
    await s.lab.heal('k8s-w1');
    await s.lab.exec('k8s-1', 'sudo microk8s kubectl uncordon k8s-w1');
  }
}, 180_000);

test('gates wait while they fire and say why: --gate-cmd on the engine side, then Prometheus alerts (filtered); the reboot goes ahead once they clear', async () => {
  // k8s-w2 still asks for a reboot (the test above left it). The gate file is on the engine's side (this machine).
  const gateFile = path.join(s.stateDir, 'maintenance-freeze');
  fs.writeFileSync(gateFile, 'change freeze\n');
  const alerts = { firing: ['KubeNodeNotReady', 'Watchdog'] };
  const prometheus = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url !== '/api/v1/alerts') return void res.writeHead(404).end('{}');
    res.end(JSON.stringify({ status: 'success', data: { alerts: alerts.firing.map((alertname) => ({ labels: { alertname }, state: 'firing' })) } }));
  });
  await new Promise<void>((r) => prometheus.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(prometheus.address() as AddressInfo).port}`;
  try {
    const since = s.lab.journal().length;
    const run = reboot('--only-if-required', '--gate-cmd', `test ! -e ${gateFile} || { cat ${gateFile}; exit 1; }`, '--gate-prometheus', url, '--alert-filter', '^KubeNode', '--gate-poll', '1s', '--yes');
    const status = async () => (await s.cli(['status', `runbook-${s.lab.inventory.cluster}`])).stdout;
    await waitFor('the gates to hold the run', async () => /step: +waiting: a gate fires before k8s-w2: --gate-cmd: exit 1: change freeze; --gate-prometheus: 1 alert\(s\) firing: KubeNodeNotReady/.test(await status()), 60_000, 250);
    fs.rmSync(gateFile);
    await waitFor('only the alert to hold it', async () => /step: +waiting: a gate fires before k8s-w2: --gate-prometheus: 1 alert\(s\) firing: KubeNodeNotReady$/m.test(await status()), 60_000, 250);
    expect(events(since, 'cordoned', 'reboot')).toEqual([]); // nothing done while a gate fires
    alerts.firing = ['Watchdog']; // still firing, but not one the filter names
    const r = await run;
    expect(r.code).toBe(0);
    expect(events(since, 'reboot').map((e) => e.node)).toEqual(['k8s-w2']);
  } finally {
    prometheus.close();
    fs.rmSync(gateFile, { force: true });
  }
}, 180_000);

test('--on-failure pause: a node that does not come back pauses the run for a decision; retry after it boots finishes the turn', async () => {
  await s.lab.fault('k8s-w1', 'reboot-required');
  await s.lab.fault('k8s-w1', 'no-boot');
  const id = `runbook-${s.lab.inventory.cluster}`;
  const run = reboot('--only-if-required', '--boot-timeout', '5s', '--on-failure', 'pause', '--yes');
  await waitFor('the decision to be asked for', async () => /waiting for an operator decision/.test((await s.cli(['status', id])).stdout), 60_000, 250);
  expect((await s.lab.status()).nodes.find((n) => n.name === 'k8s-w1')).toMatchObject({ cordoned: true });
  await s.lab.heal('k8s-w1'); // the machine boots
  const d = await s.cli(['decide', id, 'retry', '--reason', 'k8s-w1 powered on by hand']);
  expect(d.code).toBe(0);
  const r = await run;
  expect(r.code).toBe(0);
  expect((await s.lab.status()).nodes.find((n) => n.name === 'k8s-w1')).toMatchObject({ cordoned: false, ready: true });
}, 180_000);

test('--window waits on a durable timer for its opening, then --blocking-pods waits while a matching pod runs on the node; both say so', async () => {
  await s.lab.fault('k8s-w1', 'reboot-required');
  await s.lab.fault('k8s-w1', 'pdb-block'); // a pod app=critical pinned to k8s-w1
  // A daily window opening at the minute after next (60-120 s away) and lasting an hour.
  const open = new Date(Math.floor(Date.now() / 60_000) * 60_000 + 120_000);
  const hhmm = (d: Date) => d.toISOString().slice(11, 16);
  const window = `daily ${hhmm(open)}-${hhmm(new Date(open.getTime() + 3_600_000))} UTC`;
  const id = `runbook-${s.lab.inventory.cluster}`;
  const status = async () => (await s.cli(['status', id])).stdout;
  const since = s.lab.journal().length;
  // The CLI follows the run through the window's wait (up to 2 minutes) and the gate's: longer than runCli's default.
  const run = s.cli(['reboot', '-i', s.lab.inventoryPath, '--only-if-required', '--window', window, '--turn-estimate', '5m', '--blocking-pods', 'app=critical', '--gate-poll', '1s', '--yes'], { timeoutMs: 280_000 });
  try {
    const opens = open.toISOString().replace(/\.\d+Z$/, 'Z');
    await waitFor('the window wait', async () => new RegExp(`step: +waiting for the window ${window}: k8s-w1 start at ${opens}`).test(await status()), 60_000, 250);
    await waitFor('the blocking pod to hold the run', async () => /step: +waiting: a gate fires before k8s-w1: --blocking-pods app=critical: default\/critical-\S+ on k8s-w1/.test(await status()), 150_000, 500);
    expect(Date.now()).toBeGreaterThanOrEqual(open.getTime()); // not before the window opened
    expect(events(since, 'cordoned', 'reboot')).toEqual([]);
  } finally {
    await s.lab.heal('k8s-w1'); // the pod's job is done: it goes
  }
  const r = await run;
  expect({ code: r.code, output: r.code === 0 ? '' : `${r.stdout.slice(-1500)}\n${r.stderr}` }).toEqual({ code: 0, output: '' });
  expect(events(since, 'reboot').map((e) => e.node)).toEqual(['k8s-w1']);
}, 300_000);

test('bad input names the flag and the fix, exit 2, nothing starts', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['--command', 'apt-get update\napt-get -y upgrade'], /--command: must be one line of printable text/],
    [['--command', ''], /--command: is empty/],
    [['--gate-cmd', 'x'.repeat(1001)], /--gate-cmd: is longer than 1000 characters/],
    [['--window', 'weekdays at night'], /--window: "weekdays at night" is not a window; use DAYS HH:MM-HH:MM ZONE/],
    [['--gate-prometheus', 'http://admin:secret@prometheus:9090'], /--gate-prometheus: must be an http\(s\) URL of Prometheus or Alertmanager without credentials/],
    [['--alert-filter', 'Kube('], /--alert-filter: is not a regular expression/],
    [['--blocking-pods', 'app in (a,b)'], /--blocking-pods: is not a label selector/],
    [['--on-failure', 'ignore'], /--on-failure: must be stop or pause/],
    [['--worker-batch', '0'], /--worker-batch: must be at least 1/],
    [['--boot-timeout', 'soon'], /--boot-timeout: "soon" is not a duration/],
  ];
  for (const [args, message] of cases) {
    const r = await reboot(...args);
    expect({ args, code: r.code }).toEqual({ args, code: 2 });
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/started reboot/);
  }
});
