/**
 * Jest helpers for lab-backed tests: a lab per test file in a temp state dir, brought down in afterAll.
 * The lab's shims run the compiled simulator (dist/), so this builds the project first when dist is missing or
 * older than the lab sources (`npm test` builds anyway).
 */
import { execSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Lab, type LabOptions } from '../../lab';

const ROOT = path.resolve(__dirname, '../..');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

/** Build dist/ when the simulator is missing or stale. */
export function ensureLabBuilt(): void {
  const entry = path.join(ROOT, 'dist/lab/sim/main.js');
  const stale = !fs.existsSync(entry) || fs.statSync(entry).mtimeMs < newestMtime(path.join(ROOT, 'lab'));
  if (stale) {
    try {
      execSync('npx tsc -p .', { cwd: ROOT, stdio: 'ignore' });
    } catch {
      // Type errors elsewhere in the tree still emit; only a missing simulator is fatal.
      if (!fs.existsSync(entry)) throw new Error('could not build dist/lab/sim/main.js; run `npm run build`');
    }
  }
}

export function tempStateDir(prefix = 'lab-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * `const lab = useLab({ controlPlanes: 3, formed: true })` at describe level; call `lab()` inside tests.
 * Each call gets a unique name and its own temp state dir, so parallel runs never collide.
 */
export function useLab(opts: Omit<LabOptions, 'name' | 'stateDir'> & { name?: string }): () => Lab {
  let lab: Lab | undefined;
  let stateDir: string | undefined;
  beforeAll(async () => {
    ensureLabBuilt();
    stateDir = tempStateDir();
    lab = await Lab.up({ channel: '1.28/stable', ...opts, name: opts.name ?? `t${process.pid}-${Math.floor(Math.random() * 1e6)}`, stateDir });
  }, 120_000);
  afterAll(async () => {
    await lab?.down();
    if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
  }, 60_000);
  return () => {
    if (!lab) throw new Error('lab not up (beforeAll failed?)');
    return lab;
  };
}

/** Poll until `check` returns a truthy value, or fail with `what`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs = 10_000,
  everyMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as T;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export { Lab };

export interface EachResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Run several commands in ONE SSH session (each SSH round trip costs ~0.1 s) and split their exit codes,
 * stdout and stderr apart again with a marker line after each command.
 */
export async function execEach(lab: Lab, node: string, commands: string[]): Promise<EachResult[]> {
  const mark = `@@lab-each-${process.pid}@@`;
  const script = commands.map((c) => `${c}\nrc=$?; echo "${mark}$rc"; echo "${mark}" >&2`).join('\n');
  const r = await lab.exec(node, script);
  const outs = r.stdout.split(new RegExp(`${mark}(\\d+)\\n`));
  const errs = r.stderr.split(`${mark}\n`);
  return commands.map((_, i) => ({ code: Number(outs[2 * i + 1]), stdout: outs[2 * i] ?? '', stderr: errs[i] ?? '' }));
}
