/** Host-key verification and authentication against real sshds. */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { FailureType } from '../../common/constants';
import { SshPool } from '../../activities/ssh';
import { generateKey } from '../../lab/sshd';
import { failureOf, SshdFixture, type TestSshd } from './fixture';

const fx = new SshdFixture();
const pool = new SshPool();
let sshd: TestSshd;

beforeAll(async () => {
  sshd = await fx.start('hk-node');
});

afterAll(async () => {
  fx.cleanup();
  await pool.close();
});

/** A known_hosts file of its own for each test. */
function knownHostsFile(name: string, content = ''): string {
  const file = path.join(fx.dir, `known_hosts.${name}`);
  fs.writeFileSync(file, content);
  return file;
}

test('a known host key is accepted', async () => {
  const kh = knownHostsFile('known');
  fx.trust(sshd, kh);
  const sh = pool.session(fx.node(sshd), { knownHosts: kh, hostKeyPolicy: 'strict' });
  expect((await sh.run('echo ok')).stdout).toBe('ok\n');
});

test('a changed host key is refused non-retryably, naming the node and both fingerprints', async () => {
  const other = fx.hostKey('impostor');
  const host = `[${sshd.address}]:${sshd.port}`;
  const kh = knownHostsFile('changed', `${host} ${other.publicLine.split(' ').slice(0, 2).join(' ')}\n`);
  const err = await failureOf(pool.session(fx.node(sshd), { knownHosts: kh, hostKeyPolicy: 'accept-new' }).run('true'));
  expect(err).toMatchObject({ type: FailureType.HostKeyMismatch, nonRetryable: true });
  expect(err.message).toContain('hk-node');
  expect(err.message).toContain(other.fingerprint); // expected
  expect(err.message).toContain(sshd.fingerprint); // presented
  expect(fs.readFileSync(kh, 'utf8').split('\n').filter(Boolean)).toHaveLength(1); // accept-new does not overwrite
});

test('an unknown host is refused under strict, with the fix in the message', async () => {
  const kh = knownHostsFile('empty');
  const err = await failureOf(pool.session(fx.node(sshd), { knownHosts: kh, hostKeyPolicy: 'strict' }).run('true'));
  expect(err).toMatchObject({ type: FailureType.HostKeyUnknown, nonRetryable: true });
  expect(err.message).toContain(sshd.fingerprint);
  expect(err.message).toMatch(/accept-new/);
  expect(err.message).toMatch(/known_hosts/);
  expect(fs.readFileSync(kh, 'utf8')).toBe('');
});

test('accept-new records an unknown key, then refuses the host once its key changes', async () => {
  const tofu = await fx.start('tofu-node');
  const kh = path.join(fx.dir, 'tofu', 'known_hosts'); // the file does not exist yet; accept-new never creates directories
  fs.mkdirSync(path.dirname(kh), { mode: 0o700 });
  const trust = { knownHosts: kh, hostKeyPolicy: 'accept-new' as const };
  expect((await pool.session(fx.node(tofu), trust).run('echo first')).stdout).toBe('first\n');
  const recorded = fs.readFileSync(kh, 'utf8');
  expect(recorded).toMatch(new RegExp(`^\\[${tofu.address.replace(/\./g, '\\.')}\\]:${tofu.port} ssh-ed25519 AAAA`));
  // OpenSSH agrees with what was recorded.
  const lookup = execFileSync('ssh-keygen', ['-F', `[${tofu.address}]:${tofu.port}`, '-f', kh], { encoding: 'utf8' });
  expect(lookup).toContain('ssh-ed25519');

  fx.stop(tofu);
  const swapped = await fx.start('tofu-node', { hostKey: 'tofu-swapped', at: tofu });
  const fresh = new SshPool();
  try {
    const err = await failureOf(fresh.session(fx.node(swapped), trust).run('true'));
    expect(err).toMatchObject({ type: FailureType.HostKeyMismatch, nonRetryable: true });
    expect(err.message).toContain(tofu.fingerprint);
    expect(err.message).toContain(swapped.fingerprint);
    expect(fs.readFileSync(kh, 'utf8')).toBe(recorded);
  } finally {
    await fresh.close();
  }
});

test('a hashed known_hosts entry (ssh-keygen -H) is accepted', async () => {
  const kh = knownHostsFile('hashed');
  fx.trust(sshd, kh);
  execFileSync('ssh-keygen', ['-H', '-f', kh], { stdio: 'ignore' });
  expect(fs.readFileSync(kh, 'utf8')).toMatch(/^\|1\|/);
  const sh = pool.session(fx.node(sshd), { knownHosts: kh, hostKeyPolicy: 'strict' });
  expect((await sh.run('echo hashed')).stdout).toBe('hashed\n');
});

test('a pinned fingerprint wins over known_hosts: match accepted, mismatch refused', async () => {
  const empty = knownHostsFile('pinned');
  const ok = pool.session(fx.node(sshd, { hostKey: sshd.fingerprint }), { knownHosts: empty, hostKeyPolicy: 'strict' });
  expect((await ok.run('echo pinned')).stdout).toBe('pinned\n');

  const wrong = fx.hostKey('wrong-pin').fingerprint;
  const trusted = knownHostsFile('pinned-but-known');
  fx.trust(sshd, trusted);
  const err = await failureOf(pool.session(fx.node(sshd, { hostKey: wrong }), { knownHosts: trusted, hostKeyPolicy: 'strict' }).run('true'));
  expect(err).toMatchObject({ type: FailureType.HostKeyMismatch, nonRetryable: true });
  expect(err.message).toContain(wrong);
  expect(err.message).toContain(sshd.fingerprint);
});

test('an authentication failure is non-retryable and says what to check', async () => {
  const stranger = path.join(fx.dir, 'stranger_key');
  generateKey(stranger);
  const kh = knownHostsFile('auth');
  fx.trust(sshd, kh);
  const err = await failureOf(pool.session(fx.node(sshd, { identityFile: stranger }), { knownHosts: kh, hostKeyPolicy: 'strict' }).run('true'));
  expect(err).toMatchObject({ type: FailureType.SshAuthFailed, nonRetryable: true });
  expect(err.message).toMatch(/authorized_keys/);
});

test('a missing identity file is invalid input, not a connection problem', async () => {
  const err = await failureOf(pool.session(fx.node(sshd, { identityFile: path.join(fx.dir, 'nope') }), { knownHosts: fx.knownHosts, hostKeyPolicy: 'strict' }).run('true'));
  expect(err).toMatchObject({ type: FailureType.InvalidInput, nonRetryable: true });
  expect(err.message).toMatch(/identityFile/);
});

test('a refused connection is retryable', async () => {
  const node = fx.node(sshd, { port: sshd.port === 65535 ? 65534 : sshd.port + 1 });
  const err = await failureOf(pool.session(node, { knownHosts: fx.knownHosts, hostKeyPolicy: 'strict' }).run('true'));
  expect(err.type).toBe(FailureType.SshConnectionFailed);
  expect(err.nonRetryable).toBeFalsy();
  expect(err.message).toMatch(/ECONNREFUSED/);
});
