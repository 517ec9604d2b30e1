/**
 * Quorum recovery is judged from the real backend files. A 5-control-plane formed lab (voters k8s-1..3,
 * stand-bys k8s-4..5) loses k8s-2 and k8s-3. A wrong manual recovery (leftover segments on one survivor, a
 * mismatched info.yaml on another) leaves those nodes failing; the documented procedure, done by hand over SSH,
 * restores the cluster.
 */
import { nodePaths } from '../../common/inventory';
import { useLab, waitFor } from '../support/lab';

const lab = useLab({ controlPlanes: 5, formed: true });
/** A command typed by hand as root (`sudo -n sh -c …`): the backend is root's, mode 0660 (§7). */
const sh = async (node: string, cmd: string, input?: string) => {
  const line = cmd.startsWith('sudo -n ') ? cmd : `sudo -n sh -c '${cmd.replace(/'/g, `'\\''`)}'`;
  const r = await lab().exec(node, line, { input });
  if (r.code !== 0) throw new Error(`${node}: ${cmd} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
};
const paths = (node: string) => nodePaths(lab().inventory.nodes.find((n) => n.name === node)!);
const SURVIVORS = ['k8s-1', 'k8s-4', 'k8s-5'];
const RAFT = 'snapshot-* 0000*-0000*';

/** Copy the template's cluster.yaml, snapshots and closed segments to another node, through SSH (tar + base64). */
async function copyFromTemplate(to: string) {
  const b64 = await sh('k8s-1', `cd ${paths('k8s-1').backend} && tar -cf - cluster.yaml ${RAFT} | base64 -w0`);
  await sh(to, `base64 -d | tar -C ${paths(to).backend} -xf -`, b64);
}

describe('quorum recovery judged from the backend files', () => {
  const infos: Record<string, string> = {};

  it('loses quorum when two of three voters are gone', async () => {
    await lab().fault('k8s-2', 'destroy');
    await lab().fault('k8s-3', 'destroy');
    const st = await lab().status();
    expect(st.cluster).toMatchObject({ voters: ['k8s-1', 'k8s-2', 'k8s-3'], quorum: false });
  });

  it('a wrong manual recovery leaves survivors failing', async () => {
    for (const n of SURVIVORS) await sh(n, `sudo -n ${paths(n).microk8s} stop`);
    for (const n of SURVIVORS) {
      await sh(n, `sudo -n tar -cf /tmp/${lab().name}-${n}-backup.tar -C ${paths(n).snapData} var/kubernetes/backend`);
      infos[n] = await sh(n, `cat ${paths(n).infoYaml}`);
    }
    const yaml = SURVIVORS.map((n) => infos[n].replace(/^ID/, '- ID').replace(/\nAddress/, '\n  Address').replace(/\nRole: \d/, '\n  Role: 0')).join('');
    await sh('k8s-1', `cat > ${paths('k8s-1').clusterYaml}`, yaml);
    const b = paths('k8s-1').backend;
    const ok = await sh('k8s-1', `sudo -n ${paths('k8s-1').dqlite} -s 127.0.0.1:19001 -c ${b}/cluster.crt -k ${b}/cluster.key k8s ".reconfigure ${b}/ ${b}/cluster.yaml"`);
    expect(ok).toBe('OK\n');
    // Wrong: k8s-4 gets the template files on top of its own leftovers; k8s-5 gets them but a wrong info.yaml.
    await copyFromTemplate('k8s-4');
    await sh('k8s-5', `cd ${paths('k8s-5').backend} && rm -f ${RAFT} open-* metadata1 metadata2`);
    await copyFromTemplate('k8s-5');
    await sh('k8s-5', `sed -i 's/^ID: .*/ID: 42/' ${paths('k8s-5').infoYaml}`);
    for (const n of SURVIVORS) await sh(n, `sudo -n ${paths(n).microk8s} start`);
    const st = await lab().status();
    const err = (n: string) => st.nodes.find((x) => x.name === n)!.dqlite?.error ?? '';
    expect(err('k8s-1')).toBe('');
    expect(err('k8s-4')).toMatch(/leftover .* from before the reconfigure/);
    expect(err('k8s-5')).toMatch(/info\.yaml .* does not match any entry of cluster\.yaml/);
    expect(st.cluster).toMatchObject({ quorum: false, available: false });
    const status = await lab().exec('k8s-1', `sudo -n ${paths('k8s-1').microk8s} status`);
    expect(status.code).toBe(1);
  });

  it('the documented procedure (stop, delete leftovers, copy from the template, keep info.yaml, start) restores the cluster', async () => {
    for (const n of ['k8s-4', 'k8s-5']) {
      await sh(n, `sudo -n ${paths(n).microk8s} stop`);
      await sh(n, `cd ${paths(n).backend} && rm -f ${RAFT} open-* metadata1 metadata2`);
      await copyFromTemplate(n);
      await sh(n, `cat > ${paths(n).infoYaml}`, infos[n]);
      await sh(n, `sudo -n ${paths(n).microk8s} start`);
    }
    const st = await waitFor('cluster available', async () => {
      const s = await lab().status();
      return s.cluster.available ? s : undefined;
    });
    expect(st.cluster.voters.sort()).toEqual(SURVIVORS);
    expect(st.cluster.ha).toBe(true);
    for (const n of ['k8s-2', 'k8s-3']) expect((await lab().exec('k8s-1', `sudo -n ${paths('k8s-1').microk8s} remove-node ${n}`)).code).toBe(0);
    const nodes = await sh('k8s-4', `sudo -n ${paths('k8s-4').microk8s} kubectl get nodes`);
    expect(nodes.trim().split('\n').slice(1).map((l) => l.split(/\s+/).slice(0, 2).join(' '))).toEqual(['k8s-1 Ready', 'k8s-4 Ready', 'k8s-5 Ready']);
    const j = lab().journal();
    const tars = j.filter((e) => e.argv?.[0] === 'tar' && String(e.argv[2] ?? '').includes('backup'));
    const reconfigured = j.findIndex((e) => e.event === 'reconfigured');
    expect(tars.length).toBe(3);
    expect(j.indexOf(tars[2])).toBeLessThan(reconfigured);
  });
});
