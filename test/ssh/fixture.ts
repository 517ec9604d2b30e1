/**
 * Throwaway real sshds for the SSH layer tests: own host and client keys, a random loopback address
 * (127.0.200-249.x) and port, so parallel test runs do not collide. Everything lives in one mkdtemp dir.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { NodeSpec } from '../../common/inventory';
import { DEFAULT_PATHS } from '../../common/inventory';
import { fingerprintOfPublicKey, generateKey, isListening, startSshd, stopSshd } from '../../lab/sshd';

export interface TestSshd {
  name: string;
  address: string;
  port: number;
  hostKeyFile: string;
  /** `SHA256:` fingerprint of the host key. */
  fingerprint: string;
  pidFile: string;
  dir: string;
}

export class SshdFixture {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ssh-layer-test-'));
  readonly clientKey = path.join(this.dir, 'client_key');
  readonly knownHosts = path.join(this.dir, 'known_hosts');
  readonly authorizedKeys = path.join(this.dir, 'authorized_keys');
  readonly binDir = path.join(this.dir, 'bin');
  private readonly started: TestSshd[] = [];
  private readonly subnet = 200 + Math.floor(Math.random() * 50);
  private nextHost = 2 + Math.floor(Math.random() * 200);

  constructor() {
    generateKey(this.clientKey, 'ssh-layer-test');
    fs.copyFileSync(`${this.clientKey}.pub`, this.authorizedKeys);
    fs.mkdirSync(this.binDir);
    fs.writeFileSync(this.knownHosts, '');
    // Even if a test file aborts before afterAll, no sshd outlives the jest process.
    process.once('exit', () => this.cleanup());
  }

  /** A fresh host key (`name` picks the file, so a test can swap keys under the same address). */
  hostKey(name: string): { file: string; fingerprint: string; publicLine: string } {
    const file = path.join(this.dir, `host_${name}`);
    generateKey(file, `host-${name}`);
    const publicLine = fs.readFileSync(`${file}.pub`, 'utf8').trim();
    return { file, fingerprint: fingerprintOfPublicKey(publicLine), publicLine };
  }

  /** Start an sshd; pass `at` to restart one on the same address and port (e.g. with another host key). */
  async start(name: string, opts: { hostKey?: string; at?: TestSshd } = {}): Promise<TestSshd> {
    const key = this.hostKey(opts.hostKey ?? name);
    let address = opts.at?.address;
    let port = opts.at?.port;
    while (!address || !port) {
      const a = `127.0.${this.subnet}.${this.nextHost++ % 250 + 2}`;
      const p = 20000 + Math.floor(Math.random() * 30000);
      if (!(await isListening(a, p))) [address, port] = [a, p];
    }
    const dir = path.join(this.dir, `sshd-${name}-${port}-${Date.now()}`);
    const handle = await startSshd({
      dir,
      address,
      port,
      hostKeyFile: key.file,
      authorizedKeysFile: this.authorizedKeys,
      env: { PATH: `${this.binDir}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin` },
    });
    const sshd = { name, address, port, hostKeyFile: key.file, fingerprint: key.fingerprint, pidFile: handle.pidFile, dir };
    this.started.push(sshd);
    return sshd;
  }

  stop(sshd: TestSshd): void {
    stopSshd(sshd.pidFile);
  }

  /** Record an sshd's host key in the fixture's known_hosts, as OpenSSH names it. */
  trust(sshd: TestSshd, file = this.knownHosts): void {
    const [type, blob] = fs.readFileSync(`${sshd.hostKeyFile}.pub`, 'utf8').trim().split(/\s+/);
    const host = sshd.port === 22 ? sshd.address : `[${sshd.address}]:${sshd.port}`;
    fs.appendFileSync(file, `${host} ${type} ${blob}\n`);
  }

  node(sshd: TestSshd, extra: Partial<NodeSpec> = {}): NodeSpec {
    return {
      name: sshd.name,
      address: sshd.address,
      port: sshd.port,
      user: os.userInfo().username,
      role: 'controlplane',
      identityFile: this.clientKey,
      become: 'none',
      paths: DEFAULT_PATHS,
      ...extra,
    };
  }

  cleanup(): void {
    for (const s of this.started.splice(0)) stopSshd(s.pidFile);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The failure a promise rejects with (fails the test if it resolves). */
export async function failureOf(p: Promise<unknown>): Promise<Error & { type?: string; nonRetryable?: boolean }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { type?: string; nonRetryable?: boolean };
  }
  throw new Error('expected a failure, but it succeeded');
}
