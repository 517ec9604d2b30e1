/**
 * The README's quick start on a fresh checkout: a clone of this repository into an empty directory, without
 * node_modules or dist/, runs what `npm test` runs before jest (bin/setup.js, the build, the Temporal CLI). It must
 * install the node modules itself and end with a built CLI and a Temporal binary, not `tsc: not found`.
 * Not on the shared fixture (test/support/e2e.ts): it needs no server, only a fresh clone.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { REPO_ROOT } from '../support/temporal';

jest.setTimeout(600_000);

test('a fresh clone sets itself up: node modules, build, Temporal CLI', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quick-start-'));
  try {
    const clone = path.join(dir, 'repo');
    execFileSync('git', ['clone', '--quiet', REPO_ROOT, clone], { stdio: 'ignore' });
    expect(fs.existsSync(path.join(clone, 'node_modules'))).toBe(false);
    // `npm test` is "node bin/setup.js && npm run build && node dist/cli/main.js temporal-cli --install && jest":
    // everything but jest (which would run this suite again).
    const script = JSON.parse(fs.readFileSync(path.join(clone, 'package.json'), 'utf8')).scripts.test as string;
    const setup = script.replace(/ && jest .*$/, '');
    expect(setup).toContain('node bin/setup.js');
    const r = spawnSync('sh', ['-c', setup], { cwd: clone, encoding: 'utf8', env: { ...process.env, npm_config_loglevel: 'error' } });
    expect([r.status, `${r.stderr}`.match(/tsc: not found|command not found/)?.[0] ?? '']).toEqual([0, '']);
    expect(fs.existsSync(path.join(clone, 'node_modules/.package-lock.json'))).toBe(true);
    expect(fs.existsSync(path.join(clone, 'dist/cli/main.js'))).toBe(true);
    const temporal = execFileSync('node', ['dist/cli/main.js', 'temporal-cli', '--install'], { cwd: clone, encoding: 'utf8' }).trim();
    expect(execFileSync(temporal, ['--version'], { encoding: 'utf8' })).toMatch(/temporal version/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
