/**
 * `runbook reboot` survives its worker: the worker runs as its own process (`runbook worker`) and is SIGKILLed
 * mid-reboot (the machine down, waiting for its new boot id) and mid-drain of the next node; a new worker takes over
 * each time. Every node must be rebooted exactly once (the boot id guards the reboot), end Ready and uncordoned.
 */
import type { RebootResult } from '../../common/reboot';
import { waitFor } from '../support/lab';
import { startRunbook } from '../support/temporal';
import { useServerSuite } from '../support/e2e';
import { formedLab, killWorker, settle, spawnUpgradeWorker } from './upgrade-support';

const suite = useServerSuite({ name: 'reboot-crash-e2e' });

test('SIGKILL the worker mid-reboot and mid-drain: the run resumes and finishes, no node rebooted twice', async () => {
  const lab = await formedLab(suite, 3, 1);
  // Slow commands so each kill lands inside a step.
  for (const n of ['k8s-1', 'k8s-2', 'k8s-3', 'k8s-w1']) await lab.fault(n, 'slow', { ms: 300 });
  const taskQueue = `reboot-crash-${process.pid}-${Date.now()}`;
  let worker = spawnUpgradeWorker(suite, taskQueue);
  const kills: string[] = [];
  const handle = await startRunbook(
    suite.env,
    { kind: 'reboot', workflowType: 'rollingReboot', inventory: lab.inventory, input: { heartbeatTimeoutSeconds: 5, drainTimeoutSeconds: 30, readyTimeoutSeconds: 60 }, summary: 'reboot', yes: true },
    taskQueue,
  );
  const count = (event: string) => lab.journal().filter((e) => e.event === event).length;
  const killAt = async (what: string, check: () => boolean) => {
    await waitFor(what, check, 120_000, 20);
    await killWorker(worker);
    kills.push(what);
    worker = spawnUpgradeWorker(suite, taskQueue);
  };
  await killAt('mid-reboot (first machine down)', () => count('reboot') >= 1);
  await killAt('mid-drain (second node cordoned)', () => count('cordoned') >= 2);
  const { value, error } = await settle(handle);
  expect(error).toBeUndefined();
  const result = value as RebootResult;
  expect(result.nodes.map((n) => n.outcome)).toEqual(['rebooted', 'rebooted', 'rebooted', 'rebooted']);
  expect(kills).toHaveLength(2);
  const reboots = lab.journal().filter((e) => e.event === 'reboot').map((e) => e.node);
  expect(reboots.sort()).toEqual(['k8s-1', 'k8s-2', 'k8s-3', 'k8s-w1']); // each exactly once
  const st = await lab.status();
  for (const n of st.nodes) expect(n).toMatchObject({ ready: true, cordoned: false, bootId: result.nodes.find((x) => x.node === n.name)!.bootIdAfter });
}, 300_000);
