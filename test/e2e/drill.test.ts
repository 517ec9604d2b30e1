/**
 * `runbook drill` end to end: the CLI as a child process, the real dev server, a real worker and a formed lab behind
 * real sshd. A backup of the lab cluster is restored into a second, fresh lab the drill makes (same topology) and
 * must serve its data; an empty backup (canonical/microk8s#4259: a valid tar holding nothing) and a truncated one
 * are reported broken, exit 1; the drill lab is gone afterwards either way (no directory, no sshd, no process), also
 * after a cancel.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { BackupRecord } from '../../common/backup';
import type { DrillResult } from '../../common/drill';
import { Lab } from '../../lab';
import { emptyOutBackup, foreignBackup } from '../support/backups';
import { useLabSuite } from '../support/e2e';
import { waitFor } from '../support/lab';

const s = useLabSuite({ lab: { name: 'drill', controlPlanes: 3, workers: 1, channel: '1.28/stable', formed: true, profile: 'fast' } });

/** The CLI with the suite's state directory, where the worker keeps backups and makes drill labs. */
const cli = (args: string[]) => s.cli(args, { env: { RUNBOOK_STATE_DIR: s.stateDir }, timeoutMs: 150_000 });
const drill = (...args: string[]) => cli(['drill', '-i', s.lab.inventoryPath, ...args]);
const backup = async (): Promise<BackupRecord> => {
  const r = await cli(['backup', '-i', s.lab.inventoryPath, '--yes', '--json']);
  expect(r.code).toBe(0);
  return (JSON.parse(r.stdout) as { backup: BackupRecord }).backup;
};

/** Nothing of a drill lab is left: no lab directory, no sshd or other process started for one. */
function drillLeftovers(): string[] {
  const labs = Lab.list(s.stateDir).filter((l) => l.name.startsWith('drill-')).map((l) => `lab ${l.name}`);
  const dirs = fs.existsSync(Lab.labsDir(s.stateDir)) ? fs.readdirSync(Lab.labsDir(s.stateDir)).filter((d) => d.startsWith('drill-')).map((d) => `dir ${d}`) : [];
  const marker = path.join(Lab.labsDir(s.stateDir), 'drill-');
  const procs: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const text = `${fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8')}\0${fs.readFileSync(`/proc/${pid}/environ`, 'utf8')}`;
      if (text.includes(marker)) procs.push(`process ${pid}: ${fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').slice(0, 120)}`);
    } catch {
      /* gone, or not ours to read */
    }
  }
  return [...new Set([...labs, ...dirs]), ...procs];
}

test('a backup of the formed cluster restores into a fresh lab and serves: a dqlite leader, the API, its Node objects', async () => {
  const b = await backup();
  expect(b).toMatchObject({ channel: '1.28/stable', kubernetesNodes: ['k8s-1', 'k8s-2', 'k8s-3', 'k8s-w1'] });

  const plan = await drill('--backup', 'latest', '--plan', '--json');
  expect(plan.code).toBe(0);
  expect((JSON.parse(plan.stdout) as DrillResult).plan.join('\n')).toMatch(/make a fresh lab drill-drill\d+ .*: 3 control plane\(s\) and 1 worker\(s\) on 1\.28\/stable/);

  const since = s.lab.journal().length;
  const r = await drill('--backup', 'latest', '--yes');
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  expect(r.stdout).toContain(`backup ${b.id} restores: the lab served its data`);
  expect(r.stdout).toMatch(/dqlite leader: +k8s-\d \(127\.0\.\d+\.\d:19001\)/);
  expect(r.stdout).toMatch(/Node objects: +k8s-1, k8s-2, k8s-3, k8s-w1 \(back from the backup/);
  expect(drillLeftovers()).toEqual([]);
  // The drill ran beside the cluster, never on it: not one command on the cluster's nodes while it ran.
  expect(s.lab.journal().slice(since).filter((e) => e.argv)).toEqual([]);
}, 150_000);

test('an empty backup (a tar holding nothing, as in #4259) is broken: exit 1 naming what is missing, and the lab is gone', async () => {
  const b = await backup();
  emptyOutBackup(b);
  const r = await drill('--backup', b.id, '--yes');
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(`backup ${b.id} of ${s.lab.inventory.cluster} is broken: the restored cluster serves`);
  expect(r.stderr).toMatch(/none of the 4 Node objects cluster \S+ had came back: k8s-1, k8s-2, k8s-3, k8s-w1 missing/);
  expect(r.stderr).toMatch(/only because the lab's own nodes registered them after the restore/);
  expect(r.stderr).toMatch(/the archive holds no raft entries at all/);
  expect(drillLeftovers()).toEqual([]);

  // A truncated tarball no longer matches its sha256: broken at once, no lab made.
  const t = await backup();
  fs.truncateSync(t.path, 1024);
  const truncated = await drill('--backup', t.id, '--yes');
  expect(truncated.code).toBe(1);
  expect(truncated.stderr).toContain(`backup ${t.id} of ${s.lab.inventory.cluster} is broken: its tarball no longer matches the sha256`);
  expect(drillLeftovers()).toEqual([]);
  // --json readers get the verdict on stdout too: how the run ended and the drill's result.
  const asJson = await drill('--backup', t.id, '--yes', '--json');
  expect(asJson.code).toBe(1);
  expect(JSON.parse(asJson.stdout)).toMatchObject({ status: 'failed', exitCode: 1, failureType: 'BackupBroken', details: { outcome: 'broken', reason: expect.stringMatching(/^its tarball no longer matches/) } });
}, 150_000);

test("a real cluster's backup (raft data the lab cannot read) is not called broken: cannot-judge, exit 1, the lab gone", async () => {
  const b = await backup();
  foreignBackup(b);
  const r = await drill('--backup', b.id, '--yes');
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(`backup ${b.id} of ${s.lab.inventory.cluster} could not be judged by a lab drill:`);
  expect(r.stderr).toMatch(/raft data the lab's simulator did not write .*this is not a verdict on the backup/);
  expect(r.stderr).not.toMatch(/is broken/);
  expect(drillLeftovers()).toEqual([]);
}, 150_000);

test('a drill cancelled in the middle of its restore still removes its lab', async () => {
  await backup(); // the newest backup is the truncated one of the test before
  const run = drill('--backup', 'latest', '--yes');
  const name = await waitFor('the drill lab', async () => Lab.list(s.stateDir).find((l) => l.name.startsWith('drill-'))?.name, 60_000, 50);
  // Slow the lab's first control plane down, so the cancel lands in the middle of the restore.
  await Lab.open(name, s.stateDir).fault('k8s-1', 'slow', { ms: 1500 });
  expect((await cli(['cancel', `runbook-${s.lab.inventory.cluster}.drill`])).code).toBe(0);
  const r = await run;
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/runbook cancelled/);
  expect(drillLeftovers()).toEqual([]);
}, 150_000);

test("a lab an earlier attempt left is replaced, never doubled; a person's lab of that name is refused and kept", async () => {
  await backup();
  const id = `runbook-${s.lab.inventory.cluster}.drill`;
  const name = `drill-${s.lab.inventory.cluster}`;
  // What a worker that died in the middle of the drill leaves: its lab, up, owned by the drill's workflow ID.
  const leftover = await Lab.up({ name, controlPlanes: 1, formed: true, profile: 'fast', stateDir: s.stateDir, owner: id });
  const r = await drill('--backup', 'latest', '--yes', '--json');
  expect(r.code).toBe(0);
  expect(fs.existsSync(leftover.dir)).toBe(false);
  expect(drillLeftovers()).toEqual([]);

  const mine = await Lab.up({ name, controlPlanes: 1, profile: 'fast', stateDir: s.stateDir });
  try {
    const refused = await drill('--backup', 'latest', '--yes');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(new RegExp(`drill lab ${name}: --name: lab "${name}" in \\S+ was made by a person; not touching it`));
    expect(Lab.list(s.stateDir).map((l) => l.name)).toContain(name);
  } finally {
    await mine.down();
  }
}, 150_000);

test('bad input names the flag and the fix, exit 2, no drill starts', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['drill', '-i', s.lab.inventoryPath], /--backup: is required: latest, or a backup id/],
    [['drill', '-i', s.lab.inventoryPath, '--backup', '../etc/passwd'], /--backup: must be latest or a backup id/],
    [['drill', '-i', s.lab.inventoryPath, '--backup', 'no-such-backup'], /--backup no-such-backup: no such backup of \S+; see runbook backups list/],
    [['drill', '-i', s.lab.inventoryPath, '--backup', 'latest', '--channel', '1.99/stable'], /--channel: is not a channel the lab has/],
    [['drill', '-i', s.lab.inventoryPath, '--backup', 'latest', '--keep', '3'], /unknown option '--keep'/],
    [['schedule', 'create', 'drill', '-i', s.lab.inventoryPath, '--every', '24h', '--keep', '3'], /--keep, --node, --stopped: are for backup schedules, not drill/],
    [['schedule', 'create', 'check', '-i', s.lab.inventoryPath, '--every', '24h', '--backup', 'latest'], /--backup: is for drill schedules, not check/],
  ];
  for (const [args, message] of cases) {
    const r = await cli(args);
    expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 2, stderr: expect.stringMatching(message) });
  }
});

test('a scheduled drill: created paused, triggered, it restores the latest backup and the list says so', async () => {
  const id = `runbook-${s.lab.inventory.cluster}.drill`;
  const created = await cli(['schedule', 'create', 'drill', '-i', s.lab.inventoryPath, '--every', '24h', '--paused']);
  expect(created.stdout).toBe(`created schedule ${id}: drill of ${s.lab.inventory.cluster} every 24h (paused)\n`);
  const list = async () => JSON.parse((await cli(['schedule', 'list', '--json'])).stdout) as Array<{ id: string; kind: string; last?: string }>;
  await waitFor('the schedule in the list', async () => (await list()).some((x) => x.id === id), 30_000, 250);
  expect((await cli(['schedule', 'trigger', id])).code).toBe(0);
  const last = await waitFor('the scheduled drill', async () => (await list()).find((x) => x.id === id)?.last?.match(/drill of \S+: restores, 4 Node objects back, dqlite leader k8s-\d$/), 120_000, 500);
  expect(last).toBeTruthy();
  expect(drillLeftovers()).toEqual([]);
  expect((await cli(['schedule', 'delete', id])).code).toBe(0);
}, 150_000);
