/** The Temporal CLI resolver's order, with fake executables: env var, PATH, cache, then go install, then the SDK. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { findTemporalCli, resolveTemporalCli, TemporalCliNotFound } from '../../cli/temporal-cli';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcli-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function fakeExe(rel: string, body = 'exit 0'): string {
  const file = path.join(dir, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return file;
}

test('TEMPORAL_CLI_PATH wins over PATH and the cache', () => {
  const explicit = fakeExe('explicit/temporal');
  fakeExe('onpath/temporal');
  fakeExe('cache/bin/temporal');
  const env = { TEMPORAL_CLI_PATH: explicit, PATH: path.join(dir, 'onpath'), RUNBOOK_CACHE_DIR: path.join(dir, 'cache') };
  expect(findTemporalCli(env)).toMatchObject({ path: explicit, source: 'TEMPORAL_CLI_PATH' });
});

test('PATH comes before the cache; a non-executable file on PATH is skipped', () => {
  fs.mkdirSync(path.join(dir, 'noexec'));
  fs.writeFileSync(path.join(dir, 'noexec/temporal'), 'not executable', { mode: 0o644 });
  const onPath = fakeExe('onpath/temporal');
  fakeExe('cache/bin/temporal');
  const env = { PATH: [path.join(dir, 'noexec'), path.join(dir, 'onpath')].join(':'), RUNBOOK_CACHE_DIR: path.join(dir, 'cache') };
  expect(findTemporalCli(env)).toMatchObject({ path: onPath, source: 'PATH' });
});

test('the cache is used last, and a broken TEMPORAL_CLI_PATH is reported in what was tried', () => {
  const cached = fakeExe('cache/bin/temporal');
  const env = { TEMPORAL_CLI_PATH: path.join(dir, 'missing'), PATH: path.join(dir, 'empty'), RUNBOOK_CACHE_DIR: path.join(dir, 'cache') };
  const found = findTemporalCli(env);
  expect(found).toMatchObject({ path: cached, source: 'cache' });
  expect(found.tried[0]).toContain('not an executable file');
});

test('with nothing found, go install builds into the cache (a fake go that writes the binary)', async () => {
  fakeExe('gobin/go', 'test "$1" = install || exit 9\nprintf "#!/bin/sh\\n" > "$GOBIN/temporal"; /bin/chmod +x "$GOBIN/temporal"');
  const env = { PATH: path.join(dir, 'gobin'), RUNBOOK_CACHE_DIR: path.join(dir, 'cache') };
  const lines: string[] = [];
  const r = await resolveTemporalCli({ env, log: (l) => lines.push(l), sdkDownload: false });
  expect(r).toMatchObject({ source: 'go install', path: path.join(dir, 'cache/bin/temporal') });
  expect(r.executable).toEqual({ type: 'existing-path', path: path.join(dir, 'cache/bin/temporal') });
  expect(lines.join('\n')).toContain('takes a few minutes');
});

test('a failing go install falls through to the SDK download, which is last', async () => {
  fakeExe('gobin/go', 'exit 1');
  const env = { PATH: path.join(dir, 'gobin'), RUNBOOK_CACHE_DIR: path.join(dir, 'cache') };
  const r = await resolveTemporalCli({ env });
  expect(r.source).toBe('sdk download');
  expect(r.executable).toMatchObject({ type: 'cached-download' });
  expect(r.tried.join('\n')).toMatch(/go install github.com\/temporalio\/cli\/cmd\/temporal@v1\.5\.1 \(go install exited with 1\)/);
});

test('nothing works: the error names everything it tried and how to fix it', async () => {
  const env = { PATH: path.join(dir, 'empty'), RUNBOOK_CACHE_DIR: path.join(dir, 'cache') };
  const err = await resolveTemporalCli({ env, sdkDownload: false }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(TemporalCliNotFound);
  const msg = (err as Error).message;
  expect(msg).toContain('$TEMPORAL_CLI_PATH (unset)');
  expect(msg).toContain('"temporal" on PATH (not found)');
  expect(msg).toContain(`${path.join(dir, 'cache/bin/temporal')} (not found)`);
  expect(msg).toContain('(go not on PATH)');
  expect(msg).toContain('set TEMPORAL_CLI_PATH');
  expect(msg).toContain(`GOBIN=${path.join(dir, 'cache/bin')} go install`);
});
