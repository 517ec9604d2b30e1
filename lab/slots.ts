/**
 * Address slots: a lab's nodes live on 127.0.<slot>.<i>. Labs from different state dirs run side by side
 * (several engineers' tests at once), so a slot is claimed machine-wide with an atomic mkdir under the temp
 * dir, a claim is stale once its lab is gone, and the address is probed before use.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { isListening } from './sshd';

export const LAB_PORT = 2222;
const CLAIMS = path.join(os.tmpdir(), 'microk8s-runbooks-lab-slots');

function claimDir(slot: number): string {
  return path.join(CLAIMS, String(slot));
}

function stale(slot: number): boolean {
  try {
    const owner = fs.readFileSync(path.join(claimDir(slot), 'owner'), 'utf8').trim();
    return !fs.existsSync(path.join(owner, 'lab.json')) && !fs.existsSync(path.join(owner, 'claiming'));
  } catch {
    // A claim without an owner file is being written right now, unless it is old.
    try {
      return Date.now() - fs.statSync(claimDir(slot)).mtimeMs > 60_000;
    } catch {
      return true;
    }
  }
}

export async function claimSlot(labDir: string): Promise<number> {
  fs.mkdirSync(CLAIMS, { recursive: true });
  const start = 1 + Math.floor(Math.random() * 250);
  for (let k = 0; k < 254; k++) {
    const slot = ((start + k) % 254) + 1;
    const dir = claimDir(slot);
    try {
      fs.mkdirSync(dir);
    } catch {
      if (!stale(slot)) continue;
      fs.rmSync(dir, { recursive: true, force: true });
      try {
        fs.mkdirSync(dir);
      } catch {
        continue;
      }
    }
    fs.writeFileSync(path.join(dir, 'owner'), labDir);
    if (await isListening(`127.0.${slot}.1`, LAB_PORT)) {
      fs.rmSync(dir, { recursive: true, force: true });
      continue;
    }
    return slot;
  }
  throw new Error('lab: no free address slot 127.0.<1-254>.x left; run `runbook lab list` and `runbook lab down` old labs');
}

export function releaseSlot(slot: number, labDir: string): void {
  try {
    const owner = fs.readFileSync(path.join(claimDir(slot), 'owner'), 'utf8').trim();
    if (owner === labDir) fs.rmSync(claimDir(slot), { recursive: true, force: true });
  } catch {
    /* not ours or gone */
  }
}
