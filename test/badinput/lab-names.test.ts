/**
 * `runbook lab` with a crafted name or a crafted lab.json: the name is validated like `lab up` for every command,
 * teardown removes only the lab's own directory, and it signals only sshd processes the lab started.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CLI_MAIN } from '../support/temporal';
import { execFileSync } from 'child_process';

let root: string;
let stateDir: string;
let victim: string;
let bystander: ChildProcess;

function lab(...args: string[]): { code: number; stderr: string; stdout: string } {
  try {
    const stdout = execFileSync(process.execPath, [CLI_MAIN, 'lab', ...args, '--state-dir', stateDir], { encoding: 'utf8', stdio: 'pipe', timeout: 20_000 });
    return { code: 0, stdout, stderr: '' };
  } catch (e) {
    const err = e as { status: number; stderr: string; stdout: string };
    return { code: err.status, stderr: String(err.stderr), stdout: String(err.stdout) };
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'lab-names-'));
  stateDir = path.join(root, 'state');
  victim = path.join(root, 'victim');
  fs.mkdirSync(victim, { recursive: true });
  fs.writeFileSync(path.join(victim, 'precious.txt'), 'keep me\n');
  // A process the lab did not start, which a crafted pid file names.
  bystander = spawn('sleep', ['300'], { stdio: 'ignore' });
  // A crafted lab: its lab.json names the victim directory, its pid file names the bystander.
  const evil = path.join(stateDir, 'labs', 'evil');
  fs.mkdirSync(path.join(evil, 'nodes', 'k8s-1', 'sshd'), { recursive: true });
  fs.writeFileSync(path.join(evil, 'nodes', 'k8s-1', 'sshd', 'sshd.pid'), `${bystander.pid}\n`);
  fs.writeFileSync(
    path.join(evil, 'lab.json'),
    JSON.stringify({ name: 'evil', dir: victim, stateDir, slot: 250, createdAt: new Date().toISOString(), profile: 'fast', timeScale: 1, channel: '1.28/stable', formed: false, user: 'x', nodes: [] }),
  );
  // A crafted lab whose lab.json is honest about its directory but whose pid file names the bystander.
  const liar = path.join(stateDir, 'labs', 'liar');
  fs.mkdirSync(path.join(liar, 'nodes', 'k8s-1', 'sshd'), { recursive: true });
  fs.writeFileSync(path.join(liar, 'nodes', 'k8s-1', 'sshd', 'sshd.pid'), `${bystander.pid}\n`);
  fs.writeFileSync(path.join(liar, 'inventory.yaml'), 'cluster: liar\nnodes:\n  - name: k8s-1\n    address: 127.0.250.1\n');
  fs.writeFileSync(
    path.join(liar, 'lab.json'),
    JSON.stringify({ name: 'liar', dir: liar, stateDir, slot: 250, createdAt: new Date().toISOString(), profile: 'fast', timeScale: 1, channel: '1.28/stable', formed: false, user: 'x', nodes: [] }),
  );
});

afterAll(() => {
  bystander.kill('SIGKILL');
  fs.rmSync(root, { recursive: true, force: true });
});

test.each([
  ['down', ['down', '--name', '../../victim']],
  ['status', ['status', '--name', '../../victim']],
  ['journal', ['journal', '--name', '../victim']],
  ['fault', ['fault', 'k8s-1', 'crash', '--name', '../../x']],
  ['heal', ['heal', '--name', '/etc']],
  ['down with a dot name', ['down', '--name', '..']],
])('lab %s --name <path>: exit 2 naming --name, nothing touched', (_cmd, args) => {
  const r = lab(...args);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/--name: ".*" is not a lab name: a lowercase DNS label \(a-z, 0-9, "-"\), e\.g\. --name demo/);
  expect(fs.readFileSync(path.join(victim, 'precious.txt'), 'utf8')).toBe('keep me\n');
  expect(alive(bystander.pid!)).toBe(true);
});

test('a lab.json naming another directory: refused, that directory and the pid it names survive', () => {
  const r = lab('down', '--name', 'evil');
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/lab\.json names another lab or directory; not touching it/);
  expect(fs.readFileSync(path.join(victim, 'precious.txt'), 'utf8')).toBe('keep me\n');
  expect(alive(bystander.pid!)).toBe(true);
});

test('a pid file naming a process the lab did not start: teardown leaves it alive', () => {
  const r = lab('down', '--name', 'liar');
  expect(r.code).toBe(0);
  expect(alive(bystander.pid!)).toBe(true);
  expect(fs.existsSync(path.join(stateDir, 'labs', 'liar'))).toBe(false);
});

test('the new lab flags refuse bad values with exit 2, naming the flag and the fix, and change nothing', () => {
  const cases: Array<[string[], RegExp]> = [
    [['up', '--name', 'u1', '--user', 'Bad User'], /--user: "Bad User" is not a user name; .*e\.g\. --user mk8s-lab/],
    [['fault', 'k8s-1', 'cert-expired', '--name', 'u1', '--cert', 'kubelet.crt'], /--cert: must be one of ca\.crt, server\.crt, front-proxy-client\.crt/],
    [['fault', 'k8s-1', 'reboot-required', '--name', 'u1', '--pkgs', 'linux;reboot'], /--pkgs: must be package names separated by commas/],
    [['fault', 'k8s-1', 'reboot-required', '--name', 'u1', '--pkgs', ','], /--pkgs: must be package names separated by commas/],
    [['rebuild', 'k8s-1', '--name', 'nope'], /--name: no lab "nope"/],
  ];
  for (const [args, message] of cases) {
    const r = lab(...args);
    expect([args.join(' '), r.code]).toEqual([args.join(' '), 2]);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  }
  expect(fs.existsSync(path.join(stateDir, 'labs', 'u1'))).toBe(false);
});
