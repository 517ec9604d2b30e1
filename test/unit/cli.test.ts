/** CLI pieces without a server: connection precedence, list queries, the lock message, progress lines, probes. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseClockNs, parseDf, parseSudoProbe, clockSkewMs } from '../../activities/check-probes';
import { lockMessage } from '../../cli/cluster-lock';
import { listQuery } from '../../cli/commands/list';
import { resolveConnectConfig, type ConnectionFlags } from '../../local/connection';
import { CliExit } from '../../local/exit';
import { ProgressPrinter } from '../../cli/follow';
import { uiLink } from '../../cli/ui-link';
import type { RunbookProgress } from '../../common/messages';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-unit-'));
  fs.writeFileSync(
    path.join(dir, 'temporal.toml'),
    '[profile.default]\naddress = "file-host:7233"\nnamespace = "file-ns"\n\n[profile.prod]\naddress = "prod-host:7233"\nnamespace = "prod-ns"\n',
  );
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('connection: flags over env over temporal.toml', () => {
  const file = () => path.join(dir, 'temporal.toml');

  test('the file profile applies when nothing overrides it', () => {
    const cfg = resolveConnectConfig({ configFile: file() }, {});
    expect(cfg.connectionOptions.address).toBe('file-host:7233');
    expect(cfg.namespace).toBe('file-ns');
  });

  test('env beats the file, flags beat env', () => {
    const env = { TEMPORAL_ADDRESS: 'env-host:7233', TEMPORAL_NAMESPACE: 'env-ns' };
    expect(resolveConnectConfig({ configFile: file() }, env)).toMatchObject({ connectionOptions: { address: 'env-host:7233' }, namespace: 'env-ns' });
    expect(resolveConnectConfig({ configFile: file(), address: 'flag-host:1', namespace: 'flag-ns' }, env)).toMatchObject({
      connectionOptions: { address: 'flag-host:1' },
      namespace: 'flag-ns',
    });
  });

  test('--profile selects a profile; TEMPORAL_CONFIG_FILE is honoured', () => {
    expect(resolveConnectConfig({ profile: 'prod' }, { TEMPORAL_CONFIG_FILE: file() })).toMatchObject({
      connectionOptions: { address: 'prod-host:7233' },
      namespace: 'prod-ns',
    });
  });

  test('defaults: localhost:7233, namespace default', () => {
    expect(resolveConnectConfig({}, { TEMPORAL_CONFIG_FILE: path.join(dir, 'absent.toml') })).toMatchObject({
      connectionOptions: { address: 'localhost:7233' },
      namespace: 'default',
    });
  });

  test.each([
    [{ configFile: '/nonexistent/temporal.toml' }, '--config-file: config file "/nonexistent/temporal.toml": no such file'],
    [{ profile: 'nope' }, "--profile/--config-file: Profile 'nope' not found"],
    [{ tlsCertPath: '/x.crt' }, '--tls-cert-path and --tls-key-path: give both'],
  ] as Array<[ConnectionFlags, string]>)('bad connection flags are bad input (exit 2): %o', (flags, message) => {
    let err: unknown;
    try {
      resolveConnectConfig({ configFile: flags.profile ? file() : undefined, ...flags }, {});
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CliExit);
    expect((err as CliExit).code).toBe(2);
    expect((err as Error).message).toContain(message);
  });
});

describe('list query', () => {
  const bad = (m: string): never => {
    throw new CliExit(2, m);
  };
  test('filters become a visibility query', () => {
    expect(listQuery({ cluster: 'prod', kind: 'upgrade', status: 'running' }, bad)).toBe(
      "RunbookKind IS NOT NULL AND RunbookCluster = 'prod' AND RunbookKind = 'upgrade' AND ExecutionStatus = 'Running'",
    );
  });
  test('values that could break out of the quotes are refused', () => {
    expect(() => listQuery({ cluster: "x' OR '1'='1" }, bad)).toThrow(/--cluster: .* is not a cluster name/);
    expect(() => listQuery({ status: 'Dead' }, bad)).toThrow(/--status: "Dead" is not one of Running/);
  });
});

test('the lock message says who holds the cluster, who started it, when, and how to watch it', () => {
  const msg = lockMessage(
    'prod',
    { workflowId: 'runbook-prod', runId: 'r1', kind: 'upgrade', startedBy: 'alice@ops', startedAt: new Date('2026-01-01T10:00:00Z'), summary: 'upgrade prod to 1.29' },
    'http://ui/x',
    new Date('2026-01-01T10:05:00Z'),
  );
  expect(msg.split('\n')).toEqual([
    'cluster "prod" is busy: the upgrade runbook holds it (upgrade prod to 1.29).',
    '  started by alice@ops at 2026-01-01T10:00:00.000Z (5 min ago)',
    '  held by:   workflow runbook-prod, run r1',
    '  watch it:  runbook watch runbook-prod',
    '  UI:        http://ui/x',
    'One runbook runs per cluster at a time: start this one when it has ended (or stop it: runbook cancel runbook-prod).',
  ]);
});

test('UI links follow RUNBOOK_UI_URL', () => {
  const saved = process.env.RUNBOOK_UI_URL;
  try {
    delete process.env.RUNBOOK_UI_URL;
    expect(uiLink('default', 'runbook-prod', 'abc')).toBe('http://localhost:8233/namespaces/default/workflows/runbook-prod/abc/history');
    process.env.RUNBOOK_UI_URL = 'https://temporal.example/';
    expect(uiLink('ops', 'runbook-prod')).toBe('https://temporal.example/namespaces/ops/workflows/runbook-prod');
  } finally {
    if (saved === undefined) delete process.env.RUNBOOK_UI_URL;
    else process.env.RUNBOOK_UI_URL = saved;
  }
});

test('progress prints only what changed: step, node states, new notes', () => {
  const lines: string[] = [];
  const printer = new ProgressPrinter((l) => lines.push(l));
  const p: RunbookProgress = {
    kind: 'check',
    cluster: 'prod',
    step: 'checkNodes',
    startedAt: 0,
    paused: false,
    approvals: [],
    nodes: [
      { name: 'a', state: 'checking', since: 0 },
      { name: 'b', state: 'pending', since: 0 },
    ],
    notes: [],
  };
  printer.print(p);
  printer.print(p);
  printer.print({ ...p, nodes: [{ name: 'a', state: 'done', detail: 'v1.28.3', since: 1 }, p.nodes[1]], notes: ['b: slow'] });
  expect(lines).toEqual(['step: checkNodes', '  a: checking', '  b: pending', '  a: done (v1.28.3)', '  note: b: slow']);
});

describe('check probes', () => {
  test('df -Pk, including a mount point with spaces', () => {
    const out = 'Filesystem     1024-blocks     Used Available Capacity Mounted on\n/dev/vda         264212084 16424496  79076768      18% /var/snap my disk\n';
    expect(parseDf(out)).toEqual({ filesystem: '/dev/vda', totalKb: 264212084, availableKb: 79076768, usedPercent: 18, mountedOn: '/var/snap my disk' });
    expect(parseDf('df: /nope: No such file or directory\n')).toBeUndefined();
  });
  test('date +%s%N, and busybox printing a literal N', () => {
    expect(parseClockNs('1700000000123456789\n')).toBeCloseTo(1700000000123.456789, 3);
    expect(parseClockNs('1700000000N')).toBeUndefined();
  });
  test('clock skew compensates half the round trip', () => {
    expect(clockSkewMs(10_050, 10_000, 10_100)).toBe(0);
    expect(clockSkewMs(13_050, 10_000, 10_100)).toBe(3000);
  });
  test('sudo -n: a password prompt is named as such', () => {
    expect(parseSudoProbe(0, '')).toBe('ok');
    expect(parseSudoProbe(1, 'sudo: a password is required\n')).toBe('password-required');
    expect(parseSudoProbe(1, 'sudo: command not found')).toBe('failed');
  });
});
