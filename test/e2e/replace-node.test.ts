/**
 * `runbook replace-node` end to end: the CLI as a child process, the real dev server, a real worker and a formed lab
 * behind real sshd. Hosts die (`lab fault … destroy`) and are rebuilt at the same address (`lab rebuild`: a fresh
 * machine, new host key and boot id), which is §13's trap: the old dqlite member refuses the rebuilt host's join
 * (`already known to dqlite`) until the runbook removes it.
 */
import type { ReplaceNodeResult } from '../../common/replace-node';
import { useLabSuite } from '../support/e2e';

const s = useLabSuite({ lab: { name: 'replace', controlPlanes: 3, workers: 1, channel: '1.28/stable', formed: true, profile: 'fast' } });

const replace = (...args: string[]) => s.cli(['replace-node', '-i', s.lab.inventoryPath, ...args]);
const node = async (name: string) => (await s.lab.status()).nodes.find((n) => n.name === name)!;

test('a dead control plane rebuilt at the same address: its old member goes (remove-node --force), it joins again as a voter, HA is back', async () => {
  await s.lab.fault('k8s-3', 'destroy');
  await s.lab.rebuild('k8s-3');
  // By hand, the rebuilt host's join is refused: the old member at its address is still in dqlite (§13).
  const join = (await s.lab.exec('k8s-1', 'sudo microk8s add-node --format short --token-ttl 600')).stdout.trim().split('\n')[0]; // microk8s join <ip>:25000/<token>/<hash>
  const refused = await s.lab.exec('k8s-3', `sudo ${join}`);
  expect(refused.code).not.toBe(0);
  expect(`${refused.stdout}${refused.stderr}`).toMatch(/already known to dqlite/);

  const plan = await replace('--node', 'k8s-3', '--plan', '--json');
  expect(plan.code).toBe(0);
  expect((JSON.parse(plan.stdout) as ReplaceNodeResult).plan[0]).toMatch(/^k8s-3 \(rebuilt: it answers, but as a fresh machine\): microk8s remove-node k8s-3 --force on k8s-[12]/);

  const r = await replace('--node', 'k8s-3', '--yes', '--json');
  expect(r.code).toBe(0);
  const result = JSON.parse(r.stdout) as ReplaceNodeResult;
  expect(result).toMatchObject({ removal: 'force', joined: ['k8s-3'], voters: 3, ha: true });
  expect(await node('k8s-3')).toMatchObject({ ready: true, joinedAs: 'controlplane', dqlite: expect.objectContaining({ role: 'voter' }) });
  expect((await s.cli(['check', '-i', s.lab.inventoryPath])).code).toBe(0);

  // Run again: nothing left to do, nothing changed.
  const since = s.lab.journal().length;
  const again = await replace('--node', 'k8s-3', '--yes', '--json');
  expect(again.code).toBe(0);
  expect(s.lab.journal().slice(since).filter((e) => ['removed', 'joined'].includes(String(e.event)))).toEqual([]);
}, 300_000);

test('a dead worker rebuilt in place joins again as a worker', async () => {
  await s.lab.fault('k8s-w1', 'destroy');
  await s.lab.rebuild('k8s-w1');
  const r = await replace('--node', 'k8s-w1', '--yes', '--json');
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject({ removal: 'force', joined: ['k8s-w1'] });
  expect(await node('k8s-w1')).toMatchObject({ ready: true, joinedAs: 'worker' });
}, 300_000);

test('a replacement that does not answer is refused before anything changes; bad input names the flag, exit 2', async () => {
  await s.lab.fault('k8s-w1', 'crash');
  try {
    const since = s.lab.journal().length;
    const r = await replace('--node', 'k8s-w1', '--yes');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot replace k8s-w1; nothing was changed:[\s\S]*k8s-w1 does not answer over SSH/);
    expect(s.lab.journal().slice(since).filter((e) => ['removed', 'node-deleted', 'dqlite-removed'].includes(String(e.event)))).toEqual([]);
  } finally {
    await s.lab.heal('k8s-w1');
  }
  // A machine rebuilt on another minor than the cluster's is refused before anything changes (#3694).
  await s.lab.fault('k8s-w1', 'destroy');
  await s.lab.rebuild('k8s-w1', { channel: '1.29/stable' });
  const wrong = await replace('--node', 'k8s-w1', '--yes');
  expect(wrong.code).toBe(1);
  expect(wrong.stderr).toMatch(/k8s-w1 runs MicroK8s v1\.29\.\S+ \(1\.29\/stable\), the cluster v1\.28\.\S+: install it from the cluster's channel first/);
  await s.lab.rebuild('k8s-w1', { channel: '1.28/stable' });
  expect((await replace('--node', 'k8s-w1', '--yes')).code).toBe(0);

  const cases: Array<[string[], RegExp]> = [
    [['--node', 'k8s-9'], /--node k8s-9: not in .*\(nodes: k8s-1, k8s-2, k8s-3, k8s-w1\)/],
    [['--node', 'k8s-3', '--with', 'k8s-w1'], /--with k8s-w1: is a worker, k8s-3 a controlplane; a replacement takes the same role/],
    [['--node', 'K8S 3'], /--node: must be a node name from the inventory/],
  ];
  for (const [args, message] of cases) {
    const b = await replace(...args);
    expect({ args, code: b.code }).toEqual({ args, code: 2 });
    expect(b.stderr).toMatch(message);
  }
}, 180_000);
