/**
 * Real OpenSSH sshd processes for lab nodes: one per node, on its own loopback address, as the current user.
 */
import { execFileSync, spawn } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';

export const SSHD_CANDIDATES = ['/usr/sbin/sshd', '/usr/local/sbin/sshd', '/sbin/sshd'];

export function findSshd(): string {
  const found = SSHD_CANDIDATES.find((p) => fs.existsSync(p));
  if (!found) {
    throw new Error(
      `OpenSSH sshd not found (looked in ${SSHD_CANDIDATES.join(', ')}). Install it: sudo apt-get install -y openssh-server`,
    );
  }
  return found;
}

/** Generate an ed25519 key pair at `file` and `file.pub` (kept when it already exists). */
export function generateKey(file: string, comment = 'microk8s-runbooks-lab'): void {
  if (fs.existsSync(file) && fs.existsSync(`${file}.pub`)) return;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.rmSync(file, { force: true });
  fs.rmSync(`${file}.pub`, { force: true });
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], { stdio: 'ignore' });
  fs.chmodSync(file, 0o600);
}

/** OpenSSH `SHA256:` fingerprint of a public key line (`ssh-ed25519 AAAA... comment`). */
export function fingerprintOfPublicKey(publicKeyLine: string): string {
  const blob = publicKeyLine.trim().split(/\s+/)[1];
  if (!blob) throw new Error('not an OpenSSH public key line');
  return `SHA256:${createHash('sha256').update(Buffer.from(blob, 'base64')).digest('base64').replace(/=+$/, '')}`;
}

export interface SshdOptions {
  /** Directory for this sshd's config, pid and log files. */
  dir: string;
  address: string;
  port: number;
  hostKeyFile: string;
  authorizedKeysFile: string;
  /** Environment every session gets (sshd `SetEnv`). */
  env: Record<string, string>;
}

export interface SshdHandle {
  pid: number;
  pidFile: string;
  configFile: string;
}

function sshdConfig(o: SshdOptions): string {
  const setEnv = Object.entries(o.env)
    .map(([k, v]) => {
      if (/[\s"]/.test(v)) throw new Error(`lab sshd: environment value for ${k} must not contain spaces or quotes`);
      return `${k}=${v}`;
    })
    .join(' ');
  return [
    `ListenAddress ${o.address}:${o.port}`,
    `HostKey ${o.hostKeyFile}`,
    `AuthorizedKeysFile ${o.authorizedKeysFile}`,
    `PidFile ${path.join(o.dir, 'sshd.pid')}`,
    'StrictModes no',
    'UsePAM no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin prohibit-password',
    'AllowTcpForwarding yes',
    'MaxStartups 200:30:400',
    'MaxSessions 200',
    'ClientAliveInterval 0',
    'LogLevel ERROR',
    setEnv ? `SetEnv ${setEnv}` : '',
    '',
  ].join('\n');
}

/** Resolves when something accepts TCP connections on address:port. */
export async function waitForPort(address: string, port: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: address, port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${address}:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function isListening(address: string, port: number): Promise<boolean> {
  return waitForPort(address, port, 0).then(
    () => true,
    () => false,
  );
}

/** Start sshd in the foreground mode (-D) as a detached child, so its pid is ours to signal. */
export async function startSshd(o: SshdOptions): Promise<SshdHandle> {
  fs.mkdirSync(o.dir, { recursive: true });
  if (process.getuid?.() === 0) fs.mkdirSync('/run/sshd', { recursive: true }); // privilege separation dir
  const configFile = path.join(o.dir, 'sshd_config');
  fs.writeFileSync(configFile, sshdConfig(o));
  const pidFile = path.join(o.dir, 'sshd.pid');
  fs.rmSync(pidFile, { force: true });
  const child = spawn(findSshd(), ['-D', '-f', configFile, '-E', path.join(o.dir, 'sshd.log')], {
    detached: true,
    stdio: 'ignore',
  });
  child.unref();
  if (!child.pid) throw new Error(`could not start sshd for ${o.address}:${o.port}`);
  fs.writeFileSync(pidFile, String(child.pid));
  await waitForPort(o.address, o.port, 5000).catch((e) => {
    const log = fs.existsSync(path.join(o.dir, 'sshd.log')) ? fs.readFileSync(path.join(o.dir, 'sshd.log'), 'utf8') : '';
    throw new Error(`${(e as Error).message}; sshd log: ${log.trim() || '(empty)'}`);
  });
  return { pid: child.pid, pidFile, configFile };
}

/**
 * The pid of the sshd this pid file belongs to, or undefined. A pid file is only a claim: the process must be an sshd
 * started with this directory's sshd_config (`-f`), so a crafted or stale file never makes the lab signal a
 * process it did not start.
 */
export function readPid(pidFile: string): number | undefined {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  return startedWith(pid, path.join(path.dirname(path.resolve(pidFile)), 'sshd_config')) ? pid : undefined;
}

function startedWith(pid: number, configFile: string): boolean {
  try {
    // OpenSSH rewrites its process title into one string ("sshd: /usr/sbin/sshd -D -f <config> ... [listener]"):
    // split on NULs and spaces alike.
    const words = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split(/[\0 ]+/);
    const f = words.indexOf('-f');
    return f >= 0 && words[f + 1] === configFile;
  } catch {
    return false;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Signal an sshd listener; `SIGKILL` also ends its session children when `group` is set. */
export function signalSshd(pidFile: string, signal: NodeJS.Signals): boolean {
  const pid = readPid(pidFile);
  if (!pid || !isAlive(pid)) return false;
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Stop an sshd and every session it forked (they share its process group, since it was started detached). */
export function stopSshd(pidFile: string): void {
  const pid = readPid(pidFile);
  if (!pid) return;
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  fs.rmSync(pidFile, { force: true });
}

/** Every process an sshd listener forked (connections, sessions, commands), found through /proc. */
export function sessionPids(pidFile: string): number[] {
  const pid = readPid(pidFile);
  if (!pid) return [];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { descendants } = require('./processes') as typeof import('./processes');
  return descendants(pid);
}

/** Stop a node's sshd and end its live sessions too (they run under setsid, outside its process group). */
export function killNode(pidFile: string): void {
  const pid = readPid(pidFile);
  if (!pid) return;
  const tree = sessionPids(pidFile);
  for (const p of [pid, ...tree]) {
    try {
      process.kill(p, 'SIGCONT');
    } catch {
      /* gone */
    }
  }
  for (const p of [pid, ...tree]) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  fs.rmSync(pidFile, { force: true });
}

/** SIGSTOP or SIGCONT a listener and all its sessions (the `hang` fault). */
export function freezeNode(pidFile: string, sig: 'SIGSTOP' | 'SIGCONT'): void {
  const pid = readPid(pidFile);
  if (!pid) return;
  for (const p of [pid, ...sessionPids(pidFile)]) {
    try {
      process.kill(p, sig);
    } catch {
      /* gone */
    }
  }
}
