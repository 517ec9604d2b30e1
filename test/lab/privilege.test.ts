/**
 * The lab judges least privilege (README's sudo table, activities/ssh/privilege.ts): a root-only command run as the
 * SSH user is refused with the behaviour reference's text (§0 "Insufficient permissions", snapd's access denied,
 * dqlite's permission denied on the backend, #2910) and changes nothing; through the lab's `sudo -n` it works; the
 * read-only commands work as the user. Each refused command is one the engine classifies as root (`runsAsRoot`).
 */
import * as fs from 'fs';
import { runsAsRoot } from '../../activities/ssh/privilege';
import { nodePaths } from '../../common/inventory';
import { execEach, useLab } from '../support/lab';

const lab = useLab({ controlPlanes: 3, workers: 1, formed: true });
const spec = (node: string) => lab().inventory.nodes.find((n) => n.name === node)!;
const paths = (node: string) => nodePaths(spec(node));

const insufficient = (user: string) =>
  'Insufficient permissions to access MicroK8s.\n' +
  `You can either try again with sudo or add the user ${user} to the 'microk8s' group:\n\n` +
  `    sudo usermod -a -G microk8s ${user}\n    sudo chown -R ${user} ~/.kube\n\n` +
  "After this, reload the user groups either via a reboot or by running 'newgrp microk8s'.\n";
const ACCESS_DENIED = 'error: access denied (try with sudo)\n';

describe('the lab judges least privilege', () => {
  it('refuses root-only commands run as the SSH user, with the reference texts, and changes nothing', async () => {
    const p = paths('k8s-2');
    const m = p.microk8s;
    const ip = (n: string) => spec(n).address;
    const before = await lab().status();
    const tokens = fs.readFileSync(`${p.snapData}/credentials/cluster-tokens.txt`, 'utf8');
    const journalBefore = lab().journal().length;
    const microk8s = [
      `${m} status`,
      `${m} status --format yaml`,
      `${m} version`,
      `${m} kubectl get nodes`,
      `${m} kubectl cordon k8s-3`,
      `${m} add-node`,
      `${m} join ${ip('k8s-1')}:25000/${'a'.repeat(32)}`,
      `${m} leave`,
      `${m} remove-node k8s-3 --force`,
      `${m} stop`,
      `${m} start`,
    ];
    const snap = ['snap refresh microk8s --channel=1.29/stable', 'snap refresh --hold microk8s', 'snap revert microk8s', 'snap stop microk8s', 'snap start microk8s'];
    const dqStore = `${p.dqlite} -s file://${p.clusterYaml} -f json k8s .cluster`;
    const dqTls = `${p.dqlite} -s ${ip('k8s-1')}:19001 -c ${p.clusterCrt} -k ${p.clusterKey} k8s ".remove ${ip('k8s-3')}:19001"`;
    const all = [...microk8s, ...snap, dqStore, dqTls];
    for (const cmd of all) expect([cmd, runsAsRoot(cmd)]).toEqual([cmd, true]);

    const user = spec('k8s-2').user;
    const r = await execEach(lab(), 'k8s-2', all);
    const got = r.map((x, i) => [all[i], x.code, x.stdout, i < microk8s.length + snap.length ? x.stderr : '']);
    expect(got).toEqual([
      ...microk8s.map((c) => [c, 1, '', insufficient(user)]),
      ...snap.map((c) => [c, 1, '', ACCESS_DENIED]),
      [dqStore, 1, '', ''],
      [dqTls, 1, '', ''],
    ]);
    expect(r[all.length - 2].stderr).toMatch(new RegExp(`^Error: open servers store: open ${p.clusterYaml}: permission denied\nUsage:\n  dqlite -s <servers>`));
    expect(r[all.length - 1].stderr).toMatch(new RegExp(`^Error: open ${p.clusterCrt}: permission denied\nUsage:\n`));

    // Nothing changed: the simulated truth, the token file, and no state-change event in the journal.
    expect(await lab().status()).toEqual(before);
    expect(fs.readFileSync(`${p.snapData}/credentials/cluster-tokens.txt`, 'utf8')).toBe(tokens);
    const after = lab().journal().slice(journalBefore);
    expect(after.filter((e) => e.event !== undefined)).toEqual([]);
    expect(after.map((e) => e.exit)).toEqual(all.map(() => 1));
  });

  it('read-only snap queries work as the SSH user (and `microk8s version` through sudo)', async () => {
    const m = paths('k8s-3').microk8s;
    const reads = [`sudo -n ${m} version`, 'snap list microk8s', 'snap info microk8s', 'snap version'];
    for (const cmd of reads.slice(1)) expect([cmd, runsAsRoot(cmd)]).toEqual([cmd, false]);
    const [version, list, info, snapVersion] = await execEach(lab(), 'k8s-3', reads);
    const st = (await lab().status()).nodes.find((n) => n.name === 'k8s-3')!;
    expect([version.code, version.stdout]).toEqual([0, `MicroK8s ${st.version} revision ${st.revision}\n`]);
    expect([list.code, list.stdout.split('\n')[1].split(/\s+/).slice(0, 3)]).toEqual([0, ['microk8s', st.version, String(st.revision)]]);
    expect([info.code, info.stdout]).toEqual([0, expect.stringContaining('\ntracking:     1.28/stable\n')]);
    expect(snapVersion.code).toBe(0);
  });

  it('through `sudo -n` (as the engine runs a root line) the same commands work', async () => {
    const p = paths('k8s-2');
    const m = p.microk8s;
    const [status, nodes, line, dq, hold, unhold] = await execEach(lab(), 'k8s-2', [
      `sudo -n ${m} status --format short`,
      `sudo -n ${m} kubectl get nodes -o name`,
      `sudo -n sh -c '${m} status --format yaml | head -2'`,
      `sudo -n ${p.dqlite} -s file://${p.clusterYaml} -c ${p.clusterCrt} -k ${p.clusterKey} k8s .leader`,
      'sudo -n snap refresh --hold microk8s',
      'sudo -n snap refresh --unhold microk8s',
    ]);
    expect([status.code, status.stdout.split('\n')[0]]).toEqual([0, 'microk8s is running']);
    expect([nodes.code, nodes.stdout]).toEqual([0, 'node/k8s-1\nnode/k8s-2\nnode/k8s-3\nnode/k8s-w1\n']);
    expect([line.code, line.stdout]).toEqual([0, 'microk8s:\n  running: True\n']);
    expect([dq.code, dq.stdout]).toEqual([0, `${spec('k8s-1').address}:19001\n`]);
    expect([hold.code, hold.stdout]).toEqual([0, 'General refreshes of "microk8s" held indefinitely\n']);
    expect([unhold.code, unhold.stdout]).toEqual([0, 'Removed general refresh hold of "microk8s"\n']);
  });

  it('the sudo shim behaves like sudo: marks root, usage without a command, command not found', async () => {
    const user = spec('k8s-1').user;
    const [env, bare, probe, missing, validate, asOther] = await execEach(lab(), 'k8s-1', [
      'sudo -n env',
      'sudo -n',
      'sudo -n true',
      'sudo -n no-such-tool',
      'sudo -n -v',
      `sudo -n -u nobody env`,
    ]);
    const vars = Object.fromEntries(env.stdout.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    expect(vars).toMatchObject({ SUDO_USER: user, USER: 'root', LOGNAME: 'root', SUDO_COMMAND: expect.stringMatching(/\/env$/) });
    expect(vars.SUDO_UID).toMatch(/^\d+$/);
    expect([bare.code, bare.stdout]).toEqual([1, '']);
    expect(bare.stderr).toMatch(/^usage: sudo -h \| -K \| -k \| -V\n/);
    expect([probe.code, probe.stdout, probe.stderr]).toEqual([0, '', '']);
    expect([missing.code, missing.stderr]).toEqual([1, 'sudo: no-such-tool: command not found\n']);
    expect(validate.code).toBe(0);
    expect(asOther.stdout).not.toMatch(/^USER=root$/m);
  });
});

// Run as root (as CI does), the lab logs in as a real unprivileged account and judges privilege by identity.
const asRoot = process.getuid?.() === 0;
(asRoot ? describe : describe.skip)('root is root, the lab user is a real unprivileged account', () => {
  it('`ssh root@node` runs microk8s status; the lab user is refused without sudo and works with it', async () => {
    const m = paths('k8s-1').microk8s;
    const user = spec('k8s-1').user;
    expect(user).not.toBe('root');
    const root = await lab().exec('k8s-1', `id -u; ${m} status --format short; ${m} kubectl get nodes -o name`, { user: 'root' });
    expect([root.code, root.stdout.split('\n').slice(0, 2)]).toEqual([0, ['0', 'microk8s is running']]);
    expect(root.stdout).toContain('node/k8s-1\n');
    const [id, refused, viaSudo] = await execEach(lab(), 'k8s-1', ['id -u', `${m} status`, `sudo -n ${m} status --format short`]);
    expect(Number(id.stdout)).toBeGreaterThan(0);
    expect([refused.code, refused.stderr]).toEqual([1, insufficient(user)]);
    expect([viaSudo.code, viaSudo.stdout.split('\n')[0]]).toEqual([0, 'microk8s is running']);
  });

  it('a forged sudo mark is not root: only identity counts', async () => {
    const m = paths('k8s-1').microk8s;
    const r = await lab().exec('k8s-1', `SUDO_UID=0 USER=root ${m} add-node`);
    expect([r.code, r.stderr]).toEqual([1, insufficient('root')]); // $USER, as the wrapper prints it
  });

  it('the backend belongs to root: directory 2770 and files 0660, group microk8s (§7); the user cannot read it without sudo', async () => {
    const p = paths('k8s-2');
    const [ls, cat, sudoCat] = await execEach(lab(), 'k8s-2', [
      `sudo -n stat -c '%a %U %G %n' $(sudo -n find ${p.backend} -maxdepth 1)`,
      `cat ${p.clusterYaml}`,
      `sudo -n cat ${p.clusterYaml}`,
    ]);
    const rows = ls.stdout.trim().split('\n').map((l) => l.split(' '));
    expect(rows[0]).toEqual(['2770', 'root', 'microk8s', p.backend.replace(/\/$/, '')]);
    for (const r of rows.slice(1)) expect([r[3], r.slice(0, 3)]).toEqual([r[3], ['660', 'root', 'microk8s']]);
    expect([cat.code, cat.stderr]).toEqual([1, `cat: ${p.clusterYaml}: Permission denied\n`]);
    expect([sudoCat.code, sudoCat.stdout]).toEqual([0, expect.stringContaining('Role: 0')]);
  });
});
