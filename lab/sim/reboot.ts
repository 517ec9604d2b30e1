/**
 * A node's machine across a reboot (behaviour reference §12): the boot id, Ubuntu's reboot sentinel, and
 * `reboot` / `shutdown -r` / `systemctl reboot`. A clean reboot hands the node's dqlite role over to an online
 * stand-by or spare (go-dqlite's Handover; with 3 members it stays voter), takes the machine down (its sshd and
 * sessions end), and a detached boot process (lab/boot.ts) brings it back after the profile's boot time; the
 * services then start unless `microk8s stop` disabled them. The Node turns NotReady only past the grace period.
 */
import { spawn } from 'child_process';
import { randomUUID } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { snapPaths } from './backend';
import type { Sim } from './context';
import { lockExists } from './guards';
import { labEntry } from './install';
import { startServices } from './lifecycle';
import type { LabState, NodeState } from './model';
import { rebalance } from './store';

export const SENTINEL_TEXT = '*** System restart required ***\n';
export const DEFAULT_REBOOT_PKGS = ['linux-image-6.8.0-49-generic', 'linux-base'];

/** Where the node's host files live under its root (the inventory's `paths.rebootRequired` and `paths.bootId`). */
export function hostPaths(labDir: string, node: string) {
  const root = snapPaths(labDir, node).root;
  return {
    rebootRequired: path.join(root, 'var/run/reboot-required'),
    rebootRequiredPkgs: path.join(root, 'var/run/reboot-required.pkgs'),
    bootId: path.join(root, 'proc/sys/kernel/random/boot_id'),
  };
}

/** A machine just installed or booted: a new boot id, on disk and in the state. */
export function newBoot(labDir: string, n: NodeState): void {
  const bootId = randomUUID();
  const p = hostPaths(labDir, n.name);
  fs.mkdirSync(path.dirname(p.bootId), { recursive: true });
  fs.writeFileSync(p.bootId, `${bootId}\n`, { mode: 0o444 });
  n.host = { bootId, rebootRequired: null };
}

/** An apt upgrade that asks for a reboot (notify-reboot-required): the sentinel and its package list. */
export function requireReboot(labDir: string, n: NodeState, pkgs: string[]): void {
  const p = hostPaths(labDir, n.name);
  fs.mkdirSync(path.dirname(p.rebootRequired), { recursive: true });
  fs.writeFileSync(p.rebootRequired, SENTINEL_TEXT);
  const all = [...new Set([...(n.host?.rebootRequired ?? []), ...pkgs])];
  fs.writeFileSync(p.rebootRequiredPkgs, all.map((x) => `${x}\n`).join(''));
  n.host = { ...(n.host ?? { bootId: '' }), rebootRequired: all };
}

const NOT_ROOT = 'Failed to set wall message, ignoring: Interactive authentication required.\nCall to Reboot failed: Interactive authentication required.';
const NO_SYSTEMD_OP = (verb: string) => `Unknown command verb ${verb}.`;

/** `reboot [-f]`, `shutdown -r [now|+N|HH:MM]`, `systemctl reboot`: returns at once; the machine goes down just after. */
export function rebootCommand(sim: Sim, tool: 'reboot' | 'shutdown' | 'systemctl', args: string[]): number {
  if (tool === 'systemctl' && args[0] !== 'reboot') {
    sim.err(NO_SYSTEMD_OP(args[0] ?? ''));
    return 1;
  }
  if (tool === 'shutdown' && !args.includes('-r') && !args.includes('--reboot')) {
    sim.err('lab: only `shutdown -r` (reboot) is simulated; a powered-off node would need `lab heal` to come back');
    return 1;
  }
  if (!sim.root) {
    sim.err(NOT_ROOT);
    return 1;
  }
  sim.state((s, now, self) => goDown(sim, s, self, now));
  const child = spawn(process.execPath, [labEntry('boot.js'), sim.labDir, sim.node, String(process.pid)], { detached: true, stdio: 'ignore' });
  child.unref();
  return 0;
}

function goDown(sim: Sim, s: LabState, n: NodeState, now: number): void {
  const c = s.clusters[n.cluster];
  const wasVoterUp = !!c?.members.some((m) => m.node === n.name && m.role === 0) && n.services === 'running';
  const bootMs = sim.timing.bootMs * (n.faults.slowBoot ? 5 : 1);
  n.power = 'rebooting';
  n.host = { ...(n.host ?? { bootId: '', rebootRequired: null }), downAt: now, bootAt: n.faults.noBoot ? undefined : now + bootMs };
  delete n.faults.slowBoot;
  // /run is tmpfs: the sentinel is gone after the boot.
  const p = hostPaths(sim.labDir, n.name);
  fs.rmSync(p.rebootRequired, { force: true });
  fs.rmSync(p.rebootRequiredPkgs, { force: true });
  n.host.rebootRequired = null;
  sim.event('reboot', { bootMs: n.faults.noBoot ? null : bootMs });
  if (wasVoterUp) sim.event('out-of-service', { reason: 'reboot' });
  // k8s-dqlite's clean shutdown hands its role to an online stand-by or spare (go-dqlite Handover).
  if (c) rebalance(sim.labDir, s, c, now);
}

/** The machine is back: a new boot id, services start unless `microk8s stop` disabled them. */
export function finishBoot(sim: Sim, s: LabState, n: NodeState, now: number): void {
  n.power = 'running';
  newBoot(sim.labDir, n);
  if (!lockExists(sim, 'stopped.lock') && n.services === 'running') {
    n.services = 'stopped';
    startServices(sim, s, n, now);
    n.restartUntil = now + sim.timing.servicesBootMs;
  }
  sim.event('rebooted', { bootId: n.host!.bootId });
}
