/**
 * Who the lab's nodes let in over SSH, and how privilege is judged there.
 *
 * - The lab runs as root: the SSH user is a real unprivileged account (default `mk8s-lab`, created when missing)
 *   with passwordless sudo through the real `/usr/bin/sudo`, as on a MicroK8s host. Privilege is the process's
 *   identity: a command is root when its uid is 0 (`ssh root@…` too). The backend directory is root's, mode 0770,
 *   files 0660, group `microk8s` (reference §7), so least privilege is judged by real permissions.
 * - The lab runs as an ordinary user: the SSH user is that user (no other account can be used without root), and the
 *   lab's own `sudo` shim marks what it runs as root the way sudo does (SUDO_UID, USER=root).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const DEFAULT_LAB_USER = 'mk8s-lab';
export const MICROK8S_GROUP = 'microk8s';
const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
const SUDO = '/usr/bin/sudo';

/** `uid`: root is uid 0 (real sudo). `marker`: root is what the lab's sudo shim marks (a lab without root). */
export type Privilege = 'uid' | 'marker';

export interface LabAccount {
  user: string;
  privilege: Privilege;
}

/** A problem with `--user`: the message names the fix. */
export class LabAccountError extends Error {}

const runningAsRoot = () => process.getuid?.() === 0;

/** Resolve (and when running as root, prepare) the lab's SSH account. */
export function labAccount(requested?: string): LabAccount {
  const me = os.userInfo().username;
  if (requested !== undefined && !USER_NAME.test(requested)) {
    throw new LabAccountError(`"${requested}" is not a user name; use lower-case letters, digits, "-" and "_", e.g. --user ${DEFAULT_LAB_USER}`);
  }
  if (!runningAsRoot()) {
    if (requested !== undefined && requested !== me) {
      throw new LabAccountError(`only a lab run as root can log in as another account; leave out --user (the lab logs in as you, ${me})`);
    }
    return { user: me, privilege: 'marker' };
  }
  const user = requested ?? DEFAULT_LAB_USER;
  if (user !== 'root') {
    ensureGroup(MICROK8S_GROUP);
    ensureAccount(user);
    ensureSudoers(user);
  }
  return { user, privilege: 'uid' };
}

function exists(db: 'passwd' | 'group', name: string): boolean {
  try {
    execFileSync('getent', [db, name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function ensureGroup(name: string): void {
  if (!exists('group', name)) execFileSync('groupadd', ['--system', name], { stdio: 'ignore' });
}

function ensureAccount(user: string): void {
  if (exists('passwd', user)) return;
  execFileSync('useradd', ['--create-home', '--shell', '/bin/bash', user], { stdio: 'ignore' });
  // useradd leaves the password locked ("!"), and sshd without PAM refuses a locked account even for a key.
  execFileSync('usermod', ['-p', '*', user], { stdio: 'ignore' });
}

/**
 * Passwordless sudo for the lab user, keeping the session's PATH and lab variables: the lab's `microk8s` and `snap`
 * live in the node's bin directory, where a real host has /snap/bin on sudo's secure_path.
 */
function ensureSudoers(user: string): void {
  if (!fs.existsSync(SUDO)) {
    throw new LabAccountError(`the lab's SSH user ${user} needs the real sudo, and ${SUDO} is missing; install it (apt-get install -y sudo) or run the lab with --user root`);
  }
  const file = `/etc/sudoers.d/microk8s-runbooks-lab-${user.replace(/[^a-z0-9_-]/g, '_')}`;
  const text =
    `# microk8s-runbooks lab: ${user} is the lab nodes' SSH user, with passwordless sudo as on a MicroK8s host.\n` +
    `${user} ALL=(ALL:ALL) NOPASSWD: ALL\n` +
    `Defaults:${user} env_keep += "PATH LAB_DIR LAB_NODE SHLVL", !secure_path\n`;
  if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') === text) return;
  const tmp = path.join(os.tmpdir(), `sudoers-${process.pid}`);
  fs.writeFileSync(tmp, text, { mode: 0o440 });
  try {
    execFileSync('visudo', ['-cqf', tmp], { stdio: 'ignore' });
    fs.mkdirSync('/etc/sudoers.d', { recursive: true });
    fs.copyFileSync(tmp, file);
    fs.chmodSync(file, 0o440);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}


export function groupId(name: string): number {
  const line = execFileSync('getent', ['group', name], { encoding: 'utf8' }).trim();
  return Number(line.split(':')[2]);
}
