/**
 * `runbook refresh-certs` and `check`'s certificate report end to end: the CLI as a child process, the real dev
 * server, a real worker and a formed lab behind real sshd whose nodes keep certificates as MicroK8s does (§11:
 * nothing renews them; an expired front-proxy-client.crt or server.crt stays expired until refreshed).
 */
import type { CheckResult } from '../../common/check';
import type { RefreshCertsResult } from '../../common/certs';
import { useLabSuite } from '../support/e2e';

const s = useLabSuite({ lab: { name: 'certs', controlPlanes: 3, workers: 1, channel: '1.28/stable', formed: true, profile: 'fast' } });

const certs = (...args: string[]) => s.cli(['refresh-certs', '-i', s.lab.inventoryPath, ...args]);

/** What the node says by hand: `sudo microk8s refresh-certs --check`, as days per certificate. */
async function daysOnNode(node: string): Promise<Record<string, number>> {
  const r = await s.lab.exec(node, 'sudo microk8s refresh-certs --check');
  const out: Record<string, number> = {};
  for (const m of r.stdout.matchAll(/^The (CA|server|front proxy client) certificate will expire in (-?\d+) days\.$/gm)) out[m[1]] = Number(m[2]);
  return out;
}

test('check reports every control plane certificate expiry; an expired one is a problem naming the fix; exit 1', async () => {
  const healthy = await s.cli(['check', '-i', s.lab.inventoryPath, '--json']);
  expect(healthy.code).toBe(0);
  const before = JSON.parse(healthy.stdout) as CheckResult;
  for (const n of before.nodes.filter((x) => x.role === 'controlplane')) expect(n.certs).toEqual({ 'ca.crt': 3649, 'server.crt': 364, 'front-proxy-client.crt': 364 });
  expect(before.nodes.find((n) => n.node === 'k8s-w1')?.certs).toBeUndefined();

  await s.lab.fault('k8s-2', 'cert-expired', { cert: 'front-proxy-client.crt' });
  await s.lab.fault('k8s-3', 'cert-expired', { cert: 'server.crt' });
  const r = await s.cli(['check', '-i', s.lab.inventoryPath, '--json']);
  expect(r.code).toBe(1);
  const report = JSON.parse(r.stdout) as CheckResult;
  expect(report.problems).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/^k8s-2: front-proxy-client\.crt expired \d+ day\(s\) ago; runbook refresh-certs -i <inventory> --cert front-proxy-client\.crt --within 30d$/),
      expect.stringMatching(/^k8s-3: server\.crt expired \d+ day\(s\) ago; runbook refresh-certs -i <inventory> --cert server\.crt --within 30d$/),
    ]),
  );
}, 120_000);

test('--within 30d: the plan names only the expired certificates; the run refreshes them node by node and check is healthy again', async () => {
  const plan = await certs('--within', '30d', '--plan', '--json');
  expect(plan.code).toBe(0);
  const planned = JSON.parse(plan.stdout) as RefreshCertsResult;
  expect(planned.plan).toEqual([
    expect.stringMatching(/^k8s-2: refresh front-proxy-client\.crt \(expired \d+ day\(s\) ago\) with sudo microk8s refresh-certs --cert; then wait/),
    expect.stringMatching(/^k8s-3: refresh server\.crt \(expired \d+ day\(s\) ago\) with sudo microk8s refresh-certs --cert; then wait/),
  ]);
  expect((await daysOnNode('k8s-2'))['front proxy client']).toBeLessThan(0); // --plan changed nothing

  const since = s.lab.journal().length;
  const r = await certs('--within', '30d', '--yes', '--json');
  expect(r.code).toBe(0);
  const result = JSON.parse(r.stdout) as RefreshCertsResult;
  expect(result.rotated.map((x) => [x.node, x.cert, x.skipped ?? false])).toEqual([
    ['k8s-2', 'front-proxy-client.crt', false],
    ['k8s-3', 'server.crt', false],
  ]);
  expect(await daysOnNode('k8s-2')).toEqual({ CA: 3649, server: 364, 'front proxy client': 364 });
  expect(await daysOnNode('k8s-3')).toEqual({ CA: 3649, server: 364, 'front proxy client': 364 });
  // One node at a time: each refresh ran as root on its node, k8s-2 before k8s-3, never on k8s-1.
  const refreshes = s.lab
    .journal()
    .slice(since)
    .filter((e) => e.event === 'certs-refreshed')
    .map((e) => `${e.node} ${String(e.cert)}`);
  expect(refreshes).toEqual(['k8s-2 front-proxy-client.crt', 'k8s-3 server.crt']);

  const check = await s.cli(['check', '-i', s.lab.inventoryPath, '--json']);
  expect(check.code).toBe(0);
}, 240_000);

test('a gate that fires: k8s-2 is not Ready again after its refresh; --undo restores its certificates and the run stops before k8s-3, named; exit 1', async () => {
  for (const n of ['k8s-2', 'k8s-3']) await s.lab.fault(n, 'cert-expired', { cert: 'front-proxy-client.crt' });
  await s.lab.fault('k8s-2', 'fail-cert-refresh'); // kubelite does not come back on the new certificate
  const since = s.lab.journal().length;
  try {
    const r = await certs('--within', '30d', '--ready-timeout', '5s', '--yes');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /k8s-2: (k8s-2: )?its API server did not answer with the node Ready within 5s \(last: Ready=\w+\); its previous certificates were restored \(refresh-certs --undo\) and the run stopped before the next node/,
    );
    // The lab's truth: k8s-2 refreshed, then restored; k8s-3 never touched.
    const cert = s.lab
      .journal()
      .slice(since)
      .filter((e) => ['certs-refreshed', 'certs-restored'].includes(String(e.event)))
      .map((e) => `${e.node} ${String(e.event)}${e.cert ? ` ${String(e.cert)}` : ''}`);
    expect(cert).toEqual(['k8s-2 certs-refreshed front-proxy-client.crt', 'k8s-2 certs-restored']);
    expect((await daysOnNode('k8s-2'))['front proxy client']).toBe(-85); // its previous certificate, as before the run
    expect((await daysOnNode('k8s-3'))['front proxy client']).toBe(-85);
  } finally {
    await s.lab.heal('k8s-2');
  }
  // Fixed, the same command finishes the job.
  const again = await certs('--within', '30d', '--yes', '--json');
  expect(again.code).toBe(0);
  expect((JSON.parse(again.stdout) as RefreshCertsResult).rotated.map((x) => [x.node, x.cert, x.skipped ?? false])).toEqual([
    ['k8s-2', 'front-proxy-client.crt', false],
    ['k8s-3', 'front-proxy-client.crt', false],
  ]);
  expect((await s.cli(['check', '-i', s.lab.inventoryPath])).code).toBe(0);
}, 240_000);

test('a node that is down stops the run before anything changes, named with why; exit 1', async () => {
  await s.lab.fault('k8s-1', 'cert-expired', { cert: 'server.crt' });
  await s.lab.fault('k8s-3', 'crash');
  try {
    const since = s.lab.journal().length;
    const r = await certs('--yes');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not starting: k8s-3 does not answer \(.+\); nothing was changed/);
    expect(s.lab.journal().slice(since).filter((e) => e.event === 'certs-refreshed')).toEqual([]);
  } finally {
    await s.lab.heal('k8s-3');
  }
}, 240_000);

test('bad input: ca.crt is refused with the reason and the re-join it needs; a bad --within names the flag; exit 2', async () => {
  const ca = await certs('--cert', 'ca.crt');
  expect(ca.code).toBe(2);
  expect(ca.stderr).toMatch(/--cert: ca\.crt is shared by every control plane: .* leaves and re-joins the cluster/);
  const within = await certs('--within', 'a month');
  expect(within.code).toBe(2);
  expect(within.stderr).toMatch(/--within: "a month" is not a duration; use e\.g\. 30d \(s, m, h or d\)/);
  for (const r of [ca, within]) expect(r.stderr).not.toMatch(/started refresh-certs/);
});

test("every control plane's server.crt expired (no API answers anyone): the run is not refused, it is the cure; check is healthy after", async () => {
  for (const n of ['k8s-1', 'k8s-2', 'k8s-3']) await s.lab.fault(n, 'cert-expired', { cert: 'server.crt' });
  const byHand = await s.lab.exec('k8s-2', 'sudo microk8s kubectl get nodes');
  expect(byHand.code).toBe(1);
  expect(byHand.stdout + byHand.stderr).toMatch(/x509: certificate has expired or is not yet valid/);

  const r = await certs('--within', '30d', '--yes', '--json');
  expect(r.stderr).toMatch(/no control plane's API answers: server\.crt has expired on k8s-1, k8s-2, k8s-3; refreshing it is what brings them back/);
  expect(r.code).toBe(0);
  const result = JSON.parse(r.stdout) as RefreshCertsResult;
  expect(result.rotated.filter((x) => !x.skipped).map((x) => [x.node, x.cert])).toEqual([
    ['k8s-1', 'server.crt'],
    ['k8s-2', 'server.crt'],
    ['k8s-3', 'server.crt'],
  ]);
  for (const n of ['k8s-1', 'k8s-2', 'k8s-3']) expect((await daysOnNode(n)).server).toBe(364);
  expect((await s.cli(['check', '-i', s.lab.inventoryPath])).code).toBe(0);
}, 240_000);
