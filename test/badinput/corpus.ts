/**
 * Shared set-up for the bad-input corpus files: one dev server per file, a valid inventory to break, a real private
 * key, and `refused()`, which runs the real CLI and asserts the exit code, every expected message, no stack trace,
 * and that no workflow started (the cluster's ID is unknown and the namespace's count is unchanged).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import YAML from 'yaml';
import { clusterWorkflowId } from '../../common/constants';
import { runCli, startTemporal, type CliResult } from '../support/temporal';

/** An inventory as YAML holds it, before validation: any field may be set to anything. */
export type RawInventory = { cluster: unknown; defaults: Record<string, unknown>; nodes: Array<Record<string, unknown>>; [key: string]: unknown };

/** A stack trace line, as Node prints one. */
const STACK = /^\s+at .+\(.+:\d+:\d+\)$|^\s+at .+:\d+:\d+$/m;
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

export interface Corpus {
  env: () => TestWorkflowEnvironment;
  dir: () => string;
  keyFile: () => string;
  cluster: string;
  inventory(): RawInventory;
  inv(content: RawInventory | string): string;
  edit(change: (i: RawInventory) => void): string;
  good(): string;
  started(cluster?: string): Promise<boolean>;
  refused(args: string[], expected: RegExp[], opts?: { code?: number; env?: Record<string, string>; timeoutMs?: number }): Promise<CliResult>;
}

export function useCorpus(cluster: string): Corpus {
  let env: TestWorkflowEnvironment;
  let dir: string;
  let keyFile: string;
  let seq = 0;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), `${cluster}-`));
    keyFile = path.join(dir, 'id_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
    env = await startTemporal();
  }, 60_000);

  afterAll(async () => {
    await env?.teardown();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const inventory = (): RawInventory => ({
    cluster,
    defaults: { user: 'ops', port: 2222, identityFile: keyFile },
    nodes: [
      { name: 'k8s-1', address: '127.0.9.1' },
      { name: 'k8s-2', address: '127.0.9.2' },
      { name: 'k8s-3', address: '127.0.9.3' },
      { name: 'k8s-w1', address: '127.0.9.4', role: 'worker' },
    ],
  });
  const inv = (content: RawInventory | string) => {
    const file = path.join(dir, `inv-${++seq}.yaml`);
    fs.writeFileSync(file, typeof content === 'string' ? content : YAML.stringify(content));
    return file;
  };
  const edit = (change: (i: RawInventory) => void) => {
    const i = inventory();
    change(i);
    return inv(i);
  };
  const started = async (c = cluster) => {
    try {
      await env.client.workflow.getHandle(clusterWorkflowId(c)).describe();
      return true;
    } catch (e) {
      if (e instanceof WorkflowNotFoundError) return false;
      throw e;
    }
  };

  return {
    env: () => env,
    dir: () => dir,
    keyFile: () => keyFile,
    cluster,
    inventory,
    inv,
    edit,
    good: () => inv(inventory()),
    started,
    async refused(args, expected, opts = {}) {
      const before = (await env.client.workflow.count()).count;
      // Nobody polls this queue: were anything to start, it would stay visible.
      const r = await runCli(env, args, { timeoutMs: opts.timeoutMs ?? 20_000, env: opts.env, taskQueue: `nobody-${process.pid}` });
      const out = `${r.stderr}\n${r.stdout}`;
      for (const m of expected) expect(out).toMatch(m);
      expect(out).not.toMatch(STACK);
      expect(out).not.toMatch(RAW_CONTROL);
      expect(r.code).toBe(opts.code ?? 2);
      expect(await started()).toBe(false);
      expect((await env.client.workflow.count()).count).toBe(before);
      return r;
    },
  };
}
