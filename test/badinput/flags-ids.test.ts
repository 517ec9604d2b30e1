/**
 * Flags, addresses and runbook IDs a user can get wrong or forge: numbers that are not decimal, duplicates, control
 * characters, a namespace or task queue that does not exist, an ID that is empty. Each ends in one clear line and
 * its exit code, with no stack trace and nothing started.
 */
import { spawnSync } from 'child_process';
import { CLI_MAIN, runCli, startRunbook, startWorker, type TestWorker } from '../support/temporal';
import { resolveInventory } from '../../common/inventory';
import { useCorpus } from './corpus';

const c = useCorpus('badinput-flags');
const check = (file: string) => ['check', '-i', file];
const form = (file: string, ...flags: string[]) => ['form', '-i', file, '--yes', ...flags];
const ESC = '\u001b';

describe('addresses that reach no host', () => {
  test.each<[string, string, RegExp]>([
    ['0.0.0.0', '0.0.0.0', /nodes\[0\]\.address: "0\.0\.0\.0" is a "this network" address \(0\.x\.x\.x\), not a host; give the node's own IP/],
    ['0.1.2.3', '0.1.2.3', /"0\.1\.2\.3" is a "this network" address/],
    ['broadcast', '255.255.255.255', /"255\.255\.255\.255" is the broadcast address, not a host/],
    ['multicast', '224.0.0.1', /"224\.0\.0\.1" is a multicast address, not a host/],
    ['reserved', '240.0.0.1', /"240\.0\.0\.1" is a reserved address \(240\.0\.0\.0\/4\), not a host/],
  ])('%s: exit 2', async (_name, address, message) => {
    await c.refused(check(c.edit((i) => (i.nodes[0].address = address))), [message]);
  });
});

describe('numbers are plain decimal', () => {
  test.each<[string, () => string[], RegExp]>([
    ['hex --worker-concurrency 0x10', () => form(c.good(), '--worker-concurrency', '0x10'), /--worker-concurrency: "0x10" is not a whole number; write it in decimal digits/],
    ['exponent --worker-concurrency 1e1', () => form(c.good(), '--worker-concurrency', '1e1'), /--worker-concurrency: "1e1" is not a whole number/],
    ['empty --worker-concurrency', () => form(c.good(), '--worker-concurrency', ''), /--worker-concurrency: "" is not a whole number/],
    ['--max-clock-skew that rounds to 0 ms', () => form(c.good(), '--max-clock-skew', '0.0001'), /--max-clock-skew: "0\.0001" is not a number of seconds; write it in decimal, e\.g\. 2 or 0\.5 \(at most 3 decimals\)/],
    ['--max-clock-skew 0', () => form(c.good(), '--max-clock-skew', '0'), /--max-clock-skew: must be at least 0\.001 seconds \(1 ms\)/],
    ['--max-clock-skew in hex', () => form(c.good(), '--max-clock-skew', '0x2'), /--max-clock-skew: "0x2" is not a number of seconds/],
    ['backup --keep 1e3', () => ['backup', '-i', c.good(), '--keep', '1e3', '--yes'], /--keep: "1e3" is not a whole number/],
    ['upgrade --worker-batch 0x5', () => ['upgrade', '-i', c.good(), '--to', '1.29', '--worker-batch', '0x5', '--yes'], /--worker-batch: "0x5" is not a whole number/],
    ['recover-quorum --wait-timeout 1e3', () => ['recover-quorum', '-i', c.good(), '--lost', 'k8s-2', '--wait-timeout', '1e3', '--yes'], /--wait-timeout: "1e3" is not a whole number/],
    ['duplicates in --lost', () => ['recover-quorum', '-i', c.good(), '--lost', 'k8s-2,k8s-2', '--yes'], /--lost: "k8s-2" is listed twice; name each node once/],
    ['upgrade --hops 0', () => ['upgrade', '-i', c.good(), '--to', '1.29', '--hops', '0', '--yes'], /--hops: must be at least 1/],
  ])('%s: exit 2', async (_name, args, message) => {
    await c.refused(args(), [message]);
  });
});

describe('text that would reach another operator\'s terminal', () => {
  test.each<[string, () => string[], RegExp]>([
    ['backup --label with an escape sequence', () => ['backup', '-i', c.good(), '--label', `${ESC}[2J${ESC}[Hall clear`, '--yes'], /--label: must be one line of printable text \(no control characters or escape sequences\)/],
    ['backup --label with a bidi override', () => ['backup', '-i', c.good(), '--label', 'ok\u202eevil', '--yes'], /--label: must be one line of printable text/],
    ['approve --reason with an escape sequence', () => ['approve', 'runbook-x', '--reason', `${ESC}]0;pwned${ESC}\\`], /--reason: must be one line of printable text \(no control characters, escape sequences or bidi overrides\); e\.g\. --reason "change CHG-42"/],
    ['reject --reason with a carriage return', () => ['reject', 'runbook-x', '--reason', 'fine\rAPPROVED by boss'], /--reason: must be one line of printable text/],
    ['pause --reason with a bell', () => ['pause', 'runbook-x', '--reason', 'x\u0007'], /--reason: must be one line of printable text/],
    ['decide --reason with a newline', () => ['decide', 'runbook-x', 'retry', '--reason', 'a\nb'], /--reason: must be one line of printable text/],
  ])('%s: refused on input, exit 2', async (_name, args, message) => {
    await c.refused(args(), [message]);
  });
});

describe('runbook IDs and connection flags', () => {
  test.each<[string, string[], RegExp]>([
    ["approve ''", ['approve', ''], /<id>: "" is not a runbook ID; give one as runbook list prints it, e\.g\. runbook-prod/],
    ["status ''", ['status', ''], /<id>: "" is not a runbook ID/],
    ['watch with an escape sequence', ['watch', `runbook-${ESC}[2J`], /<id>: "runbook-\\u001b\[2J" is not a runbook ID/],
    ['cancel with spaces', ['cancel', 'runbook prod'], /<id>: "runbook prod" is not a runbook ID/],
    ['resume of an unknown ID', ['resume', 'runbook-nobody'], /runbook-nobody: no runbook with this workflow ID in namespace default; "runbook list" shows them/],
    ["--task-queue ''", ['--task-queue', '', 'list'], /--task-queue: "" is not a task queue name; give the workers' queue, e\.g\. --task-queue microk8s-runbooks/],
    ['--task-queue with a newline', ['--task-queue', 'a\nb', 'list'], /--task-queue: "a\\nb" is not a task queue name/],
    ['--namespace nope (was a NamespaceNotFoundError stack)', ['--namespace', 'nope', 'list'], /--namespace: "nope" does not exist on .*; fix --namespace \(or TEMPORAL_NAMESPACE\), or create it: temporal operator namespace create -n nope/],
    ['--namespace nope on a runbook start', ['--namespace', 'nope', 'check', '-i', '/dev/null'], /(--namespace: "nope" does not exist|it must be a regular file)/],
  ])('%s: exit 2, one line', async (_name, args, message) => {
    await c.refused(args, [message]);
  });

  test('an unreachable server: one line, exit 3, no tonic dump', async () => {
    const r = await c.refused(['--address', '127.0.0.1:1', 'list'], [/^cannot reach Temporal at 127\.0\.0\.1:1: connection refused$/m], { code: 3 });
    expect(r.stderr).not.toMatch(/tonic|ConnectError|Os \{/);
  });

  test('runbook worker against an unreachable server: one line, exit 3 (was a raw tonic error)', async () => {
    const r = await runCli(c.env(), ['--address', '127.0.0.1:1', 'worker'], { timeoutMs: 20_000 });
    expect(r.code).toBe(3);
    expect(r.stderr.trim().split('\n')[0]).toBe('cannot reach Temporal at 127.0.0.1:1: connection refused');
    expect(r.stderr).not.toMatch(/tonic|ConnectError/);
  });

  test('runbook --help | head: the closed pipe ends it quietly with exit 0 (was an EPIPE stack)', () => {
    const r = spawnSync('bash', ['-c', `node ${CLI_MAIN} --help | head -1; echo "exit=\${PIPESTATUS[0]}"`], { encoding: 'utf8', timeout: 20_000 });
    expect(r.stdout).toMatch(/^Usage: runbook/);
    expect(r.stdout).toMatch(/exit=0/);
    expect(r.stderr).not.toMatch(/EPIPE|at .*:\d+:\d+/);
  });
});

describe('answers that do not apply', () => {
  let worker: TestWorker;
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));

  beforeAll(async () => {
    const probe = async ({ node }: { node: { name: string; role: string; address: string; port: number } }) => {
      await gate;
      return { node: node.name, role: node.role, address: `${node.address}:${node.port}`, reachable: false, hostKey: 'unreachable', problems: ['stub'], commands: [] };
    };
    worker = await startWorker(c.env(), { stateDir: c.dir(), activities: { checkNode: probe, checkCluster: async () => ({}) } });
  });
  afterAll(async () => {
    release();
    await worker?.stop();
  });

  test('resume of a runbook that is not paused: refused (was "resumed"), exit 2, it keeps running', async () => {
    const i = c.inventory();
    i.cluster = 'badinput-notpaused';
    const h = await startRunbook(c.env(), { kind: 'check', workflowType: 'check', inventory: resolveInventory(i), input: {}, summary: 'check', yes: true }, worker.taskQueue);
    // The controller registers its handlers on the first workflow task: wait for it.
    for (let k = 0; k < 100 && (await h.describe()).raw.pendingWorkflowTask; k++) await new Promise((r) => setTimeout(r, 100));
    const r = await runCli(c.env(), ['resume', h.workflowId]);
    expect(r.stdout).not.toMatch(/resumed/);
    expect(r.stderr).toContain(`${h.workflowId}: it is not paused; nothing to resume; see what it waits for: runbook status ${h.workflowId}`);
    expect(r.code).toBe(2);
    expect((await h.describe()).status.name).toBe('RUNNING');
    await h.terminate('bad-input corpus');
  });
});
