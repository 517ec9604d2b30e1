/**
 * `microk8s refresh-certs` as the behaviour reference §11 gives it: guard order and exit codes, `--check` days
 * (negative once expired), per-node server certificates, the backup and `--undo`, the CA refresh that leaves the
 * other nodes needing a re-join, and the `cert-expired` fault: kubectl through that node fails with x509 until
 * the node's certificate is refreshed (heal does not renew it).
 */
import { execEach, useLab, waitFor } from '../support/lab';

const lab = useLab({ controlPlanes: 3, workers: 1, formed: true });
const run = (node: string, cmds: string[]) => execEach(lab(), node, cmds);
const certsOf = async (node: string) => (await lab().status()).nodes.find((n) => n.name === node)!.certs;

describe('refresh-certs (§11)', () => {
  it('guards in order: worker (exit 0), CA_DIR with an option (1), several options (2), not root (50), no option (3), bad -e (2)', async () => {
    const [worker] = await run('k8s-w1', ['sudo -n microk8s refresh-certs --check']);
    expect([worker.code, worker.stdout]).toEqual([
      0,
      'This MicroK8s deployment is acting as a node in a cluster. Please use the microk8s refresh-certs command on the master\nand then return to this node to perform a microk8s leave and re-join.\n',
    ]);
    const [caDir, several, user, none, bad] = await run('k8s-1', [
      'sudo -n microk8s refresh-certs -c /tmp',
      'sudo -n microk8s refresh-certs -c -u',
      'microk8s refresh-certs --check',
      'sudo -n microk8s refresh-certs',
      'sudo -n microk8s refresh-certs -e kubelet.crt',
    ]);
    expect([caDir.code, caDir.stdout]).toEqual([1, 'Please do not set any options in combination with the CA_DIR.\n']);
    expect([several.code, several.stdout]).toEqual([2, 'Please select only one of the options -c, -u or -e.\n']);
    expect([user.code, user.stdout]).toEqual([50, 'Elevated permissions is needed for this operation. Please run this command with sudo.\n']);
    expect(none.code).toBe(3);
    expect(none.stdout).toMatch(/^Please use the '--cert' flag to select the certificate you need refreshed\.\n\nAvailable certificate options:\n/);
    expect(none.stdout).toMatch(/Warning: refreshing the root CA requires nodes to leave and re-join the cluster\n$/);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("Error: Invalid value for '-e' / '--cert': 'kubelet.crt' is not one of 'ca.crt', 'server.crt', 'front-proxy-client.crt'.");
  });

  it('--check on a fresh node: 3649/364/364 days (floored)', async () => {
    const [check] = await run('k8s-2', ['sudo -n microk8s refresh-certs --check']);
    expect([check.code, check.stdout]).toEqual([
      0,
      'The CA certificate will expire in 3649 days.\nThe server certificate will expire in 364 days.\nThe front proxy client certificate will expire in 364 days.\n',
    ]);
  });

  it('an expired server.crt breaks kubectl through that node only; -e server.crt renews it there; --undo restores', async () => {
    await lab().fault('k8s-2', 'cert-expired');
    await lab().heal('k8s-2'); // heal clears faults, not certificate lifetimes
    const [check, kubectl] = await run('k8s-2', ['sudo -n microk8s refresh-certs --check', 'sudo -n microk8s kubectl get nodes']);
    expect(check.stdout).toContain('The server certificate will expire in -85 days.\n');
    expect(kubectl.code).toBe(1);
    expect(kubectl.stderr).toMatch(/^Unable to connect to the server: x509: certificate has expired or is not yet valid: current time \S+Z is after \S+Z\n$/);
    const [other] = await run('k8s-3', ['sudo -n microk8s kubectl get nodes -o name']);
    expect(other.code).toBe(0);

    const before = await certsOf('k8s-3');
    const [refresh] = await run('k8s-2', ['sudo -n microk8s refresh-certs -e server.crt']);
    expect(refresh.code).toBe(0);
    expect(refresh.stdout).toMatch(/^Taking a backup of the current certificates under \S+\/var\/snap\/microk8s\/\d+\/certs-backup\/\nCreating new certificates\n/);
    expect(refresh.stdout).toMatch(/Restarting service kubelite\.\nRestarting service cluster-agent\.\n$/);
    expect(await certsOf('k8s-3')).toEqual(before); // per node: the others are untouched
    await waitFor('kubectl on k8s-2 again', async () => (await lab().exec('k8s-2', 'sudo -n microk8s kubectl get nodes -o name')).code === 0);
    const [check2, undo, check3] = await run('k8s-2', ['sudo -n microk8s refresh-certs --check', 'sudo -n microk8s refresh-certs --undo', 'sudo -n microk8s refresh-certs --check']);
    expect(check2.stdout).toContain('The server certificate will expire in 364 days.\n');
    expect([undo.code, undo.stdout]).toEqual([0, 'Restarting, please wait.\n']);
    expect(check3.stdout).toContain('The server certificate will expire in -85 days.\n');
    const [again, fixed] = await run('k8s-2', ['sudo -n microk8s refresh-certs --undo', 'sudo -n microk8s refresh-certs -e server.crt']);
    expect([again.code, again.stdout]).toEqual([1, 'No previous backup found\n']);
    expect(fixed.code).toBe(0);
  });

  it('-e ca.crt replaces the CA on this node; the others need to leave and re-join', async () => {
    const [ca] = await run('k8s-1', ['sudo -n microk8s refresh-certs -e ca.crt']);
    expect(ca.code).toBe(0);
    expect(ca.stdout).toContain('Creating new kubeconfig file\n');
    expect(ca.stdout).toMatch(/Any worker nodes you may have in your cluster need to be removed and re-joined to become aware of the new CA\.\n$/);
    const st = await lab().status();
    expect(st.nodes.filter((n) => n.needsRejoin).map((n) => n.name)).toEqual(['k8s-2', 'k8s-3', 'k8s-w1']);
    expect(Date.parse(st.nodes[0].certs['ca.crt'])).toBeGreaterThan(Date.parse(st.nodes[1].certs['ca.crt']));
  });
});
