/**
 * Sabotage: one closed segment is corrupted in transit from the template to the other survivor. The sha256 check
 * on arrival catches it, the runbook stops and offers the restore; approving it puts every survivor back to its
 * exact pre-recovery files.
 */
import { WorkflowFailedError } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { Transform } from 'stream';
import { createActivities } from '../../activities';
import { createRecoveryActivities } from '../../activities/recovery';
import { SshPool } from '../../activities/ssh';
import { approveUpdate, progressQuery } from '../../common/messages';
import type { Lab } from '../../lab';
import { snapPaths } from '../../lab/sim/backend';
import { useServerSuite } from '../support/e2e';
import { startRunbook } from '../support/temporal';

// Not useLabSuite: the test's worker has its own activities (the corrupting transfer), made in the test.
const suite = useServerSuite({ name: 'rq-sabotage' });
let lab: Lab;
beforeAll(async () => {
  lab = await suite.lab({ name: 'rqsab', controlPlanes: 5, formed: true, profile: 'fast' });
});

function backendFiles(node: string): Record<string, string> {
  const dir = snapPaths(lab.dir, node).backend;
  return Object.fromEntries(
    fs
      .readdirSync(dir)
      .filter((f) => fs.statSync(path.join(dir, f)).isFile())
      .sort()
      .map((f) => [f, createHash('sha256').update(fs.readFileSync(path.join(dir, f))).digest('hex')]),
  );
}

test('a segment corrupted in transit stops the runbook; the approved restore returns the exact prior files', async () => {
  for (const n of ['k8s-2', 'k8s-3', 'k8s-5']) await lab.fault(n, 'destroy');
  const before = { 'k8s-1': backendFiles('k8s-1'), 'k8s-4': backendFiles('k8s-4') };

  const ssh = new SshPool();
  suite.defer(() => ssh.close());
  const corrupted: string[] = [];
  const flipLastByte = () =>
    new Transform({
      transform(chunk: Buffer, _enc, cb) {
        const b = Buffer.from(chunk);
        b[b.length - 1] ^= 0xff;
        cb(null, b);
      },
    });
  const recovery = createRecoveryActivities(
    { ssh, stateDir: suite.stateDir },
    { transferTransform: ({ node, name }) => (!corrupted.length && /^\d{16}-\d{16}$/.test(name) ? (corrupted.push(`${node}:${name}`), flipLastByte()) : undefined) },
  );
  const worker = await suite.worker({ activities: { ...createActivities({ ssh, stateDir: suite.stateDir }), ...recovery } });
  const h = await startRunbook(suite.env, { kind: 'recover-quorum', workflowType: 'recoverQuorum', inventory: lab.inventory, input: { lost: ['k8s-2', 'k8s-3', 'k8s-5'] }, summary: 'sabotage', yes: true }, worker.taskQueue);
  let offered = false;
  for (let i = 0; i < 300 && !offered; i++) {
    const p = await h.query(progressQuery);
    if (p.pendingApproval) {
      offered = true;
      expect(p.pendingApproval.summary).toMatch(/restore every survivor \(k8s-1, k8s-4\)/);
      expect(p.notes.join('\n')).toMatch(/arrived on k8s-[14] with sha256 [0-9a-f]{64}, expected/);
      expect(p.notes.join('\n')).toMatch(/runbook restore-backup -i <inventory> --node k8s-4 --backup rq-/);
      await h.executeUpdate(approveUpdate, { args: [{ by: 'tester@jest' }] });
    } else await new Promise((r) => setTimeout(r, 200));
  }
  expect(offered).toBe(true);
  const err = await h.result().then(() => undefined, (e) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect(((err as WorkflowFailedError).cause as ApplicationFailure).type).toBe('RecoveryFailed');
  expect(corrupted).toHaveLength(1);
  expect(backendFiles('k8s-1')).toEqual(before['k8s-1']);
  expect(backendFiles('k8s-4')).toEqual(before['k8s-4']);
  // Nothing of the corrupted copy is left anywhere.
  const [node, name] = corrupted[0].split(':');
  expect(fs.readdirSync(snapPaths(lab.dir, node).backend).filter((f) => f.includes('runbook-tmp'))).toEqual([]);
  expect(backendFiles(node)[name]).toBe(before[node as 'k8s-1'][name]);
});
