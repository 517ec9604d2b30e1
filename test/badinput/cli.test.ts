/**
 * The bad-input corpus: the real CLI (`node dist/cli/main.js`, build first) against one dev server, one child at a
 * time. Each case asserts the exit code, a message naming the field and the fix, and that no workflow started:
 * the cluster's workflow ID is not found (strongly consistent) and the namespace's workflow count is unchanged.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import YAML from 'yaml';
import { clusterWorkflowId } from '../../common/constants';
import { runCli, startRunbook, startTemporal, startWorker, type CliResult, type TestWorker } from '../support/temporal';
import { resolveInventory } from '../../common/inventory';

const CLUSTER = 'badinput';
let env: TestWorkflowEnvironment;
let dir: string;
let keyFile: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'badinput-'));
  keyFile = path.join(dir, 'id_ed25519');
  // A real private key (0600): the CLI judges key files as OpenSSH would before anything starts.
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
  env = await startTemporal();
}, 60_000);

afterAll(async () => {
  await env?.teardown();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** An inventory as YAML holds it, before validation: any field may be set to anything. */
type RawInventory = { cluster: unknown; defaults: Record<string, unknown>; nodes: Array<Record<string, unknown>>; [key: string]: unknown };

/** A valid inventory: 3 control planes and 2 workers on addresses nothing listens on. */
function inventory(): RawInventory {
  return {
    cluster: CLUSTER,
    defaults: { user: 'ops', port: 2222, identityFile: keyFile },
    nodes: [
      { name: 'k8s-1', address: '127.0.9.1' },
      { name: 'k8s-2', address: '127.0.9.2' },
      { name: 'k8s-3', address: '127.0.9.3' },
      { name: 'k8s-w1', address: '127.0.9.4', role: 'worker' },
      { name: 'k8s-w2', address: '127.0.9.5', role: 'worker' },
    ],
  };
}

let fileSeq = 0;
/** Write an inventory (an object as YAML, or raw text) and return its path. */
function inv(content: RawInventory | string): string {
  const file = path.join(dir, `inv-${++fileSeq}.yaml`);
  fs.writeFileSync(file, typeof content === 'string' ? content : YAML.stringify(content));
  return file;
}

function edit(change: (i: RawInventory) => void): string {
  const i = inventory();
  change(i);
  return inv(i);
}

const GOOD = () => inv(inventory());

async function started(cluster = CLUSTER): Promise<boolean> {
  try {
    await env.client.workflow.getHandle(clusterWorkflowId(cluster)).describe();
    return true;
  } catch (e) {
    if (e instanceof WorkflowNotFoundError) return false;
    throw e;
  }
}

async function countAll(): Promise<number> {
  return (await env.client.workflow.count()).count;
}

/** Visibility lags a start by a moment: wait until the list shows this workflow. */
async function visible(workflowId: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if ((await env.client.workflow.count(`WorkflowId = '${workflowId}'`)).count > 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${workflowId} never became visible`);
}

/** Run the CLI; assert the exit code, every expected message, and that nothing started. */
async function refused(args: string[], expected: RegExp[], code = 2): Promise<CliResult> {
  const before = await countAll();
  const r = await runCli(env, args, { timeoutMs: 20_000 });
  const out = `${r.stderr}\n${r.stdout}`;
  for (const m of expected) expect(out).toMatch(m);
  expect(r.code).toBe(code);
  expect(await started()).toBe(false);
  expect(await countAll()).toBe(before);
  return r;
}

const check = (file: string) => ['check', '-i', file];
const form = (file: string, ...flags: string[]) => ['form', '-i', file, '--yes', ...flags];
const upgrade = (file: string, ...flags: string[]) => ['upgrade', '-i', file, '--yes', ...flags];
const recover = (file: string, ...flags: string[]) => ['recover-quorum', '-i', file, '--yes', ...flags];

describe('inventory files', () => {
  test.each<[string, () => string, RegExp[]]>([
    ['unknown top-level key', () => edit((i) => (i.clsuter = 'x')), [/\(top level\): unknown key "clsuter"; remove it or check the spelling/]],
    ['unknown node key', () => edit((i) => (i.nodes[0].colour = 'red')), [/nodes\[0\]: unknown key "colour"; remove it or check the spelling/]],
    ['unknown key in defaults', () => edit((i) => (i.defaults.password = 'x')), [/defaults: unknown key "password"/]],
    ['unknown key in paths', () => edit((i) => (i.nodes[1].paths = { snapbin: '/snap/bin' })), [/nodes\[1\]\.paths: unknown key "snapbin"/]],
    ['nodes is a string, not a list', () => edit((i) => ((i as Record<string, unknown>).nodes = 'k8s-1,k8s-2')), [/nodes: expected array; fix the value's type/]],
    ['port is a string', () => edit((i) => (i.nodes[0].port = '22')), [/nodes\[0\]\.port: expected number; fix the value's type/]],
    ['address is a number', () => edit((i) => (i.nodes[2].address = 10)), [/nodes\[2\]\.address: expected string/]],
    ['role is not a role', () => edit((i) => (i.nodes[3].role = 'master')), [/nodes\[3\]\.role: .*"controlplane".*"worker"/]],
    ['not YAML at all', () => inv('cluster: x\nnodes: [\n  - name: a'), [/: line \d+: not valid YAML/]],
    ['an empty file', () => inv(''), [/\(top level\): expected object/]],
    ['no nodes', () => edit((i) => (i.nodes = [])), [/nodes: must list at least one node/]],
    ['bad IP: octet over 255', () => edit((i) => (i.nodes[0].address = '10.0.0.300')), [/nodes\[0\]\.address: "10\.0\.0\.300" is not an IPv4 address \(microk8s join needs an IP literal\)/]],
    ['bad IP: a host name', () => edit((i) => (i.nodes[1].address = 'k8s-2.example.com')), [/nodes\[1\]\.address: "k8s-2\.example\.com" is not an IPv4 address/]],
    ['bad IP: leading zero', () => edit((i) => (i.nodes[2].address = '127.0.09.3')), [/nodes\[2\]\.address: "127\.0\.09\.3" is not an IPv4 address/]],
    ['bad IP on a jump host', () => edit((i) => (i.defaults.jump = { address: '300.1.1.1' })), [/defaults\.jump\.address: "300\.1\.1\.1" is not an IPv4 address/]],
    ['duplicate node names', () => edit((i) => (i.nodes[4].name = 'k8s-1')), [/nodes\[4\]\.name: "k8s-1" duplicates nodes\[0\]\.name; every node needs its own/]],
    ['duplicate addresses', () => edit((i) => (i.nodes[2].address = '127.0.9.1')), [/nodes\[2\]\.address: "127\.0\.9\.1" duplicates nodes\[0\]\.address; every node needs its own/]],
    ['port out of range', () => edit((i) => (i.nodes[0].port = 70000)), [/nodes\[0\]\.port: /]],
    ['host key not a fingerprint', () => edit((i) => (i.nodes[0].hostKey = 'ssh-ed25519 AAAA')), [/nodes\[0\]\.hostKey: must be an OpenSSH fingerprint like "SHA256:<43 base64 chars>"/]],
    ['unknown host key policy', () => edit((i) => (i.hostKeyPolicy = 'yes')), [/hostKeyPolicy: .*"strict".*"accept-new"/]],
  ])('%s: exit 2, names the field and the fix', async (_name, file, expected) => {
    await refused(check(file()), expected);
  });

  test('a missing inventory file', async () => {
    await refused(check(path.join(dir, 'nope.yaml')), [/nope\.yaml: no such file; pass the inventory with -i <file>/]);
  });

  test('an unreadable inventory file (a directory)', async () => {
    await refused(check(dir), [/is a directory; it must be a regular file; pass the inventory with -i <file>/]);
  });

  // The CLI checks key files it can see before starting (RUNBOOK_SKIP_KEY_CHECK=1 when the worker runs elsewhere).
  test.each<[string, () => string]>([
    ['a missing key file', () => path.join(dir, 'no-such-key')],
    ['an unreadable key file (a directory)', () => dir],
  ])('%s: exit 2 naming identityFile, nothing started', async (name, keyPath) => {
    const cluster = `badinput-key${name.length}`;
    try {
      const file = edit((i) => ((i.cluster = cluster), (i.defaults.identityFile = keyPath())));
      const r = await runCli(env, check(file), { timeoutMs: 4000, taskQueue: `nobody-${process.pid}` });
      expect(r.stderr).toMatch(/identityFile: .*(no such file|it must be a regular file)/);
      expect(r.code).toBe(2);
      expect(await started(cluster)).toBe(false);
    } finally {
      if (await started(cluster)) await env.client.workflow.getHandle(clusterWorkflowId(cluster)).terminate('bad-input corpus').catch(() => undefined);
    }
  });
});

describe('injection attempts in fields that reach a shell', () => {
  const NAME_FIX = /must be a lowercase DNS label \(a-z, 0-9, "-"\), as Kubernetes node names are/;
  const USER_FIX = /must be a plain POSIX user name \(a-z, 0-9, "_", "-"\)/;
  const PATH_FIX = /must be an absolute path of letters, digits and \. _ \/ \+ - only/;
  const LOCAL_FIX = /must not contain spaces or shell metacharacters/;
  test.each<[string, (i: RawInventory) => void, RegExp]>([
    ['node name with ;', (i) => (i.nodes[0].name = 'k8s-1;reboot'), NAME_FIX],
    ['node name with $()', (i) => (i.nodes[1].name = '$(reboot)'), NAME_FIX],
    ['node name with backticks', (i) => (i.nodes[1].name = '`reboot`'), NAME_FIX],
    ['node name with a newline', (i) => (i.nodes[2].name = 'k8s-3\nreboot'), NAME_FIX],
    ['node name with quotes', (i) => (i.nodes[2].name = "k8s-3'\"x"), NAME_FIX],
    ['cluster name with ;', (i) => (i.cluster = 'prod;rm -rf /'), NAME_FIX],
    ['user with ;', (i) => (i.defaults.user = 'root;id'), USER_FIX],
    ['user with $()', (i) => (i.nodes[0].user = '$(id)'), USER_FIX],
    ['user with backticks', (i) => (i.nodes[0].user = '`id`'), USER_FIX],
    ['user with a newline', (i) => (i.nodes[0].user = 'ops\nid'), USER_FIX],
    ['snapBin with ;', (i) => (i.defaults.paths = { snapBin: '/snap/bin;reboot' }), PATH_FIX],
    ['snapData with $()', (i) => (i.nodes[0].paths = { snapData: '/var/snap/$(id)' }), PATH_FIX],
    ['snap with backticks', (i) => (i.nodes[0].paths = { snap: '/snap/`id`' }), PATH_FIX],
    ['snap path with a quote', (i) => (i.nodes[0].paths = { snap: "/snap/it's" }), PATH_FIX],
    ['snap path with a newline', (i) => (i.nodes[0].paths = { snapBin: '/snap/bin\n/tmp' }), PATH_FIX],
    ['path escaping with ..', (i) => (i.nodes[0].paths = { snapData: '/var/snap/../../etc' }), /must not contain "\.\."/],
    ['identityFile with ;', (i) => (i.defaults.identityFile = '~/.ssh/id;reboot'), LOCAL_FIX],
    ['knownHosts with $()', (i) => (i.knownHosts = '/tmp/$(id)'), LOCAL_FIX],
  ])('%s: exit 2', async (_name, change, fix) => {
    await refused(check(edit(change)), [fix]);
  });
});

describe('flags', () => {
  const CHANNEL_FIX = /--to: .* is not a MicroK8s channel; use <1\.NN>\[\/stable\|candidate\|beta\|edge\], e\.g\. 1\.29\/stable/;
  test.each<[string, () => string[], RegExp[]]>([
    ['an unknown flag', () => ['check', '-i', GOOD(), '--colour'], [/unknown option '--colour'/]],
    ['no -i', () => ['check'], [/required option '-i, --inventory <file>' not specified/]],
    ['form --worker-concurrency 0', () => form(GOOD(), '--worker-concurrency', '0'), [/--worker-concurrency: must be at least 1/]],
    ['form --worker-concurrency abc', () => form(GOOD(), '--worker-concurrency', 'abc'), [/--worker-concurrency: "abc" is not a whole number; write it in decimal digits, e\.g\. 5/]],
    ['form --max-clock-skew -1', () => form(GOOD(), '--max-clock-skew', '-1'), [/--max-clock-skew: "-1" is not a number of seconds; write it in decimal, e\.g\. 2 or 0\.5/]],
    ['form with no control-plane node', () => form(edit((i) => i.nodes.forEach((n) => (n.role = 'worker')))), [/no node has role controlplane; a cluster needs at least one/]],
    ['remove-node of a node not in the inventory', () => ['remove-node', '-i', GOOD(), '--node', 'k8s-9', '--yes'], [/--node: "k8s-9" is not in .*; use one of k8s-1, k8s-2/]],
    ['remove-node --node with $()', () => ['remove-node', '-i', GOOD(), '--node', '$(reboot)', '--yes'], [/--node: "\$\(reboot\)" is not in .*; use one of/]],
    ['upgrade --to with ;', () => upgrade(GOOD(), '--to', '1.29/stable;reboot'), [CHANNEL_FIX]],
    ['upgrade --to with $()', () => upgrade(GOOD(), '--to', '$(reboot)'), [CHANNEL_FIX]],
    ['upgrade --to with backticks', () => upgrade(GOOD(), '--to', '1.29/`id`'), [CHANNEL_FIX]],
    ['upgrade --to with a newline', () => upgrade(GOOD(), '--to', '1.29/stable\nreboot'), [CHANNEL_FIX]],
    ['upgrade --to with a quote', () => upgrade(GOOD(), '--to', "1.29'"), [CHANNEL_FIX]],
    ['malformed channel: risk misspelt', () => upgrade(GOOD(), '--to', '1.29/stabel'), [CHANNEL_FIX]],
    ['malformed channel: not a track', () => upgrade(GOOD(), '--to', 'banana'), [CHANNEL_FIX]],
    ['malformed channel: too many parts', () => upgrade(GOOD(), '--to', '1.29/stable/a/b'), [CHANNEL_FIX]],
    ['upgrade --worker-batch 0', () => upgrade(GOOD(), '--to', '1.29', '--worker-batch', '0'), [/--worker-batch: must be at least 1/]],
    ['upgrade --drain-timeout 5x', () => upgrade(GOOD(), '--to', '1.29', '--drain-timeout', '5x'), [/--drain-timeout: "5x" is not a duration; use e\.g\. 5m/]],
    ['upgrade --approve sometimes', () => upgrade(GOOD(), '--to', '1.29', '--approve', 'sometimes'), [/--approve: must be none, each or on-failure/]],
    ['recover-quorum without --lost', () => recover(GOOD()), [/--lost: is required: name the control-plane nodes lost for good, e\.g\. --lost k8s-2,k8s-3/]],
    ['recovery with no survivors', () => recover(GOOD(), '--lost', 'k8s-1,k8s-2,k8s-3'), [/--lost: lists every control-plane node; at least one survivor is needed/]],
    ['recovery: a lost node not in the inventory', () => recover(GOOD(), '--lost', 'k8s-9'), [/--lost k8s-9: not in the inventory \(nodes: k8s-1/]],
    ['recovery: a lost worker', () => recover(GOOD(), '--lost', 'k8s-w1'), [/--lost k8s-w1: is a worker, which holds no dqlite data; name a control-plane node/]],
    ['recovery: --lost with ;', () => recover(GOOD(), '--lost', 'k8s-2;reboot'), [/--lost: must be a node name from the inventory \(lowercase DNS label\)/]],
    ['recovery: template also lost', () => recover(GOOD(), '--lost', 'k8s-2,k8s-3', '--template', 'k8s-2'), [/--template k8s-2: is also in --lost; pick a survivor \(k8s-1\)/]],
    ['backup --keep 0', () => ['backup', '-i', GOOD(), '--keep', '0', '--yes'], [/--keep: must be at least 1/]],
    ['backup --label with a newline', () => ['backup', '-i', GOOD(), '--label', 'a\nb', '--yes'], [/--label: must be one line/]],
    ['restore-backup --backup ../etc/passwd', () => ['restore-backup', '-i', GOOD(), '--node', 'k8s-1', '--backup', '../etc/passwd', '--yes'], [/--backup: must be a backup id as printed by runbook backups list/]],
    ['list --cluster with a quote', () => ['list', '--cluster', "x' OR RunbookKind != '"], [/--cluster: .* is not a cluster name \(letters, digits, \. _ -\)/]],
    ['list --status unknown', () => ['list', '--status', 'done'], [/--status: "done" is not one of Running, Failed, Completed/]],
  ])('%s', async (_name, args, expected) => {
    await refused(args(), expected);
  });

  test('a downgrade or a skipped minor needs live state, so the CLI accepts the channel (the plan decides)', () => {
    // The installed minor is only known from the nodes: planUpgrade (workflows/upgrade-plan.ts, test/unit/upgrade-plan.test.ts)
    // refuses a downgrade at plan time, before any change, and turns a skipped minor into one hop per minor.
    expect(resolveInventory(inventory()).nodes).toHaveLength(5);
  });
});

describe('operating on runbooks by ID', () => {
  let worker: TestWorker;
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));

  beforeAll(async () => {
    // A check whose node probes wait until released: a running runbook with no approval pending.
    const probe = async ({ node }: { node: { name: string; role: string; address: string; port: number } }) => {
      await gate;
      return { node: node.name, role: node.role, address: `${node.address}:${node.port}`, reachable: false, hostKey: 'unreachable', problems: ['stub'], commands: [] };
    };
    worker = await startWorker(env, { stateDir: dir, activities: { checkNode: probe, checkCluster: async () => ({}) } });
  });
  afterAll(async () => {
    release();
    await worker?.stop();
  });

  async function runningCheck(cluster: string) {
    const i = inventory();
    i.cluster = cluster;
    return startRunbook(env, { kind: 'check', workflowType: 'check', inventory: resolveInventory(i), input: {}, summary: 'check', yes: true }, worker.taskQueue);
  }

  test('approve a runbook with no pending approval: refused by the workflow, exit 2 pointing at status', async () => {
    const h = await runningCheck('badinput-running');
    await visible(h.workflowId);
    const before = await countAll();
    const r = await runCli(env, ['approve', h.workflowId, '--reason', 'go']);
    expect(r.stderr).toContain(`${h.workflowId}: nothing is waiting for approval; see what it waits for: runbook status ${h.workflowId}`);
    expect(r.code).toBe(2);
    expect(await countAll()).toBe(before);
    expect((await h.describe()).status.name).toBe('RUNNING');
  });

  test('cancel a finished runbook: exit 2 saying it already ended, nothing started', async () => {
    const h = await runningCheck('badinput-finished');
    release();
    await h.result();
    await visible(h.workflowId);
    expect((await h.describe()).status.name).toBe('COMPLETED');
    const before = await countAll();
    const r = await runCli(env, ['cancel', h.workflowId]);
    expect(await countAll()).toBe(before);
    expect(r.stderr).toMatch(new RegExp(`^${h.workflowId}: .*already (completed|ended).*nothing to cancel`, 'im'));
    expect(r.code).toBe(2);
  });

  test('approve an unknown ID: exit 2 naming it and where to look', async () => {
    const r = await runCli(env, ['approve', 'runbook-nobody', '--reason', 'go']);
    expect(r.stderr).toMatch(/^runbook-nobody: no runbook with this workflow ID in namespace default; "runbook list" shows them/im);
    expect(r.code).toBe(2);
  });
});

test('the no-workflow check can fail: a valid inventory starts a runbook, and the check sees it', async () => {
  const control = 'badinput-control';
  const before = await countAll();
  expect(await started(control)).toBe(false);
  // No worker polls this queue: the CLI starts the runbook and follows it until the timeout kills it.
  const r = await runCli(env, check(edit((i) => (i.cluster = control))), { timeoutMs: 3000, taskQueue: `nobody-${process.pid}` });
  expect(r.stdout).toContain(`started check on cluster ${control}`);
  expect(await started(control)).toBe(true);
  await visible(clusterWorkflowId(control));
  expect(await countAll()).toBe(before + 1);
  await env.client.workflow.getHandle(clusterWorkflowId(control)).terminate('bad-input corpus control case');
});
