/**
 * Re-record the replay fixtures: end-to-end runs of every runbook on labs (fast profile) through a real dev server
 * and worker, saved as `historyToJSON` under test/histories/<workflowType>/<scenario>.json, children included.
 *
 *   npm run build && node dist/test/replay/record-histories.js [form] [upgrade] [recovery] [drill] [notifications] …   (default: all groups)
 *
 * A fixture that holds anything like a secret is refused (nothing of that run is written). The codec is off.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { approveUpdate, progressQuery, type RunbookProgress } from '../../common/messages';
import { type Inventory, NOTIFICATION_EVENTS } from '../../common/inventory';
import { Lab } from '../../lab';
import type { BackupResult } from '../../common/backup';
import { drillWorkflowId } from '../../common/drill';
import { emptyOutBackup } from '../support/backups';
import { tempStateDir } from '../support/lab';
import { WebhookReceiver } from '../support/webhook-receiver';
import { startRunbook, startTemporal, startWorker, type TestWorker, type TestStartSpec } from '../support/temporal';
import { FAST_TIMING, issuedTokens, openJoinPorts, subset } from '../e2e/form-support';
import { findSecrets } from './fixture-secrets';
import { HISTORIES_DIR, MANIFEST_PATH, readManifest, scrubMachine, type FixtureEntry } from './fixtures';

interface Run {
  scenario: string;
  spec: Omit<TestStartSpec, 'summary'>;
  /** Answer the plan approval instead of starting with --yes. */
  approvePlan?: boolean;
  /** A rollback scenario ends in a failed runbook: that is what it records. */
  expectFailure?: boolean;
  /** Start the workflow with `spec.input` as its whole input (a launcher), not as a runbook. */
  raw?: boolean;
}

class Recorder {
  readonly entries: FixtureEntry[] = [];

  constructor(
    private readonly env: TestWorkflowEnvironment,
    private readonly worker: TestWorker,
    private readonly lab: Lab,
  ) {}

  async run(r: Run): Promise<unknown> {
    const t0 = Date.now();
    // `raw`: the input is the workflow's own (a launcher such as scheduledRun), not a runbook's base input.
    const handle = r.raw
      ? await this.env.client.workflow.start(r.spec.workflowType, { taskQueue: this.worker.taskQueue, workflowId: `fixture-${r.spec.workflowType}-${process.pid}`, args: [r.spec.input] })
      : await startRunbook(this.env, { summary: `${r.spec.kind} ${r.spec.inventory.cluster}`, ...r.spec, yes: !r.approvePlan }, this.worker.taskQueue);
    if (r.approvePlan) await approveWhenAsked(handle);
    const outcome = await handle.result().then(
      (value: unknown) => ({ failed: false, value }),
      (e: Error) => (r.expectFailure ? { failed: true, value: undefined } : Promise.reject(new Error(`${r.scenario}: the runbook failed: ${e.message}`))),
    );
    if (r.expectFailure && !outcome.failed) throw new Error(`${r.scenario}: expected the runbook to fail, it completed`);
    const written = await this.save(r.scenario, handle.workflowId, handle.firstExecutionRunId, '');
    console.log(`recorded ${r.scenario}: ${written} fixture(s) in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    return outcome.value;
  }

  /** A runbook that sets the scene and is not a fixture itself (the backup a drill restores). */
  async prepare(spec: Omit<TestStartSpec, 'summary'>): Promise<unknown> {
    const handle = await startRunbook(this.env, { summary: `${spec.kind} ${spec.inventory.cluster}`, ...spec, yes: true }, this.worker.taskQueue);
    return handle.result();
  }

  /** Save one run and, recursively, its children; refuse the whole run if any history holds a secret. */
  private async save(scenario: string, workflowId: string, runId: string, suffix: string): Promise<number> {
    const history = await this.env.client.workflow.getHandle(workflowId, runId).fetchHistory();
    const json = JSON.stringify(scrubMachine(JSON.parse(historyToJSON(history))), null, 1);
    const findings = findSecrets(json, this.knownSecrets());
    if (findings.length) throw new Error(`refusing to write a fixture for ${workflowId} (${scenario}): ${findings.join('; ')}`);
    const workflowType = history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name;
    if (!workflowType) throw new Error(`${workflowId}: the history has no WorkflowExecutionStarted event`);
    const file = path.posix.join(workflowType, `${scenario}${suffix}.json`);
    fs.mkdirSync(path.join(HISTORIES_DIR, workflowType), { recursive: true });
    fs.writeFileSync(path.join(HISTORIES_DIR, file), `${json}\n`);
    this.entries.push({ file, workflowId, workflowType, scenario });
    let count = 1;
    for (const e of history.events ?? []) {
      const child = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
      if (child?.workflowId && child.runId) {
        const tail = child.workflowId.startsWith(`${workflowId}-`) ? child.workflowId.slice(workflowId.length + 1) : child.workflowId;
        count += await this.save(scenario, child.workflowId, child.runId, `${suffix}.${tail}`);
      }
    }
    return count;
  }

  private knownSecrets(): string[] {
    const keyBody = fs.readFileSync(this.lab.keyPath, 'utf8').split('\n').filter((l) => l && !l.startsWith('-----'));
    return [...issuedTokens(this.lab), ...keyBody];
  }
}

async function approveWhenAsked(handle: WorkflowHandle): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const p = (await handle.query(progressQuery).catch(() => undefined)) as RunbookProgress | undefined;
    if (p?.pendingApproval) {
      await handle.executeUpdate(approveUpdate, { args: [{ id: p.pendingApproval.id, by: 'recorder@replay', reason: 'fixture' }] });
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${handle.workflowId}: no plan approval was asked for within 60s`);
}

type Group = (env: TestWorkflowEnvironment, stateDir: string) => Promise<FixtureEntry[]>;

async function withLab(env: TestWorkflowEnvironment, stateDir: string, lab: Lab, body: (rec: Recorder) => Promise<void>): Promise<FixtureEntry[]> {
  const worker = await startWorker(env, { stateDir });
  try {
    const rec = new Recorder(env, worker, lab);
    await body(rec);
    return rec.entries;
  } finally {
    await worker.stop();
    await lab.down();
  }
}

const labName = (what: string) => `rh${what}${process.pid % 10000}`;

const GROUPS: Record<string, Group> = {
  /** check, form (--yes, then a grow answered by plan approval) and remove-node on one lab. */
  async form(env, stateDir) {
    const lab = await Lab.up({ name: labName('f'), controlPlanes: 4, workers: 3, channel: '1.28/stable', profile: 'fast', stateDir });
    const closePorts = await openJoinPorts(lab);
    const first = subset(lab.inventory, ['k8s-1', 'k8s-2', 'k8s-3', 'k8s-w1', 'k8s-w2']);
    try {
      return await withLab(env, stateDir, lab, async (rec) => {
        await rec.run({ scenario: 'three-cp-two-workers', spec: { kind: 'form', workflowType: 'form', inventory: first, input: { timing: FAST_TIMING } } });
        await rec.run({ scenario: 'healthy', spec: { kind: 'check', workflowType: 'check', inventory: first, input: {} } });
        await rec.run({
          scenario: 'grow-with-plan-approval',
          spec: { kind: 'form', workflowType: 'form', inventory: lab.inventory, input: { timing: FAST_TIMING } },
          approvePlan: true,
        });
        await rec.run({
          scenario: 'worker',
          spec: { kind: 'remove-node', workflowType: 'removeNode', inventory: lab.inventory, input: { node: 'k8s-w3', timing: FAST_TIMING } },
        });
      });
    } finally {
      await closePorts();
    }
  },

  /** The rolling upgrade 1.28 → 1.29 (happy path), then 1.29 → 1.30 with k8s-2 failing and rolled back. */
  async upgrade(env, stateDir) {
    const lab = await Lab.up({ name: labName('u'), controlPlanes: 3, workers: 2, channel: '1.28/stable', formed: true, profile: 'fast', stateDir });
    const upgrade = (to: string, extra: Record<string, unknown> = {}): Run['spec'] => ({
      kind: 'upgrade',
      workflowType: 'rollingUpgrade',
      inventory: lab.inventory,
      input: { to, readyTimeoutSeconds: 30, drainTimeoutSeconds: 5, heartbeatTimeoutSeconds: 10, ...extra },
    });
    return withLab(env, stateDir, lab, async (rec) => {
      await rec.run({ scenario: 'happy-path', spec: upgrade('1.29/stable') });
      await lab.fault('k8s-2', 'fail-upgrade', { to: '1.30' });
      await rec.run({ scenario: 'rollback', spec: upgrade('1.30/stable', { rollback: 'node', readyTimeoutSeconds: 5 }), expectFailure: true });
    });
  },

  /** backup and restore-backup of k8s-1, then quorum recovery after losing 2 of 3 voters. */
  async recovery(env, stateDir) {
    const lab = await Lab.up({ name: labName('r'), controlPlanes: 3, channel: '1.28/stable', formed: true, profile: 'fast', stateDir });
    const spec = (kind: TestStartSpec['kind'], workflowType: string, input: Record<string, unknown>): Run['spec'] => ({ kind, workflowType, inventory: lab.inventory, input });
    return withLab(env, stateDir, lab, async (rec) => {
      const made = (await rec.run({ scenario: 'stopped', spec: spec('backup', 'backup', { node: 'k8s-1', stopped: true, label: 'fixture' }) })) as BackupResult;
      const backupId = made.backup?.id;
      if (!backupId) throw new Error('the backup runbook returned no backup id');
      await rec.run({ scenario: 'round-trip', spec: spec('restore-backup', 'restoreBackup', { node: 'k8s-1', backupId }) });
      await lab.fault('k8s-2', 'destroy');
      await lab.fault('k8s-3', 'destroy');
      await rec.run({ scenario: 'two-of-three-lost', spec: spec('recover-quorum', 'recoverQuorum', { lost: ['k8s-2', 'k8s-3'], waitTimeoutMs: 120_000 }) });
    });
  },

  /** The maintenance runbooks: refresh-policy --hold (one node already held by hand), --unhold; refresh-certs --within 30d, --ca. */
  async maintenance(env, stateDir) {
    const lab = await Lab.up({ name: labName('m'), controlPlanes: 3, workers: 1, channel: '1.28/stable', formed: true, profile: 'fast', stateDir });
    const policy = (action: string): Run['spec'] => ({ kind: 'refresh-policy', workflowType: 'refreshPolicy', inventory: lab.inventory, input: { action } });
    return withLab(env, stateDir, lab, async (rec) => {
      await lab.exec('k8s-2', 'sudo snap refresh --hold microk8s');
      await rec.run({ scenario: 'hold', spec: policy('hold'), approvePlan: true });
      await rec.run({ scenario: 'unhold', spec: policy('unhold') });
      await lab.fault('k8s-2', 'cert-expired', { cert: 'front-proxy-client.crt' });
      await rec.run({ scenario: 'expired-front-proxy', spec: { kind: 'refresh-certs', workflowType: 'refreshCerts', inventory: lab.inventory, input: { withinDays: 30 } } });
      await rec.run({ scenario: 'rotate-ca', spec: { kind: 'refresh-certs', workflowType: 'refreshCerts', inventory: lab.inventory, input: { ca: true } } });
    });
  },

  /** The rolling reboot: patch and reboot the nodes that need it; then a worker that never comes back. */
  async reboot(env, stateDir) {
    const lab = await Lab.up({ name: labName('b'), controlPlanes: 3, workers: 2, channel: '1.28/stable', formed: true, profile: 'fast', stateDir });
    const reboot = (input: Record<string, unknown>): Run['spec'] => ({ kind: 'reboot', workflowType: 'rollingReboot', inventory: lab.inventory, input: { onlyIfRequired: true, ...input } });
    return withLab(env, stateDir, lab, async (rec) => {
      for (const n of ['k8s-1', 'k8s-3', 'k8s-w1', 'k8s-w2']) await lab.fault(n, 'reboot-required');
      await rec.run({ scenario: 'patch-only-if-required', spec: reboot({ maintenanceCommand: 'echo patched', workerBatch: 2 }) });
      await lab.fault('k8s-w2', 'reboot-required');
      await lab.fault('k8s-w2', 'no-boot');
      await rec.run({ scenario: 'node-does-not-return', spec: reboot({ bootTimeoutSeconds: 5 }), expectFailure: true });
      await lab.heal('k8s-w2');
    });
  },

  /** A scheduled backup as the schedule starts it: the launcher and its child under the cluster's lock; then skipped. */
  async schedule(env, stateDir) {
    const lab = await Lab.up({ name: labName('s'), controlPlanes: 3, channel: '1.28/stable', formed: true, profile: 'fast', stateDir });
    const input = { scheduleId: `runbook-${lab.inventory.cluster}.backup`, kind: 'backup', input: { inventory: lab.inventory, requestedBy: 'fixture via schedule', yes: true, keep: 2 } };
    return withLab(env, stateDir, lab, async (rec) => {
      await rec.run({ scenario: 'backup-ran', spec: { kind: 'backup', workflowType: 'scheduledRun', inventory: lab.inventory, input }, raw: true });
    });
  },

  /** A fleet check over two clusters (the second a second name for the same nodes): the canary, then the loop. */
  async fleet(env, stateDir) {
    const lab = await Lab.up({ name: labName('f'), controlPlanes: 1, workers: 1, channel: '1.28/stable', formed: true, profile: 'fast', stateDir });
    const clusters = [lab.inventory, { ...lab.inventory, cluster: `${lab.inventory.cluster}-b` }];
    const input = { fleet: 'fixture', kind: 'check', clusters, maxParallel: 2, requestedBy: 'fixture', yes: true };
    return withLab(env, stateDir, lab, async (rec) => {
      await rec.run({ scenario: 'check-two', spec: { kind: 'fleet', workflowType: 'fleetRun', inventory: lab.inventory, input }, raw: true });
    });
  },

  /** Restore drills of a formed lab's backups: one restores and serves; an empty one (#4259) is broken; one scheduled. */
  async drill(env, stateDir) {
    const lab = await Lab.up({ name: labName('d'), controlPlanes: 3, workers: 1, channel: '1.28/stable', formed: true, profile: 'fast', stateDir });
    const cluster = lab.inventory.cluster;
    const takeBackup = async (rec: Recorder) => ((await rec.prepare({ kind: 'backup', workflowType: 'backup', inventory: lab.inventory, input: {} })) as BackupResult).backup!;
    const drill = (backup: string): Run['spec'] => ({ kind: 'drill', workflowType: 'restoreDrill', workflowId: drillWorkflowId(cluster), inventory: lab.inventory, input: { backup } });
    return withLab(env, stateDir, lab, async (rec) => {
      const good = await takeBackup(rec);
      await rec.run({ scenario: 'restores', spec: drill(good.id) });
      const empty = await takeBackup(rec);
      emptyOutBackup(empty);
      await rec.run({ scenario: 'empty-backup-broken', spec: drill(empty.id), expectFailure: true });
      const input = { scheduleId: `runbook-${cluster}.drill`, kind: 'drill', input: { inventory: lab.inventory, requestedBy: 'fixture via schedule', yes: true, backup: good.id } };
      await rec.run({ scenario: 'drill-ran', spec: { kind: 'drill', workflowType: 'scheduledRun', inventory: lab.inventory, input }, raw: true });
    });
  },

  /** replace-node: a control plane destroyed and rebuilt at its address (the stale member removed, joined again). */
  async replace(env, stateDir) {
    const lab = await Lab.up({ name: labName('n'), controlPlanes: 3, workers: 1, channel: '1.28/stable', formed: true, profile: 'fast', stateDir });
    return withLab(env, stateDir, lab, async (rec) => {
      await lab.fault('k8s-3', 'destroy');
      await lab.rebuild('k8s-3');
      await rec.run({ scenario: 'rebuilt-in-place', spec: { kind: 'replace-node', workflowType: 'replaceNode', inventory: lab.inventory, input: { node: 'k8s-3', replacement: 'k8s-3', timing: FAST_TIMING } } });
    });
  },

  /** Webhook notifications: --hold answered by plan approval, its approval and end told to a receiver; a webhook answering 500 retried, then noted. */
  async notifications(env, stateDir) {
    const lab = await Lab.up({ name: labName('w'), controlPlanes: 1, channel: '1.28/stable', formed: true, profile: 'fast', stateDir });
    const receiver = await WebhookReceiver.start();
    process.env.FIXTURE_WEBHOOK_URL = `${receiver.base}/hook`;
    process.env.FIXTURE_FAILING_WEBHOOK_URL = `${receiver.base}/fail/hook`;
    const inventory: Inventory = {
      ...lab.inventory,
      notifications: [
        { format: 'webhook', urlEnv: 'FIXTURE_WEBHOOK_URL', on: [...NOTIFICATION_EVENTS] },
        { format: 'slack', urlEnv: 'FIXTURE_FAILING_WEBHOOK_URL', on: ['end'] },
      ],
    };
    try {
      return await withLab(env, stateDir, lab, async (rec) => {
        await rec.run({ scenario: 'notified-hold', spec: { kind: 'refresh-policy', workflowType: 'refreshPolicy', inventory, input: { action: 'hold' } }, approvePlan: true });
        const told = receiver.got.map((g) => `${g.path} ${String(g.body.event ?? 'text')}`).sort();
        const expected = ['/fail/hook text', '/fail/hook text', '/fail/hook text', '/fail/hook text', '/hook approval', '/hook end'];
        if (told.join(',') !== expected.join(',')) throw new Error(`notified-hold: unexpected notices: ${told.join(', ')}`);
      });
    } finally {
      await receiver.stop();
    }
  },
};

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  for (const g of wanted) if (!GROUPS[g]) throw new Error(`unknown group ${JSON.stringify(g)}; use ${Object.keys(GROUPS).join(', ')}`);
  const groups = wanted.length ? wanted : Object.keys(GROUPS);
  const stateDir = tempStateDir('record-histories-');
  const env = await startTemporal();
  try {
    const recorded: FixtureEntry[] = [];
    for (const g of groups) recorded.push(...(await GROUPS[g](env, stateDir)));
    // Replace the re-recorded scenarios' entries (and files) only; others stay as they were.
    const redone = new Set(recorded.map((e) => `${e.workflowType}/${e.scenario}`));
    const kept = readManifest().filter((e) => !redone.has(`${e.workflowType}/${e.scenario}`));
    const stale = readManifest().filter((e) => redone.has(`${e.workflowType}/${e.scenario}`) && !recorded.some((r) => r.file === e.file));
    for (const e of stale) fs.rmSync(path.join(HISTORIES_DIR, e.file), { force: true });
    const manifest = [...kept, ...recorded].sort((a, b) => a.file.localeCompare(b.file));
    fs.writeFileSync(MANIFEST_PATH, `${JSON.stringify(manifest, null, 2)}\n`);
    console.log(`${recorded.length} fixture(s) written; manifest lists ${manifest.length}`);
  } finally {
    await env.teardown();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  },
);
