/**
 * `runbook refresh-certs --ca` end to end: the CLI as a child process, the real dev server, a real worker and a
 * formed lab (3 control planes, 1 worker) behind real sshd. The lab keeps each node's ca.crt as a real file: a new
 * CA is a new file on the node that made it, a join copies the joined node's file (§11, join.py), and a node not
 * re-joined after a CA change is marked `needsRejoin`. The judge is the files themselves, hashed independently.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { CheckResult } from '../../common/check';
import type { RefreshCertsResult } from '../../common/certs';
import { useLabSuite } from '../support/e2e';

const s = useLabSuite({ lab: { name: 'rotca', controlPlanes: 3, workers: 1, channel: '1.28/stable', formed: true, profile: 'fast' } });
const NODES = ['k8s-1', 'k8s-2', 'k8s-3', 'k8s-w1'];

const rotate = (...args: string[]) => s.cli(['refresh-certs', '-i', s.lab.inventoryPath, '--ca', ...args], { timeoutMs: 280_000 });

/** Each node's ca.crt, hashed from the lab's files (not through the engine). */
function caOf(node: string): string {
  return createHash('sha256')
    .update(fs.readFileSync(path.join(s.lab.dir, 'nodes', node, 'root/var/snap/microk8s/current/certs/ca.crt')))
    .digest('hex');
}

const caRefreshes = (since: number) =>
  s.lab
    .journal()
    .slice(since)
    .filter((e) => e.event === 'certs-refreshed' && e.cert === 'ca.crt')
    .map((e) => e.node);

async function expectOneCaAndHealthy(): Promise<string> {
  const cas = NODES.map(caOf);
  expect(new Set(cas).size).toBe(1);
  const st = await s.lab.status();
  expect(st.nodes.filter((n) => n.needsRejoin).map((n) => n.name)).toEqual([]);
  const check = await s.cli(['check', '-i', s.lab.inventoryPath, '--json']);
  expect(check.code).toBe(0);
  const report = JSON.parse(check.stdout) as CheckResult;
  expect(report.clusterView.voters).toHaveLength(3);
  expect(report.clusterView.ha).toBe(true);
  expect(report.clusterView.ready.sort()).toEqual(NODES);
  return cas[0];
}

test('--ca: the plan names the anchor and every re-join and changes nothing; the run makes one new CA on the anchor and re-joins the others through it', async () => {
  const start = NODES.map(caOf);
  expect(new Set(start).size).toBe(1);

  const plan = await rotate('--plan', '--json');
  expect(plan.code).toBe(0);
  const planned = JSON.parse(plan.stdout) as RefreshCertsResult;
  expect(planned.plan.slice(0, 4)).toEqual([
    expect.stringMatching(/^k8s-1: sudo microk8s refresh-certs --cert ca\.crt \(a new CA/),
    expect.stringMatching(/^k8s-2: re-join through k8s-1 .* join as a control plane; .*\(two voters while it is out: no high availability for that time\)$/),
    expect.stringMatching(/^k8s-3: re-join through k8s-1 /),
    expect.stringMatching(/^k8s-w1: re-join through k8s-1 .* join as a worker; /),
  ]);
  expect(NODES.map(caOf)).toEqual(start); // --plan changed nothing

  const since = s.lab.journal().length;
  const r = await rotate('--yes', '--json');
  expect(r.code).toBe(0);
  const result = JSON.parse(r.stdout) as RefreshCertsResult;
  expect(result.ca).toMatchObject({ anchor: 'k8s-1', resumed: false, rejoined: ['k8s-2', 'k8s-3', 'k8s-w1'], alreadyOnNewCa: [] });
  expect(caRefreshes(since)).toEqual(['k8s-1']); // one new CA, on the anchor only
  const now = await expectOneCaAndHealthy();
  expect(now).not.toBe(start[0]);
  expect(result.ca!.fingerprint).toBe(now);
  // Control planes one at a time, then the worker: each left before it joined again.
  const order = s.lab
    .journal()
    .slice(since)
    .filter((e) => e.event === 'left' || e.event === 'joined')
    .map((e) => `${e.event} ${e.node}`);
  expect(order).toEqual(['left k8s-2', 'joined k8s-2', 'left k8s-3', 'joined k8s-3', 'left k8s-w1', 'joined k8s-w1']);
}, 300_000);

test('a CA made by hand on the anchor (an interrupted rotation): --ca keeps it, says so, and only re-joins the others', async () => {
  // What a person does first, over ssh: the new CA on k8s-1; the others are left on the old one.
  const byHand = await s.lab.exec('k8s-1', 'sudo microk8s refresh-certs --cert ca.crt');
  expect(byHand.code).toBe(0);
  expect(byHand.stdout).toMatch(/Any worker nodes you may have in your cluster need to be removed and re-joined/);
  const st = await s.lab.status();
  expect(st.nodes.filter((n) => n.needsRejoin).map((n) => n.name)).toEqual(['k8s-2', 'k8s-3', 'k8s-w1']);
  const made = caOf('k8s-1');

  const since = s.lab.journal().length;
  const r = await rotate('--yes', '--json');
  expect(r.code).toBe(0);
  const result = JSON.parse(r.stdout) as RefreshCertsResult;
  expect(result.plan[0]).toMatch(/^k8s-1: already has a CA the other nodes do not .* it is kept, not made again$/);
  expect(result.ca).toMatchObject({ anchor: 'k8s-1', resumed: true, rejoined: ['k8s-2', 'k8s-3', 'k8s-w1'] });
  expect(caRefreshes(since)).toEqual([]);
  expect(await expectOneCaAndHealthy()).toBe(made);

  // A second run finds one CA everywhere: it is a new rotation, and says so in its plan.
  const again = await rotate('--plan', '--json');
  expect((JSON.parse(again.stdout) as RefreshCertsResult).plan[0]).toMatch(/^k8s-1: sudo microk8s refresh-certs --cert ca\.crt/);
}, 300_000);

test('bad input: --ca with another certificate or --within names the flag; ca.crt without --ca names --ca; exit 2, nothing starts', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['--cert', 'server.crt'], /^--cert: --ca rotates the CA only; refresh server\.crt in a run of its own, without --ca/m],
    [['--within', '30d'], /^--within: --ca rotates the CA whatever its expiry; leave --within out/m],
  ];
  for (const [args, message] of cases) {
    const r = await rotate(...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/started refresh-certs/);
  }
  const noCa = await s.cli(['refresh-certs', '-i', s.lab.inventoryPath, '--cert', 'ca.crt']);
  expect(noCa.code).toBe(2);
  expect(noCa.stderr).toMatch(/Add --ca for that plan/);
});
