/**
 * `runbook stack` without starting it: the pins shared with docker-compose.yml, the derived ports, the generated
 * configuration, the pid identity check, and flags refused with exit 2 before anything starts.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import YAML from 'yaml';
import { buildProgram } from '../../cli/program';
import { SearchAttributeType } from '@temporalio/common';
import { SEARCH_ATTRIBUTES } from '../../common/constants';
import { DEFAULT_NAMESPACE, TEMPORAL_CLI_VERSION, TEMPORAL_SERVER_VERSION, TEMPORAL_UI_VERSION } from '../../common/temporal-versions';
import { CliExit } from '../../local/exit';
import { STACK_BINARIES } from '../../local/stack/binaries';
import { componentPort, servicePorts, SERVER_PORT_SPAN, stackPaths } from '../../local/stack/layout';
import { isAlive, readPidRecord, runningRecord, spawnDetached, stopComponent } from '../../local/stack/processes';
import { serverConfig, uiConfig } from '../../local/stack/server-config';

const ROOT = path.resolve(__dirname, '../..');
const compose = YAML.parse(fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8')) as {
  services: Record<string, { image?: string; command?: string | string[] }>;
};
const image = (service: string) => compose.services[service].image ?? '';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stack-unit-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('one source of truth with docker-compose.yml', () => {
  test('the server, admin-tools and UI image tags are the pinned releases the stack builds', () => {
    expect(image('temporal')).toBe(`temporalio/auto-setup:${TEMPORAL_SERVER_VERSION}`);
    expect(image('admin-tools')).toMatch(new RegExp(`^temporalio/admin-tools:${TEMPORAL_SERVER_VERSION.replace(/\./g, '\\.')}-.*-cli-${TEMPORAL_CLI_VERSION.replace(/\./g, '\\.')}$`));
    expect(image('temporal-ui')).toBe(`temporalio/ui:${TEMPORAL_UI_VERSION}`);
    expect(STACK_BINARIES.server.module).toBe(`go.temporal.io/server/cmd/server@v${TEMPORAL_SERVER_VERSION}`);
    expect(STACK_BINARIES.sqlTool.module).toBe(`go.temporal.io/server/cmd/tools/sql@v${TEMPORAL_SERVER_VERSION}`);
    expect(STACK_BINARIES.uiServer.module).toBe(`github.com/temporalio/ui-server/v2/cmd/server@v${TEMPORAL_UI_VERSION}`);
  });

  test("admin-tools registers exactly SEARCH_ATTRIBUTES, as Keyword, in DEFAULT_NAMESPACE", () => {
    const script = ([] as string[]).concat(compose.services['admin-tools'].command ?? []).join('\n');
    const loop = /for sa in ([A-Za-z ]+);/.exec(script);
    expect(loop?.[1].trim().split(/\s+/)).toEqual(SEARCH_ATTRIBUTES.map((k) => k.name));
    expect(SEARCH_ATTRIBUTES.every((k) => k.type === SearchAttributeType.KEYWORD)).toBe(true);
    expect(script).toContain(`--namespace ${DEFAULT_NAMESPACE}`);
  });
});

describe('ports and configuration', () => {
  test('every server port comes from --port, in a block of SERVER_PORT_SPAN; the worker is seen on its membership port', () => {
    const p = servicePorts(17233);
    const all = Object.values(p).flatMap((s) => [s.grpc, s.membership]).sort();
    expect(all).toEqual(Array.from({ length: SERVER_PORT_SPAN }, (_, i) => 17233 + i));
    expect(p.frontend.grpc).toBe(17233);
    expect(componentPort('worker', { port: 17233, uiPort: 1, pgPort: 2 })).toBe(p.worker.membership);
  });

  test('the server config: postgres12 for both stores on loopback, no shared pprof or metrics port, the dynamic config file', () => {
    const paths = stackPaths(dir);
    const cfg = serverConfig(paths, { port: 17233, uiPort: 18080, pgPort: 15433 }, 'secret');
    for (const store of Object.values(cfg.persistence.datastores)) {
      expect(store.sql).toMatchObject({ pluginName: 'postgres12', connectAddr: '127.0.0.1:15433', user: 'temporal', password: 'secret' });
    }
    expect(cfg.persistence.numHistoryShards).toBe(4);
    expect(cfg.global).toEqual({ membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' } });
    expect((cfg.services as Record<string, unknown>).frontend).toHaveProperty('rpc');
    expect((cfg.services as Record<string, { rpc: unknown }>).frontend.rpc).toEqual({ grpcPort: 17233, membershipPort: 17237, bindOnLocalHost: true });
    expect(cfg.dynamicConfigClient.filepath).toBe(paths.dynamicConfig);
    expect(path.relative(dir, paths.root)).toBe('stack');
    expect(uiConfig({ port: 17233, uiPort: 18080, pgPort: 15433 })).toMatchObject({ temporalGrpcAddress: '127.0.0.1:17233', host: '127.0.0.1', port: 18080 });
  });
});

describe('pid files and identity', () => {
  const spawnSleeper = (runDir: string) =>
    spawnDetached({
      component: 'ui',
      port: 1,
      binary: process.execPath,
      args: ['-e', 'setTimeout(() => {}, 60000)', runDir],
      identity: [runDir],
      logFile: path.join(runDir, 'ui.log'),
      runDir,
    });

  test('a recorded pid is signalled only while its cmdline still names our binary and marker', async () => {
    const rec = await spawnSleeper(dir);
    expect(runningRecord(dir, 'ui')?.pid).toBe(rec.pid);
    // A recycled pid: the record now names this jest process, whose cmdline has no marker. It must not be touched.
    fs.writeFileSync(path.join(dir, 'ui.pid'), JSON.stringify({ ...rec, pid: process.pid }));
    expect(runningRecord(dir, 'ui')).toBeUndefined();
    expect(await stopComponent(dir, 'ui')).toBe('not running');
    expect(isAlive(process.pid)).toBe(true);
    expect(readPidRecord(dir, 'ui')).toBeUndefined();
    // The real one still stops, by SIGTERM.
    fs.writeFileSync(path.join(dir, 'ui.pid'), JSON.stringify(rec));
    expect(await stopComponent(dir, 'ui')).toBe('stopped');
    expect(isAlive(rec.pid)).toBe(false);
  });

  test('a pid file that is not a regular file or not JSON is no record', () => {
    fs.mkdirSync(path.join(dir, 'postgres.pid'));
    fs.writeFileSync(path.join(dir, 'ui.pid'), '{"pid": ');
    expect(readPidRecord(dir, 'postgres')).toBeUndefined();
    expect(readPidRecord(dir, 'ui')).toBeUndefined();
  });
});

describe('bad flags exit 2 naming the flag, and start nothing', () => {
  async function run(args: string[]): Promise<{ code: number; message: string }> {
    const { program } = buildProgram();
    try {
      await program.parseAsync(['node', 'runbook', ...args]);
      return { code: 0, message: '' };
    } catch (e) {
      if (!(e instanceof CliExit)) throw e;
      return { code: e.code, message: e.message };
    }
  }

  test.each([
    [['--port', '0x1F90'], '--port'],
    [['--port', '65530'], '--port'],
    [['--ui-port', '70000'], '--ui-port'],
    [['--pg-port', 'abc'], '--pg-port'],
    [['--pg-port', ''], '--pg-port'],
  ])('stack up %j', async (flags, flag) => {
    const r = await run(['stack', 'up', '--state-dir', dir, ...flags]);
    expect(r.code).toBe(2);
    expect(r.message.startsWith(`${flag}:`)).toBe(true);
    expect(r.message).toMatch(/e\.g\.|pick|port/);
    expect(fs.existsSync(path.join(dir, 'stack'))).toBe(false);
  });

  test.each([['up'], ['down', '--purge'], ['status']])('stack %s with an empty --state-dir', async (...cmd) => {
    const r = await run(['stack', ...cmd, '--state-dir', ' ']);
    expect(r.code).toBe(2);
    expect(r.message).toMatch(/^--state-dir: .* e\.g\. --state-dir /);
  });
});
