/** The connection pool against real sshds: reuse, replacement of dead connections, idle close, jump hosts. */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { FailureType } from '../../common/constants';
import { SshPool } from '../../activities/ssh';
import { failureOf, SshdFixture, type TestSshd } from './fixture';

const fx = new SshdFixture();
let sshd: TestSshd;

beforeAll(async () => {
  sshd = await fx.start('pool-node');
  fx.trust(sshd);
});

afterAll(() => fx.cleanup());

const trust = () => ({ knownHosts: fx.knownHosts, hostKeyPolicy: 'strict' as const });

/** The client side of the connection as the node sees it (`$SSH_CONNECTION`: client ip, client port, ...). */
async function clientEnd(run: (l: string) => Promise<{ stdout: string }>): Promise<string> {
  return (await run('echo "$SSH_CONNECTION"')).stdout.split(' ').slice(0, 2).join(':');
}

async function withPool<T>(opts: ConstructorParameters<typeof SshPool>[0], fn: (pool: SshPool) => Promise<T>): Promise<T> {
  const pool = new SshPool(opts);
  try {
    return await fn(pool);
  } finally {
    await pool.close();
  }
}

test('one connection serves many commands and every session of the node', async () => {
  await withPool({}, async (pool) => {
    const a = pool.session(fx.node(sshd), trust());
    const b = pool.session(fx.node(sshd), trust());
    const first = await clientEnd((l) => a.run(l));
    for (let i = 0; i < 5; i++) await a.run('true');
    await Promise.all(Array.from({ length: 12 }, (_, i) => b.check(`echo ${i}`)));
    expect(await clientEnd((l) => b.run(l))).toBe(first);
    expect(pool.connectCount).toBe(1);
  });
});

test('a killed connection is replaced and the next command still succeeds', async () => {
  await withPool({}, async (pool) => {
    const sh = pool.session(fx.node(sshd), trust());
    const before = await clientEnd((l) => sh.run(l));
    // The shell's parent is the sshd process serving this connection.
    const serving = Number((await sh.run('echo $PPID')).stdout.trim());
    expect(fs.readFileSync(`/proc/${serving}/cmdline`, 'utf8')).toMatch(/^sshd/);
    process.kill(serving, 'SIGKILL');
    expect((await sh.check('echo after')).stdout).toBe('after\n');
    expect(await clientEnd((l) => sh.run(l))).not.toBe(before);
    expect(pool.connectCount).toBe(2);
  });
});

test('a connection that stopped answering (half-open) is replaced when a command cannot open on it', async () => {
  await withPool({ connectTimeoutMs: 1000 }, async (pool) => {
    const sh = pool.session(fx.node(sshd), trust());
    const serving = Number((await sh.run('echo $PPID')).stdout.trim());
    process.kill(serving, 'SIGSTOP'); // the TCP connection stays up, but nothing answers on it
    try {
      expect((await sh.check('echo answered')).stdout).toBe('answered\n');
      expect(pool.connectCount).toBe(2);
    } finally {
      process.kill(serving, 'SIGKILL');
    }
  });
});

test('a connection lost while a command runs fails retryably, and the pool recovers', async () => {
  await withPool({}, async (pool) => {
    const sh = pool.session(fx.node(sshd), trust());
    const err = await failureOf(sh.run('kill -9 $PPID; sleep 5'));
    expect(err.type).toBe(FailureType.SshConnectionFailed);
    expect(err.nonRetryable).toBeFalsy();
    expect((await sh.run('echo back')).stdout).toBe('back\n');
  });
});

test('idle connections are closed after the idle timeout', async () => {
  await withPool({ idleTimeoutMs: 300 }, async (pool) => {
    const sh = pool.session(fx.node(sshd), trust());
    const first = await clientEnd((l) => sh.run(l));
    await new Promise((r) => setTimeout(r, 800));
    expect(await clientEnd((l) => sh.run(l))).not.toBe(first);
    expect(pool.connectCount).toBe(2);
  });
});

describe('jump host', () => {
  let jump: TestSshd;
  let target: TestSshd;
  beforeAll(async () => {
    jump = await fx.start('jump-host');
    target = await fx.start('behind-jump');
  });

  const viaJump = (extra = {}) =>
    fx.node(target, { jump: { address: jump.address, port: jump.port, user: fx.node(jump).user, identityFile: fx.clientKey, ...extra } });

  test('connects through the jump host, verifying both hops', async () => {
    const kh = path.join(fx.dir, 'known_hosts.jump');
    fx.trust(jump, kh);
    fx.trust(target, kh);
    await withPool({}, async (pool) => {
      const sh = pool.session(viaJump(), { knownHosts: kh, hostKeyPolicy: 'strict' });
      const [ip, port] = (await clientEnd((l) => sh.run(l))).split(':');
      // The node's peer socket belongs to the jump host's sshd, not to this process.
      const owner = execFileSync('ss', ['-tnpH', 'state', 'established', 'src', `${ip}:${port}`], { encoding: 'utf8' });
      expect(owner).toMatch(/sshd/);
      expect(owner).not.toContain(`pid=${process.pid},`);
    });
  });

  test('an unknown target behind a known jump host is refused', async () => {
    const kh = path.join(fx.dir, 'known_hosts.jump-only');
    fx.trust(jump, kh);
    await withPool({}, async (pool) => {
      const err = await failureOf(pool.session(viaJump(), { knownHosts: kh, hostKeyPolicy: 'strict' }).run('true'));
      expect(err).toMatchObject({ type: FailureType.HostKeyUnknown, nonRetryable: true });
      expect(err.message).toContain('behind-jump');
      expect(err.message).not.toContain('jump host');
    });
  });

  test("a jump host whose key does not match its pin is refused before the target is tried", async () => {
    const kh = path.join(fx.dir, 'known_hosts.jump-pin');
    fx.trust(target, kh);
    const wrong = fx.hostKey('wrong-jump').fingerprint;
    await withPool({}, async (pool) => {
      const err = await failureOf(pool.session(viaJump({ hostKey: wrong }), { knownHosts: kh, hostKeyPolicy: 'strict' }).run('true'));
      expect(err).toMatchObject({ type: FailureType.HostKeyMismatch, nonRetryable: true });
      expect(err.message).toContain(`jump host ${jump.address}:${jump.port} of behind-jump`);
      expect(err.message).toContain(wrong);
      expect(err.message).toContain(jump.fingerprint);
    });
  });
});
