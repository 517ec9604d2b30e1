/**
 * Local files named by a user or an inventory: FIFOs, devices, directories, huge files, the wrong kind of key.
 * Each is refused by the CLI in one line (exit 2) before anything starts, and none can hang or bloat it.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { useCorpus } from './corpus';
import { runCli } from '../support/temporal';

const c = useCorpus('badinput-files');
const check = (file: string) => ['check', '-i', file];

let fifo: string;
let big: string;
beforeAll(() => {
  fifo = path.join(c.dir(), 'fifo');
  execFileSync('mkfifo', [fifo]);
  // A sparse 1.9 GB file: the size the report used, allocated in no time.
  big = path.join(c.dir(), 'big');
  fs.writeFileSync(big, '');
  fs.truncateSync(big, 1_900_000_000);
});


describe('files an inventory names', () => {
  test.each<[string, () => string, RegExp[]]>([
    ['knownHosts is a FIFO (would freeze the shared worker)', () => c.edit((i) => (i.knownHosts = fifo)), [/knownHosts: known_hosts file ".*fifo": is a FIFO \(named pipe\); it must be a regular file/]],
    ['knownHosts is /dev/zero (would grow the worker without bound)', () => c.edit((i) => (i.knownHosts = '/dev/zero')), [/knownHosts: .*"\/dev\/zero": is a character device; it must be a regular file/]],
    ['knownHosts is a directory', () => c.edit((i) => (i.knownHosts = c.dir())), [/knownHosts: .*is a directory; it must be a regular file/]],
    ['knownHosts is 1.9 GB', () => c.edit((i) => (i.knownHosts = big)), [/knownHosts: .*is 1812\.0 MiB, more than the 4 MiB a known_hosts file may be/]],
    ['identityFile is a FIFO', () => c.edit((i) => (i.defaults.identityFile = fifo)), [/identityFile: ".*fifo": is a FIFO \(named pipe\); it must be a regular file/]],
    ['identityFile is /dev/zero', () => c.edit((i) => (i.defaults.identityFile = '/dev/zero')), [/identityFile: "\/dev\/zero": is a character device/]],
    ['identityFile is 1.9 GB (blocked the worker 14 s at 3.8 GB)', () => c.edit((i) => (i.defaults.identityFile = big)), [/identityFile: .*is 1812\.0 MiB, more than the 64 KiB an? identity file may be/]],
    ['identityFile is a directory', () => c.edit((i) => (i.defaults.identityFile = c.dir())), [/identityFile: .*is a directory; it must be a regular file/]],
    ['identityFile is a public key', () => c.edit((i) => (i.defaults.identityFile = `${c.keyFile()}.pub`)), [/identityFile: .*\.pub": is a public key; name the private key \(.*id_ed25519\)/]],
    ['identityFile is not a key at all', () => c.edit((i) => (i.defaults.identityFile = '/etc/hostname')), [/identityFile: "\/etc\/hostname": is not an SSH private key; name the private key file/]],
    ['a jump host identityFile that is a FIFO', () => c.edit((i) => (i.defaults.jump = { address: '127.0.9.9', identityFile: fifo })), [/jump\.identityFile: .*FIFO/]],
  ])('%s: exit 2, one line naming the field and the fix', async (_name, file, expected) => {
    await c.refused(check(file()), expected);
  });

  test('a passphrase-protected key: exit 2 with the ssh-agent advice (it used to start and fail)', async () => {
    const enc = path.join(c.dir(), 'id_encrypted');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'passphrase', '-f', enc]);
    await c.refused(check(c.edit((i) => (i.defaults.identityFile = enc))), [/is passphrase-protected; load it into ssh-agent \(ssh-add\) and set agent: true/]);
  });

  test('a private key others can read (0644): refused as OpenSSH does', async () => {
    const loose = path.join(c.dir(), 'id_loose');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', loose]);
    fs.chmodSync(loose, 0o644);
    await c.refused(check(c.edit((i) => (i.defaults.identityFile = loose))), [/has mode 0644: others can read the private key, and OpenSSH refuses such a key; run chmod 600/]);
  });

  test('a relative identityFile is resolved next to the inventory, once (the worker may run elsewhere)', async () => {
    // Resolved against the inventory's directory: the key is found although the CLI runs in the repository.
    const file = c.edit((i) => (i.defaults.identityFile = 'id_ed25519.pub'));
    await c.refused(check(file), [new RegExp(`identityFile: "${c.dir()}/id_ed25519\\.pub": is a public key`)]);
  });
});

describe('the inventory file itself', () => {
  test.each<[string, () => string, RegExp[]]>([
    ['a FIFO', () => fifo, [/is a FIFO \(named pipe\); it must be a regular file; pass the inventory with -i <file>/]],
    ['/dev/zero', () => '/dev/zero', [/is a character device; it must be a regular file/]],
    ['/dev/null', () => '/dev/null', [/is a character device; it must be a regular file/]],
    ['1.9 GB', () => big, [/is 1812\.0 MiB, more than the 1 MiB an? inventory may be/]],
    ['2 MiB of YAML', () => c.inv(`# ${'x'.repeat(2 * 1024 * 1024)}\n`), [/is 2\.0 MiB, more than the 1 MiB an? inventory may be/]],
  ])('%s: exit 2 at once', async (_name, file, expected) => {
    await c.refused(check(file()), expected);
  });

  test('1,001 nodes (55,000 took 43 s, then a ServiceError stack): refused by the node cap at once', async () => {
    const nodes = Array.from({ length: 1001 }, (_, k) => ({ name: `n${k}`, address: `10.${(k >> 16) & 255}.${(k >> 8) & 255}.${(k & 255) + 1}` }));
    const file = c.inv({ ...c.inventory(), nodes });
    const t0 = Date.now();
    await c.refused(check(file), [/nodes: lists more than 1000 nodes, the most one runbook drives; split the cluster's inventory or run a fleet/]);
    expect(Date.now() - t0).toBeLessThan(15_000);
  });
});

describe('accept-new writes only to a known_hosts file', () => {
  test('knownHosts naming a config file is refused, and the file is unchanged', async () => {
    const config = path.join(c.dir(), 'app.conf');
    fs.writeFileSync(config, 'listen = 8080\nmode = production\n');
    await c.refused(check(c.edit((i) => ((i.knownHosts = config), (i.hostKeyPolicy = 'accept-new')))), [
      /knownHosts: ".*app\.conf": line 1 is not a known_hosts entry, so it is not a known_hosts file; accept-new appends only to one/,
    ]);
    expect(fs.readFileSync(config, 'utf8')).toBe('listen = 8080\nmode = production\n');
  });

  test('knownHosts in a directory that does not exist is refused, and no directory is created', async () => {
    const missing = path.join(c.dir(), 'no', 'such', 'dir', 'known_hosts');
    await c.refused(check(c.edit((i) => ((i.knownHosts = missing), (i.hostKeyPolicy = 'accept-new')))), [/its directory .*no\/such\/dir does not exist; create it \(mkdir -m 700/]);
    expect(fs.existsSync(path.join(c.dir(), 'no'))).toBe(false);
  });
});

describe('other files the CLI reads', () => {
  test.each<[string, () => string[], () => Record<string, string>, RegExp[]]>([
    ['history --file is a FIFO', () => ['history', '--file', fifo], () => ({}), [/--file: cannot read .*fifo: is a FIFO \(named pipe\); it must be a regular file/]],
    ['history --file is /dev/zero', () => ['history', '--file', '/dev/zero'], () => ({}), [/--file: cannot read \/dev\/zero: is a character device/]],
    [
      'history --file /etc/passwd never suggests overwriting it',
      () => ['history', '--file', '/etc/passwd'],
      () => ({}),
      [/--file: "\/etc\/passwd" is not JSON; export a history with: temporal workflow show -w <ID> --output json > history\.json/],
    ],
    ['RUNBOOK_CODEC_KEY_FILE is a FIFO', () => ['list'], () => ({ RUNBOOK_CODEC_KEY_FILE: fifo }), [/RUNBOOK_CODEC_KEY_FILE: codec key file ".*fifo": is a FIFO/]],
    ['RUNBOOK_CODEC_KEY_FILE is /dev/zero', () => ['list'], () => ({ RUNBOOK_CODEC_KEY_FILE: '/dev/zero' }), [/RUNBOOK_CODEC_KEY_FILE: .*is a character device/]],
    ['--tls-ca-path is a FIFO', () => ['--tls-ca-path', fifo, 'list'], () => ({}), [/--tls-ca-path: TLS file ".*fifo": is a FIFO/]],
    ['--config-file is /dev/zero', () => ['--config-file', '/dev/zero', 'list'], () => ({}), [/--config-file: config file "\/dev\/zero": is a character device/]],
  ])('%s: exit 2', async (_name, args, env, expected) => {
    const r = await c.refused(args(), expected, { env: env() });
    expect(r.stderr).not.toMatch(/> \/etc\/passwd/);
  });

  test('a codec key others can read, and an all-zero codec key, are refused', async () => {
    const loose = path.join(c.dir(), 'codec-loose.key');
    fs.writeFileSync(loose, `${Buffer.from(Array.from({ length: 32 }, (_, i) => i * 7)).toString('base64')}\n`, { mode: 0o644 });
    fs.chmodSync(loose, 0o644);
    await c.refused(['list'], [/RUNBOOK_CODEC_KEY_FILE: key file .* has mode 0644: others can read it; run chmod 600/], { env: { RUNBOOK_CODEC_KEY_FILE: loose } });
    const zero = path.join(c.dir(), 'codec-zero.key');
    fs.writeFileSync(zero, `${Buffer.alloc(32).toString('base64')}\n`, { mode: 0o600 });
    await c.refused(['list'], [/the key is 32 copies of one byte, a placeholder; generate a real one with: openssl rand -base64 32/], { env: { RUNBOOK_CODEC_KEY_FILE: zero } });
  });

  test('codec-server --auth-file that is a FIFO: exit 2, nothing listens', async () => {
    const key = path.join(c.dir(), 'codec-ok.key');
    fs.writeFileSync(key, `${Buffer.from(Array.from({ length: 32 }, (_, i) => i * 5 + 1)).toString('base64')}\n`, { mode: 0o600 });
    const r = await runCli(c.env(), ['codec-server', '--port', '0', '--auth-file', fifo], { env: { RUNBOOK_CODEC_KEY_FILE: key }, timeoutMs: 10_000 });
    expect(r.stderr).toMatch(/--auth-file: auth file ".*fifo": is a FIFO \(named pipe\); it must be a regular file/);
    expect(r.code).toBe(2);
  });
});
