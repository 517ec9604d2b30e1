#!/usr/bin/env node
/**
 * The set-up the README's two quick-start commands (`npm run demo`, `npm test`) run first, on any machine: plain
 * Node, no dependencies, because it runs before `npm ci` and `tsc` exist.
 *   - node modules: installed with `npm ci` when missing or stale (a package of package-lock.json not installed at
 *     its locked version);
 *   - OpenSSH's sshd (the lab's nodes): found, installed with apt-get when running as root, or one line saying how;
 *   - sudo, when running as root: the lab then logs in as an unprivileged account whose sudo is the real one.
 * The Temporal CLI is found or built after the build, by `runbook temporal-cli --install` (one resolution order).
 */
'use strict';
const { execFileSync, spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const say = (line) => process.stderr.write(`setup: ${line}\n`);

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Why node_modules does not match package-lock.json, or undefined when it does. */
function staleModules() {
  const lock = readJson(path.join(root, 'package-lock.json'));
  const installed = readJson(path.join(root, 'node_modules', '.package-lock.json'));
  if (!lock) return 'package-lock.json is missing';
  if (!installed) return 'node_modules is not installed';
  for (const [key, pkg] of Object.entries(lock.packages || {})) {
    if (!key || pkg.optional) continue; // the root, and platform-specific optional builds
    const have = (installed.packages || {})[key];
    if (!have) return `${key.replace(/^node_modules\//, '')} is not installed`;
    if (have.version !== pkg.version) return `${key.replace(/^node_modules\//, '')} is ${have.version}, the lock says ${pkg.version}`;
  }
  return undefined;
}

function ensureModules() {
  const why = staleModules();
  if (!why) return;
  say(`${why}: npm ci`);
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    say('npm ci failed; fix the error above and run the command again');
    process.exit(1);
  }
}

function findSshd() {
  for (const candidate of ['/usr/sbin/sshd', '/usr/local/sbin/sshd']) if (fs.existsSync(candidate)) return candidate;
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (dir && fs.existsSync(path.join(dir, 'sshd'))) return path.join(dir, 'sshd');
  }
  return undefined;
}

function ensureSshd() {
  if (findSshd()) return;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const hasApt = spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0;
  if (isRoot && hasApt) {
    say('sshd is missing (the lab runs one per node): apt-get install openssh-server');
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'openssh-server', 'openssh-client'], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    fs.mkdirSync('/run/sshd', { recursive: true });
    return;
  }
  say('sshd is missing (the lab runs one per node); install OpenSSH server, e.g.: sudo apt-get install openssh-server');
  process.exit(1);
}

/** Run as root, the lab's SSH user is a real unprivileged account that escalates with the real sudo (lab/account.ts). */
function ensureSudo() {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || fs.existsSync('/usr/bin/sudo')) return;
  const hasApt = spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0;
  if (!hasApt) {
    say('sudo is missing (the lab, run as root, logs in as an unprivileged account that uses sudo); install sudo');
    process.exit(1);
  }
  say('sudo is missing (the lab, run as root, logs in as an unprivileged account that uses sudo): apt-get install sudo');
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'sudo'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

ensureModules();
ensureSshd();
ensureSudo();
