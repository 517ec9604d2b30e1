/**
 * `runbook check` end to end: the CLI as a child process, the real dev server, a real worker with the real
 * SSH pool, and a formed lab (3 control planes + 1 worker behind real sshd).
 */
import * as fs from 'fs';
import * as path from 'path';
import YAML from 'yaml';
import { Lab } from '../../lab';
import type { CheckResult } from '../../common/check';
import { useLabSuite } from '../support/e2e';

const s = useLabSuite({ lab: { name: 'check', controlPlanes: 3, workers: 1, channel: '1.28/stable', formed: true, profile: 'fast' } });

function parseReport(stdout: string): CheckResult {
  return JSON.parse(stdout) as CheckResult;
}

test('a healthy formed lab: every node reachable with sudo, versions, HA with three voters, all Ready; exit 0', async () => {
  const r = await s.cli(['check', '-i', s.lab.inventoryPath, '--json']);
  expect(r.stderr).toContain(`started check on cluster ${s.lab.inventory.cluster}: runbook-${s.lab.inventory.cluster}`);
  expect(r.stderr).toMatch(/UI: http:\/\/localhost:8233\/namespaces\/default\/workflows\/runbook-[a-z0-9-]+\/[0-9a-f-]+\/history/);
  const report = parseReport(r.stdout);
  expect(report.problems).toEqual([]);
  expect(r.code).toBe(0);
  expect(report.healthy).toBe(true);
  expect(report.nodes.map((n) => [n.node, n.reachable, n.hostKey, n.sudo])).toEqual([
    ['k8s-1', true, 'verified', 'ok'],
    ['k8s-2', true, 'verified', 'ok'],
    ['k8s-3', true, 'verified', 'ok'],
    ['k8s-w1', true, 'verified', 'ok'],
  ]);
  for (const n of report.nodes) {
    expect(n.microk8s).toMatchObject({ installed: true, channel: '1.28/stable' });
    expect(n.microk8s?.version).toMatch(/^v1\.28\./);
    expect(n.microk8s?.revision).toMatch(/^\d+$/);
    expect(Math.abs(n.clockSkewMs!)).toBeLessThan(2000);
    expect(n.disk?.availableKb).toBeGreaterThan(0);
  }
  expect(report.nodes.find((n) => n.node === 'k8s-w1')?.status?.notRunningReason).toBe('worker');
  expect(report.nodes.find((n) => n.node === 'k8s-1')?.status?.running).toBe(true);
  expect(report.clusterView.ready.sort()).toEqual(['k8s-1', 'k8s-2', 'k8s-3', 'k8s-w1']);
  expect(report.clusterView.voters).toHaveLength(3);
  expect(report.clusterView.ha).toBe(true);
  // The audit trail in the result: what ran where.
  expect(report.nodes[0].commands.map((c) => c.command).join('\n')).toMatch(/snap list microk8s/);
});

test('the table names the nodes, HA and voters', async () => {
  const r = await s.cli(['check', '-i', s.lab.inventoryPath]);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^NODE\s+ROLE\s+SSH\s+SUDO\s+VERSION/m);
  expect(r.stdout).toMatch(/^k8s-2\s+controlplane\s+ok\s+ok\s+v1\.28\./m);
  expect(r.stdout).toMatch(/^HA:\s+yes$/m);
  expect(r.stdout).toMatch(/^voters:\s+\S+:19001 \S+:19001 \S+:19001/m);
  // Node state changes are followed as plain lines.
  expect(r.stdout).toMatch(/^ {2}k8s-1: done/m);
});

test('a pinned host key that does not match is reported for that node, with both fingerprints; exit 1', async () => {
  const raw = YAML.parse(fs.readFileSync(s.lab.inventoryPath, 'utf8')) as { nodes: Array<Record<string, unknown>> };
  const wrong = `SHA256:${'A'.repeat(43)}`;
  raw.nodes[1].hostKey = wrong;
  const file = path.join(s.stateDir, 'pinned-wrong.yaml');
  fs.writeFileSync(file, YAML.stringify(raw));
  const r = await s.cli(['check', '-i', file, '--json']);
  expect(r.code).toBe(1);
  const report = parseReport(r.stdout);
  const k8s2 = report.nodes.find((n) => n.node === 'k8s-2')!;
  expect(k8s2).toMatchObject({ reachable: false, hostKey: 'mismatch' });
  expect(k8s2.sshError).toContain(wrong);
  expect(report.problems.some((p) => p.startsWith('k8s-2: '))).toBe(true);
  expect(report.nodes.filter((n) => n.reachable).map((n) => n.node)).toEqual(['k8s-1', 'k8s-3', 'k8s-w1']);
});

test('bad inventory: exit 2 naming file, path and fix, and nothing starts', async () => {
  const file = path.join(s.stateDir, 'bad.yaml');
  fs.writeFileSync(file, 'cluster: prod\nnodes:\n  - name: a\n    address: 10.0.0.300\n    colour: red\n');
  const r = await s.cli(['check', '-i', file]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain(`${file}: nodes[0].address: "10.0.0.300" is not an IPv4 address`);
  expect(r.stderr).toContain(`${file}: nodes[0]: unknown key "colour"`);
  const started = await s.env.client.workflow.count(`RunbookCluster = 'prod'`);
  expect(started.count).toBe(0);
});

test('a crashed node is reported unreachable while the others are checked; exit 1', async () => {
  await s.lab.fault('k8s-3', 'crash');
  try {
    const r = await s.cli(['check', '-i', s.lab.inventoryPath, '--json']);
    expect(r.code).toBe(1);
    const report = parseReport(r.stdout);
    expect(report.healthy).toBe(false);
    expect(report.nodes.find((n) => n.node === 'k8s-3')).toMatchObject({ reachable: false, hostKey: 'unreachable' });
    expect(report.nodes.filter((n) => n.reachable).map((n) => n.node)).toEqual(['k8s-1', 'k8s-2', 'k8s-w1']);
    expect(report.problems.some((p) => p.startsWith('k8s-3: '))).toBe(true);
  } finally {
    await s.lab.heal('k8s-3');
  }
});

test('a node left cordoned is reported with the fix; exit 1', async () => {
  const cordon = await s.lab.exec('k8s-1', 'sudo -n microk8s kubectl cordon k8s-2');
  expect(cordon.code).toBe(0);
  try {
    const r = await s.cli(['check', '-i', s.lab.inventoryPath, '--json']);
    const report = parseReport(r.stdout);
    expect([r.code, report.healthy]).toEqual([1, false]);
    expect(report.problems).toEqual(['cluster: cordoned: k8s-2; uncordon when their maintenance is over (microk8s kubectl uncordon k8s-2)']);
  } finally {
    await s.lab.exec('k8s-1', 'sudo -n microk8s kubectl uncordon k8s-2');
  }
});

test('freshly installed nodes (each a cluster of its own) pass the pre-flight, reported as not formed yet; exit 0', async () => {
  const alone = await Lab.up({ name: `checkalone${process.pid % 100000}`, controlPlanes: 2, workers: 1, channel: '1.28/stable', profile: 'fast', stateDir: s.stateDir });
  try {
    const r = await s.cli(['check', '-i', alone.inventoryPath, '--json']);
    const report = parseReport(r.stdout);
    expect([r.code, report.healthy, report.formed, report.problems]).toEqual([0, true, false, []]);
    expect(r.stderr).toMatch(/not formed yet: k8s-1, k8s-2, k8s-w1 are nodes of their own; runbook form joins them/);
    const table = await s.cli(['check', '-i', alone.inventoryPath]);
    expect(table.stdout).toMatch(/^cluster \S+: pre-flight passed; not formed yet \(runbook form joins the nodes\)$/m);
  } finally {
    await alone.down();
  }
});

test('a node missing from a formed cluster is a problem, named with the fix; exit 1 (last: it deletes a Node)', async () => {
  const del = await s.lab.exec('k8s-1', 'sudo -n microk8s kubectl delete node k8s-w1');
  expect(del.code).toBe(0);
  const r = await s.cli(['check', '-i', s.lab.inventoryPath, '--json']);
  const report = parseReport(r.stdout);
  expect([r.code, report.healthy, report.formed]).toEqual([1, false, true]);
  expect(report.problems).toContain('cluster: not in the cluster seen from k8s-1: k8s-w1; join them (runbook form)');
});
