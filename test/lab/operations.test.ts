/**
 * Upgrade-runbook surface on a formed HA lab (3 control planes + 1 worker, fast profile), over real SSH:
 * drain/cordon texts and the PodDisruptionBudget block, snap refresh/revert/hold, faults, quorum loss.
 */
import { nodePaths } from '../../common/inventory';
import { execEach, useLab, waitFor } from '../support/lab';

const lab = useLab({ controlPlanes: 3, workers: 1, formed: true });
const sh = (node: string, cmd: string) => lab().exec(node, cmd);
const spec = (node: string) => lab().inventory.nodes.find((n) => n.name === node)!;
const mk = (node: string) => `sudo -n ${nodePaths(spec(node)).microk8s}`;
const kubectl = (node: string, args: string) => sh(node, `${mk(node)} kubectl ${args}`);
const nodeStatus = async (name: string) => (await lab().status()).nodes.find((n) => n.name === name)!;

describe('lab operations on a formed cluster', () => {
  it('starts formed: HA with three voters, dqlite .cluster in tabular and json', async () => {
    const st = await lab().status();
    expect(st.cluster).toMatchObject({ voters: ['k8s-1', 'k8s-2', 'k8s-3'], ha: true, quorum: true, leader: 'k8s-1' });
    const dq = `sudo -n ${nodePaths(spec('k8s-2')).dqlite} -s file://${nodePaths(spec('k8s-2')).clusterYaml} -c ${nodePaths(spec('k8s-2')).clusterCrt} -k ${nodePaths(spec('k8s-2')).clusterKey}`;
    const tab = await sh('k8s-2', `${dq} k8s .cluster`);
    expect(tab.stdout.trim().split('\n')).toEqual([
      `2dc171858c3155be|${spec('k8s-1').address}:19001|voter`,
      expect.stringMatching(new RegExp(`^[0-9a-f]+\\|${spec('k8s-2').address}:19001\\|voter$`)),
      expect.stringMatching(new RegExp(`^[0-9a-f]+\\|${spec('k8s-3').address}:19001\\|voter$`)),
    ]);
    const json = await sh('k8s-2', `${dq} -f json k8s .cluster`);
    expect(json.stdout).toMatch(/^\[\n\t\{\n\t\t"ID": 3297041220608546238,\n\t\t"Address": "[\d.]+:19001",\n\t\t"Role": 0\n\t\},/);
    expect((await sh('k8s-2', `${dq} k8s .leader`)).stdout).toBe(`${spec('k8s-1').address}:19001\n`);
    // The command must be ONE argv string; .reconfigure refuses a running node's data directory.
    const b = nodePaths(spec('k8s-2')).backend;
    const [split, running] = await execEach(lab(), 'k8s-2', [`${dq} k8s .remove 10.0.0.9:19001`, `${dq} k8s ".reconfigure ${b}/ ${b}/cluster.yaml"`]);
    expect(split.code).toBe(1);
    expect(split.stderr).toMatch(/^Error: accepts between 1 and 2 arg\(s\), received 3\nUsage:\n  dqlite -s <servers> <database> \[command\] \[flags\]\n/);
    expect(running.code).toBe(1);
    expect(running.stderr).toMatch(/^Error: failed to reconfigure membership :/);
  });

  it('get pods --field-selector filters as the API server does (spec.nodeName, !=, commas); an unknown field is refused', async () => {
    const all = JSON.parse((await kubectl('k8s-1', 'get pods -A -o json')).stdout).items as Array<{ metadata: { name: string; namespace: string }; spec: { nodeName?: string } }>;
    const on = (n: string) => all.filter((p) => p.spec.nodeName === n).map((p) => p.metadata.name).sort();
    const names = (out: string) => (JSON.parse(out).items as Array<{ metadata: { name: string } }>).map((p) => p.metadata.name).sort();
    expect(on('k8s-2').length).toBeGreaterThan(0);
    expect(on('k8s-2').length).toBeLessThan(all.length);
    const [one, other, both, eq] = await Promise.all([
      kubectl('k8s-1', 'get pods -A --field-selector spec.nodeName=k8s-2 -o json'),
      kubectl('k8s-1', 'get pods -A --field-selector=spec.nodeName!=k8s-2 -o json'),
      kubectl('k8s-1', 'get pods -A --field-selector spec.nodeName=k8s-2,metadata.namespace=kube-system -o json'),
      kubectl('k8s-1', 'get pods -A --field-selector spec.nodeName==k8s-2 -o json'),
    ]);
    expect(names(one.stdout)).toEqual(on('k8s-2'));
    expect(names(eq.stdout)).toEqual(on('k8s-2'));
    expect(names(other.stdout)).toEqual(all.filter((p) => p.spec.nodeName !== 'k8s-2').map((p) => p.metadata.name).sort());
    expect(names(both.stdout)).toEqual(all.filter((p) => p.spec.nodeName === 'k8s-2' && p.metadata.namespace === 'kube-system').map((p) => p.metadata.name).sort());
    const bad = await kubectl('k8s-1', 'get pods -A --field-selector spec.host=k8s-2');
    expect([bad.code, bad.stderr]).toEqual([1, 'Error from server (BadRequest): Unable to find "/v1, Resource=pods" that match label selector "", field selector "spec.host=k8s-2": field label not supported: spec.host\n']);
  });

  it('drain evicts onto other nodes, leaves the node Ready,SchedulingDisabled; uncordon texts', async () => {
    const r = await kubectl('k8s-1', 'drain k8s-1 --ignore-daemonsets --delete-emptydir-data --timeout=30s');
    expect(r.code).toBe(0);
    const out = r.stdout.trim().split('\n');
    expect(out[0]).toBe('node/k8s-1 cordoned');
    expect(out.filter((l) => l.startsWith('evicting pod '))).not.toHaveLength(0);
    expect(out.filter((l) => /^pod\/\S+ evicted$/.test(l))).toHaveLength(out.filter((l) => l.startsWith('evicting pod ')).length);
    expect(out[out.length - 1]).toBe('node/k8s-1 drained');
    expect(r.stderr).toMatch(/^Warning: ignoring DaemonSet-managed Pods: kube-system\/calico-node-\w+\n$/);
    const nodes = (await kubectl('k8s-2', 'get nodes')).stdout;
    expect(nodes).toMatch(/\nk8s-1\s+Ready,SchedulingDisabled\s+<none>\s+\S+\s+v1\.28\.\d+\n/);
    const pods = (await kubectl('k8s-2', 'get pods -A -o wide')).stdout.split('\n').filter((l) => /\sk8s-1\s/.test(l));
    expect(pods.every((l) => l.includes('calico-node-'))).toBe(true);
    expect((await kubectl('k8s-1', 'uncordon k8s-1')).stdout).toBe('node/k8s-1 uncordoned\n');
    expect((await kubectl('k8s-1', 'uncordon k8s-1')).stdout).toBe('node/k8s-1 already uncordoned\n');
    const k = mk('k8s-2');
    const cordons = await execEach(lab(), 'k8s-2', [`${k} kubectl cordon k8s-3`, `${k} kubectl cordon k8s-3`, `${k} kubectl uncordon k8s-3`, `${k} kubectl cordon ghost`]);
    expect(cordons.map((r) => [r.code, r.stdout, r.stderr])).toEqual([
      [0, 'node/k8s-3 cordoned\n', ''],
      [0, 'node/k8s-3 already cordoned\n', ''],
      [0, 'node/k8s-3 uncordoned\n', ''],
      [1, '', 'Error from server (NotFound): nodes "ghost" not found\n'],
    ]);
  });

  it('drain without --ignore-daemonsets refuses and leaves the node cordoned', async () => {
    const r = await kubectl('k8s-1', 'drain k8s-w1');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: unable to drain node "k8s-w1" due to error: cannot delete DaemonSet-managed Pods \(use --ignore-daemonsets to ignore\): kube-system\/calico-node-\w+, continuing command\.\.\.\nThere are pending nodes to be drained:\n k8s-w1\n/);
    expect((await nodeStatus('k8s-w1')).cordoned).toBe(true);
    await kubectl('k8s-1', 'uncordon k8s-w1');
  });

  it('drain blocked by a PodDisruptionBudget retries, then times out with exit 1 and the node cordoned', async () => {
    await lab().fault('k8s-2', 'pdb-block');
    const r = await kubectl('k8s-1', 'drain k8s-2 --ignore-daemonsets --timeout=1s');
    expect(r.code).toBe(1);
    const pod = /evicting pod default\/(critical-\S+)/.exec(r.stdout)![1];
    expect(r.stderr).toContain(`error when evicting pods/"${pod}" -n "default" (will retry after 5s): Cannot evict pod as it would violate the pod's disruption budget.\n`);
    expect(r.stderr.match(/will retry after 5s/g)!.length).toBeGreaterThan(1);
    expect(r.stderr).toContain(`error when evicting pods/"${pod}" -n "default": global timeout reached: 1s\n`);
    expect(r.stderr).toContain(`There are pending pods in node "k8s-2" when an error occurred:`);
    expect(r.stderr).toContain(`\npod/${pod}\n`);
    expect(r.stderr).toContain('There are pending nodes to be drained:\n k8s-2\n');
    expect((await nodeStatus('k8s-2')).cordoned).toBe(true);
    expect(lab().journal().some((e) => e.event === 'drain-blocked' && e.node === 'k8s-2')).toBe(true);
    await lab().heal('k8s-2');
    expect((await kubectl('k8s-1', 'drain k8s-2 --ignore-daemonsets --timeout=5s')).code).toBe(0);
    await kubectl('k8s-1', 'uncordon k8s-2');
  });

  it('snap refresh moves to the latest patch, then a new track; revert restores version and data', async () => {
    const before = await nodeStatus('k8s-3');
    const list0 = (await sh('k8s-3', 'snap list microk8s')).stdout.split('\n');
    expect(list0[0]).toMatch(/^Name\s+Version\s+Rev\s+Tracking\s+Publisher\s+Notes$/);
    expect(list0[1].split(/\s+/)).toEqual(['microk8s', before.version, String(before.revision), '1.28/stable', 'canonical✓', 'classic']);
    const patch = await sh('k8s-3', 'sudo -n snap refresh microk8s');
    expect(patch.stdout).toMatch(/^microk8s \(1\.28\/stable\) v1\.28\.\d+ from Canonical✓ refreshed\n$/);
    expect((await sh('k8s-3', 'sudo snap refresh microk8s')).stdout).toBe('snap "microk8s" has no updates available\n');
    const patched = await nodeStatus('k8s-3');
    expect(patched.revision).toBeGreaterThan(before.revision);
    // Data written after refreshing to 1.29 must disappear on revert: $SNAP_DATA is per revision.
    const minor = await sh('k8s-3', 'sudo -n snap refresh microk8s --channel=1.29/stable');
    expect(minor.stdout).toMatch(/^microk8s \(1\.29\/stable\) v1\.29\.\d+ from Canonical✓ refreshed\n$/);
    await sh('k8s-3', `echo written-on-1.29 > ${nodePaths(spec('k8s-3')).snapData}/args/marker`);
    await waitFor('k8s-3 Ready on 1.29', async () => (await nodeStatus('k8s-3')).ready);
    expect((await sh('k8s-3', 'snap info microk8s')).stdout).toMatch(/\ntracking: +1\.29\/stable\n[\s\S]*\ninstalled: +v1\.29\.\d+ +\(\d+\) 172MB classic\n$/);
    expect((await kubectl('k8s-1', 'get nodes')).stdout).toMatch(/\nk8s-3\s+Ready\s+<none>\s+\S+\s+v1\.29\.\d+\n/);
    const rev = await sh('k8s-3', 'sudo -n snap revert microk8s');
    expect(rev.stdout).toBe(`microk8s reverted to ${patched.version}\n`);
    expect((await sh('k8s-3', `cat ${nodePaths(spec('k8s-3')).snapData}/args/marker`)).code).not.toBe(0);
    expect((await sh('k8s-3', `${mk('k8s-3')} version`)).stdout).toBe(`MicroK8s ${patched.version} revision ${patched.revision}\n`);
    const all = (await sh('k8s-3', 'snap list --all microk8s')).stdout;
    expect(all).toMatch(/\nmicrok8s\s+v1\.29\.\d+\s+\d+\s+-\s+canonical✓\s+disabled,classic\n/);
    const events = lab().journal().filter((e) => e.node === 'k8s-3' && e.event);
    expect(events.map((e) => e.event)).toEqual(expect.arrayContaining(['out-of-service', 'refreshed', 'reverted']));
    await waitFor('k8s-3 Ready after revert', async () => (await nodeStatus('k8s-3')).ready);
    // Refreshing again to the revision reverted from copies the data afresh (the demo's second upgrade).
    expect((await sh('k8s-3', 'sudo -n snap refresh microk8s --channel=1.29/stable')).code).toBe(0);
    expect((await sh('k8s-3', `ls ${nodePaths(spec('k8s-3')).snapData}/certs/server.crt`)).code).toBe(0);
    expect((await sh('k8s-3', `cat ${nodePaths(spec('k8s-3')).snapData}/args/marker`)).code).not.toBe(0);
    await waitFor('k8s-3 Ready on 1.29 again', async () => (await nodeStatus('k8s-3')).ready);
    expect((await sh('k8s-3', `${mk('k8s-3')} refresh-certs --cert front-proxy-client.crt`)).code).toBe(0);
    await waitFor('k8s-3 Ready after its certificate refresh', async () => (await nodeStatus('k8s-3')).ready);
    expect((await sh('k8s-3', 'sudo -n snap revert microk8s')).code).toBe(0);
    await waitFor('k8s-3 Ready after the second revert', async () => (await nodeStatus('k8s-3')).ready);
  });

  it('holds stop unattended refreshes; unheld nodes get the latest patch', async () => {
    expect((await sh('k8s-2', 'sudo -n snap refresh --hold microk8s')).stdout).toBe('General refreshes of "microk8s" held indefinitely\n');
    expect((await sh('k8s-2', 'snap list microk8s')).stdout).toContain('classic,held');
    const v = (await nodeStatus('k8s-2')).version;
    await lab().fault('k8s-2', 'auto-refresh');
    expect((await nodeStatus('k8s-2')).version).toBe(v);
    expect(lab().journal().some((e) => e.event === 'auto-refresh-held' && e.node === 'k8s-2')).toBe(true);
    expect((await sh('k8s-2', 'sudo -n snap refresh --unhold microk8s')).stdout).toBe('Removed general refresh hold of "microk8s"\n');
    await lab().fault('k8s-w1', 'auto-refresh');
    const w = await nodeStatus('k8s-w1');
    expect(w.version).not.toBe(v);
    expect(lab().journal().some((e) => e.event === 'refreshed' && e.node === 'k8s-w1' && e.auto === true)).toBe(true);
  });

  it('fail-upgrade keeps the node NotReady after a refresh to that minor until it is reverted; kubectl wait', async () => {
    await lab().fault('k8s-w1', 'fail-upgrade', { to: '1.29' });
    await sh('k8s-w1', 'sudo -n snap refresh microk8s --channel 1.29/stable');
    await new Promise((r) => setTimeout(r, lab().timing().restartMs * 2));
    expect((await nodeStatus('k8s-w1')).ready).toBe(false);
    expect((await kubectl('k8s-1', 'get nodes')).stdout).toMatch(/\nk8s-w1\s+NotReady\s/);
    const timedOut = await kubectl('k8s-1', 'wait --for=condition=Ready node/k8s-w1 --timeout=1s');
    expect([timedOut.code, timedOut.stdout, timedOut.stderr]).toEqual([1, '', 'error: timed out waiting for the condition on nodes/k8s-w1\n']);
    // A wait started before the revert returns as the node turns Ready (the revert's restart), with the object.
    const waiting = kubectl('k8s-1', 'wait --for=condition=Ready node/k8s-w1 --timeout=60s -o json');
    await new Promise((r) => setTimeout(r, 300));
    await sh('k8s-w1', 'sudo -n snap revert microk8s');
    const met = await waiting;
    expect(met.code).toBe(0);
    const obj = JSON.parse(met.stdout);
    expect(obj).toMatchObject({ kind: 'Node', metadata: { name: 'k8s-w1' } });
    expect(obj.status.conditions.find((c: { type: string }) => c.type === 'Ready').status).toBe('True');
    expect(obj.status.nodeInfo.kubeletVersion).toMatch(/^v1\.28\./);
    expect((await nodeStatus('k8s-w1')).ready).toBe(true);
    expect(await kubectl('k8s-2', 'wait --for=condition=Ready nodes k8s-w1')).toMatchObject({ code: 0, stdout: 'node/k8s-w1 condition met\n' });
    expect(await kubectl('k8s-2', 'wait --for=condition=Ready node/ghost')).toMatchObject({ code: 1, stderr: 'Error from server (NotFound): nodes "ghost" not found\n' });
  });

  it('fail-cert-refresh: the refresh exits 0 but the node stays NotReady until refresh-certs --undo; the fault stays until heal', async () => {
    await lab().fault('k8s-2', 'fail-cert-refresh');
    const since = lab().journal().length;
    const refresh = await sh('k8s-2', `${mk('k8s-2')} refresh-certs -e front-proxy-client.crt`);
    expect(refresh.code).toBe(0);
    expect(refresh.stdout).toMatch(/Restarting service kubelite\.\n$/);
    const certEvents = () => lab().journal().slice(since).filter((e) => String(e.event).startsWith('cert')).map((e) => `${e.node} ${e.event}`);
    expect(certEvents()).toEqual(['k8s-2 certs-refreshed', 'k8s-2 cert-refresh-failed']);
    // Well past the restart (60 ms), it is still not Ready.
    const timedOut = await kubectl('k8s-1', 'wait --for=condition=Ready node/k8s-2 --timeout=1s');
    expect([timedOut.code, timedOut.stderr]).toEqual([1, 'error: timed out waiting for the condition on nodes/k8s-2\n']);
    expect((await nodeStatus('k8s-2')).ready).toBe(false);
    const undo = await sh('k8s-2', `${mk('k8s-2')} refresh-certs --undo`);
    expect([undo.code, undo.stdout]).toEqual([0, 'Restarting, please wait.\n']);
    expect(certEvents().slice(2)).toEqual(['k8s-2 certs-restored']);
    expect(await kubectl('k8s-1', 'wait --for=condition=Ready node/k8s-2 --timeout=30s')).toMatchObject({ code: 0, stdout: 'node/k8s-2 condition met\n' });
    // Not used up: the next refresh fails the same way; heal clears it.
    expect((await sh('k8s-2', `${mk('k8s-2')} refresh-certs -e server.crt`)).code).toBe(0);
    expect((await kubectl('k8s-1', 'wait --for=condition=Ready node/k8s-2 --timeout=1s')).code).toBe(1);
    await lab().heal('k8s-2');
    expect(await kubectl('k8s-1', 'wait --for=condition=Ready node/k8s-2 --timeout=30s')).toMatchObject({ code: 0 });
    // A refresh on a node without the fault comes back.
    expect((await sh('k8s-3', `${mk('k8s-3')} refresh-certs -e front-proxy-client.crt`)).code).toBe(0);
    expect(await kubectl('k8s-1', 'wait --for=condition=Ready node/k8s-3 --timeout=30s')).toMatchObject({ code: 0 });
  });

  it('drop-ssh cuts the connection mid-command; the command still took effect', async () => {
    await lab().fault('k8s-1', 'drop-ssh');
    const r = await kubectl('k8s-1', 'cordon k8s-w1');
    expect(r.code).toBe(255);
    expect((await nodeStatus('k8s-w1')).cordoned).toBe(true);
    expect(lab().journal().some((e) => e.dropped === 'after' && e.node === 'k8s-1')).toBe(true);
    expect((await kubectl('k8s-1', 'uncordon k8s-w1')).code).toBe(0);
  });

  it('slow --when after: the command acts first, then waits before it exits', async () => {
    await lab().fault('k8s-1', 'slow', { ms: 3_000, when: 'after' });
    try {
      const since = lab().journal().length;
      const cordons = () => lab().journal().slice(since).filter((e) => e.argv?.includes('cordon'));
      const running = sh('k8s-1', `${mk('k8s-1')} kubectl cordon k8s-w1`);
      await waitFor('k8s-w1 cordoned', async () => (await nodeStatus('k8s-w1')).cordoned);
      expect(cordons()).toEqual([]); // acted, not exited yet
      expect((await running).code).toBe(0);
      expect(cordons()).toEqual([expect.objectContaining({ node: 'k8s-1', exit: 0, simMs: 3_000 })]);
    } finally {
      await lab().heal('k8s-1');
    }
    expect((await kubectl('k8s-1', 'uncordon k8s-w1')).code).toBe(0);
  });

  it('crash ends live sessions; two crashed voters lose quorum; heal restores it', async () => {
    const long = sh('k8s-2', 'sleep 30; echo finished');
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    await lab().fault('k8s-2', 'crash');
    const ended = await long;
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(ended.stdout).not.toContain('finished');
    await lab().fault('k8s-3', 'crash');
    const st = await lab().status();
    expect(st.cluster).toMatchObject({ quorum: false, available: false, leader: null });
    const status = await sh('k8s-1', `${mk('k8s-1')} status`);
    expect([status.code, status.stdout]).toEqual([1, 'microk8s is not running. Use microk8s inspect for a deeper inspection.\n']);
    const yaml = await sh('k8s-1', `${mk('k8s-1')} status --format yaml`);
    expect([yaml.code, yaml.stdout]).toEqual([
      1,
      'microk8s:\n  running: False\nhigh-availability:\n  enabled: False\n  nodes:\n  message: microk8s is not running. Use microk8s inspect for a deeper inspection.\n',
    ]);
    const nodes = await kubectl('k8s-1', 'get nodes');
    expect([nodes.code, nodes.stderr]).toEqual([1, 'The connection to the server 127.0.0.1:16443 was refused - did you specify the right host or port?\n']);
    const dq = await sh('k8s-1', `sudo -n ${nodePaths(spec('k8s-1')).dqlite} -s file://${nodePaths(spec('k8s-1')).clusterYaml} k8s .cluster`);
    expect([dq.code, dq.stderr]).toEqual([1, 'Error: no available dqlite leader server found\n']);
    expect(lab().journal().some((e) => e.event === 'quorum-lost')).toBe(true);
    await lab().heal();
    await waitFor('quorum back', async () => (await lab().status()).cluster.available);
    expect((await sh('k8s-2', `${mk('k8s-2')} status --wait-ready --timeout 10`)).code).toBe(0);
  });
});
