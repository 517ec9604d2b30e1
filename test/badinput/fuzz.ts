/**
 * Fuzzing the CLI's validation (fast-check): random inventories and random flags through the real commander
 * program, in process. Every case must end with exit 0 (valid: it would start), 2 (bad input) or 3 (no server),
 * within a bound, with no stack trace and no raw control character on the terminal. Where a command would talk to
 * Temporal, the client is replaced by a refusal that counts as "would start": validation is what is under test.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import fc from 'fast-check';
import YAML from 'yaml';
import { CliExit } from '../../local/exit';
import { printable } from '../../common/text';
import { buildProgram, RunbookCli } from '../../cli/program';

class WouldStart extends Error {}
class Exited extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

const STACK = /^\s+at .+:\d+:\d+\)?$/m;
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

export interface FuzzStats {
  cases: number;
  byExit: Record<string, number>;
  failures: Array<{ argv: string[]; inventory?: string; problem: string }>;
  slowestMs: number;
}

const names = fc.oneof(fc.constantFrom('k8s-1', 'k8s-2', 'k8s-3', 'w1', 'prod', '', 'a'.repeat(70)), fc.string({ maxLength: 12 }));
const weird = fc.oneof(
  fc.string({ maxLength: 16 }),
  fc.string({ unit: 'binary', maxLength: 16 }),
  fc.constantFrom('0x10', '1e3', '-1', '0', '0.0001', '99999999999', '', ' ', '$(reboot)', '`id`', ';rm -rf /', '\u001b[2J', '../../etc/passwd', '/dev/zero', 'NaN'),
);
const address = fc.oneof(fc.constantFrom('127.0.9.1', '0.0.0.0', '255.255.255.255', '224.0.0.1', '10.0.0.300', 'host.example'), fc.ipV4(), weird);
const nodeGen = fc.record(
  {
    name: fc.oneof(names, weird),
    address,
    role: fc.oneof(fc.constantFrom('controlplane', 'worker'), weird),
    port: fc.oneof(fc.integer({ min: -5, max: 70000 }), weird),
    user: fc.oneof(fc.constantFrom('ops', 'root'), weird),
    hostKey: weird,
    failureDomain: fc.oneof(fc.integer(), weird),
  },
  { requiredKeys: ['name', 'address'] },
);

function inventoryGen(files: Record<string, string>) {
  return fc.record(
    {
      cluster: fc.oneof(names, weird),
      knownHosts: fc.constantFrom(...Object.values(files), '/dev/zero', '~/.ssh/known_hosts', 'rel/known_hosts'),
      hostKeyPolicy: fc.oneof(fc.constantFrom('strict', 'accept-new'), weird),
      defaults: fc.record({ user: fc.constantFrom('ops'), identityFile: fc.constantFrom(...Object.values(files), '/dev/zero', 'rel/key') }, { requiredKeys: [] }),
      nodes: fc.oneof(fc.array(nodeGen, { maxLength: 6 }), weird),
      extra: weird,
    },
    { requiredKeys: ['cluster', 'nodes'] },
  );
}

const COMMANDS: Array<[string[], string[]]> = [
  [['check'], ['--json']],
  [['form'], ['--plan', '--yes', '--worker-concurrency', '--max-clock-skew', '--clean-stale']],
  [['remove-node'], ['--node', '--force-lost', '--yes']],
  [['upgrade'], ['--to', '--hops', '--worker-batch', '--approve', '--rollback', '--on-failure', '--drain-timeout', '--soak', '--step-timeout', '--yes', '--plan']],
  [['backup'], ['--node', '--keep', '--label', '--stopped', '--yes']],
  [['restore-backup'], ['--node', '--backup', '--yes']],
  [['recover-quorum'], ['--lost', '--template', '--fence', '--wait-timeout', '--yes']],
];
const ID_COMMANDS = ['status', 'watch', 'approve', 'reject', 'pause', 'resume', 'cancel', 'history'];

function argvGen(inventoryFile: string) {
  const withInventory = fc.constantFrom(...COMMANDS).chain(([cmd, flags]) =>
    fc.array(fc.tuple(fc.constantFrom(...flags, '--bogus'), fc.oneof(weird, fc.constantFrom('1.29', '1.99', 'k8s-1', 'k8s-2,k8s-2', '5m', '2'))), { maxLength: 4 }).map((pairs) => [
      ...cmd,
      '-i',
      inventoryFile,
      ...pairs.flatMap(([f, v]) => (['--plan', '--yes', '--json', '--clean-stale', '--force-lost', '--stopped', '--fence'].includes(f) ? [f] : [f, v])),
    ]),
  );
  const byId = fc.tuple(fc.constantFrom(...ID_COMMANDS), weird, fc.option(weird, { nil: undefined })).map(([cmd, id, reason]) => [cmd, id, ...(reason !== undefined ? ['--reason', reason] : [])]);
  const globals = fc.tuple(fc.constantFrom('--task-queue', '--namespace', '--address'), weird).map(([f, v]) => [f, v, 'list']);
  const listing = fc.tuple(fc.constantFrom('--cluster', '--kind', '--status', '--limit'), weird).map(([f, v]) => ['list', f, v]);
  const backups = fc.tuple(fc.constantFrom('--cluster', '--node', '-i'), weird).map(([f, v]) => ['backups', 'list', f, v]);
  const unknown = fc.tuple(weird, weird).map(([a, b]) => [a, b]);
  return fc.oneof(withInventory, byId, globals, listing, backups, unknown);
}

/** Run one argv through the program in process; the exit code it would end with, and what it printed. */
async function runOnce(argv: string[], boundMs: number): Promise<{ code: number | 'hang' | 'crash'; out: string; detail?: string }> {
  let out = '';
  const write = (chunk: unknown) => {
    out += String(chunk);
    return true;
  };
  const saved = { stdout: process.stdout.write, stderr: process.stderr.write, exit: process.exit, exitCode: process.exitCode, log: console.log, error: console.error };
  // jest decorates console output with a call site: take it raw, as a terminal would.
  console.log = (...args: unknown[]) => write(`${args.join(' ')}\n`);
  console.error = console.log;
  process.stdout.write = write as typeof process.stdout.write;
  process.stderr.write = write as typeof process.stderr.write;
  process.exit = ((code?: number) => {
    throw new Exited(code ?? 0);
  }) as typeof process.exit;
  process.exitCode = undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const { program } = buildProgram();
    const run = program.parseAsync(['node', 'runbook', ...argv]).then(() => (typeof process.exitCode === 'number' ? process.exitCode : 0));
    const hang = new Promise<'hang'>((r) => (timer = setTimeout(() => r('hang'), boundMs)));
    const code = await Promise.race([run, hang]);
    return { code, out };
  } catch (e) {
    if (e instanceof WouldStart) return { code: 0, out };
    if (e instanceof Exited) return { code: e.code, out };
    if (e instanceof CliExit) return { code: e.code, out: out + printable(e.message) };
    return { code: 'crash', out, detail: (e as Error).stack ?? String(e) };
  } finally {
    clearTimeout(timer);
    process.stdout.write = saved.stdout;
    process.stderr.write = saved.stderr;
    process.exit = saved.exit;
    process.exitCode = saved.exitCode;
    console.log = saved.log;
    console.error = saved.error;
  }
}

/** Fuzz for `seconds`; a seed replays a run. */
export async function fuzzCli(seconds: number, seed = Date.now() % 2 ** 31): Promise<FuzzStats & { seed: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-fuzz-'));
  const savedEnv = { ...process.env };
  const savedClient = RunbookCli.prototype.client;
  RunbookCli.prototype.client = () => Promise.reject(new WouldStart('validation passed'));
  process.env.RUNBOOK_STATE_DIR = path.join(dir, 'state');
  process.env.RUNBOOK_CODEC_KEY_FILE = '';
  const files = { kh: path.join(dir, 'known_hosts'), fifo: path.join(dir, 'fifo'), dir: dir, key: path.join(dir, 'key') };
  fs.writeFileSync(files.kh, '# empty\n');
  fs.writeFileSync(files.key, 'not a key\n', { mode: 0o600 });
  execFileSync('mkfifo', [files.fifo]);
  const stats: FuzzStats = { cases: 0, byExit: {}, failures: [], slowestMs: 0 };
  const deadline = Date.now() + seconds * 1000;
  try {
    await fc.assert(
      fc.asyncProperty(inventoryGen(files), fc.boolean(), fc.nat(), async (inventory, raw, pick) => {
        if (Date.now() > deadline) return;
        const file = path.join(dir, 'inv.yaml');
        fs.writeFileSync(file, raw ? YAML.stringify(inventory) : `${JSON.stringify(inventory).slice(0, pick % 400)}`);
        const argv = fc.sample(argvGen(file), { numRuns: 1, seed: pick })[0];
        const t0 = Date.now();
        const r = await runOnce(argv, 5000);
        stats.slowestMs = Math.max(stats.slowestMs, Date.now() - t0);
        stats.cases++;
        stats.byExit[String(r.code)] = (stats.byExit[String(r.code)] ?? 0) + 1;
        const problem =
          r.code === 'hang'
            ? 'did not end within 5 s'
            : r.code === 'crash'
              ? `crashed: ${r.detail?.split('\n')[0]}`
              : ![0, 2, 3].includes(r.code)
                ? `exit ${r.code}`
                : STACK.test(r.out)
                  ? 'printed a stack trace'
                  : RAW_CONTROL.test(r.out.replace(/\x1b\[\d*[FJ]/g, ''))
                    ? 'printed a raw control character'
                    : undefined;
        if (problem && stats.failures.length < 20) stats.failures.push({ argv, inventory: fs.readFileSync(file, 'utf8').slice(0, 500), problem });
      }),
      { seed, numRuns: 1_000_000, interruptAfterTimeLimit: seconds * 1000, endOnFailure: false },
    );
  } finally {
    RunbookCli.prototype.client = savedClient;
    process.env = savedEnv;
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { ...stats, seed };
}
