/**
 * Shared pieces of the form e2e tests: a real worker with the real SSH layer, history text for the secret scan,
 * and journal queries. The join-port pre-flight (`nc -z`) is answered by the lab itself; faults shape it.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { SshPool } from '../../activities/ssh';
import type { Inventory } from '../../common/inventory';
import { createWorker } from '../../worker/create-worker';
import { bundle, startRunbook, temporalCliPath, type TestStartSpec } from '../support/temporal';
import type { Lab } from '../../lab';
import { snapPaths } from '../../lab/sim/backend';

export const FAST_TIMING = { pollMs: 100, settleTimeoutMs: 30_000, heartbeatTimeoutMs: 5_000, tokenTtlSeconds: 120 };

export interface FormWorker {
  taskQueue: string;
  stop(): Promise<void>;
}

export async function startFormWorker(env: TestWorkflowEnvironment, stateDir: string, taskQueue?: string): Promise<FormWorker> {
  const queue = taskQueue ?? `form-e2e-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const ssh = new SshPool();
  const w = await createWorker({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue: queue,
    stateDir,
    ssh,
    workflowBundle: await bundle(),
    identity: `form-e2e-${process.pid}`,
    shutdownGraceTime: '1s',
  });
  const running = w.run();
  return {
    taskQueue: queue,
    async stop() {
      w.shutdown();
      await running;
      await ssh.close();
    },
  };
}

/**
 * Real TCP listeners on 25000, 19001 and 16443 of each lab node. Not needed any more: the lab's `nc` answers the
 * pre-flight probe from its own truth (use `lab.fault(node, 'block-port', { port })` for a closed port). Kept
 * for callers outside the form tests (test/e2e/recover-quorum.test.ts).
 * @deprecated
 */
export async function openJoinPorts(lab: Lab, skip: (node: string, port: number) => boolean = () => false): Promise<() => Promise<void>> {
  const servers: net.Server[] = [];
  for (const n of lab.nodes) {
    for (const port of [25000, 19001, 16443]) {
      if (skip(n.name, port)) continue;
      const server = net.createServer((s) => s.destroy());
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, n.address, () => resolve());
      });
      servers.push(server);
    }
  }
  return async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  };
}

export function subset(inv: Inventory, names: string[]): Inventory {
  return { ...inv, nodes: inv.nodes.filter((n) => names.includes(n.name)) };
}

export async function start(env: TestWorkflowEnvironment, w: FormWorker, spec: Omit<TestStartSpec, 'summary'>) {
  return startRunbook(env, { summary: `${spec.kind} ${spec.inventory.cluster}`, ...spec }, w.taskQueue);
}

/** The history as `temporal workflow show --output json` prints it, plus every payload decoded. */
export function historyText(env: TestWorkflowEnvironment, workflowId: string): string {
  const raw = execFileSync(
    temporalCliPath(),
    ['workflow', 'show', '-w', workflowId, '--address', env.address, '--namespace', env.namespace ?? 'default', '--output', 'json'],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  const decoded: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'data' && typeof x === 'string') decoded.push(Buffer.from(x, 'base64').toString('utf8'));
        walk(x);
      }
    }
  };
  walk(JSON.parse(raw));
  return `${raw}\n${decoded.join('\n')}`;
}

/** Every join token the lab's nodes ever issued (their cluster-tokens.txt). */
export function issuedTokens(lab: Lab): string[] {
  return lab.nodes.flatMap((n) => {
    const file = snapPaths(lab.dir, n.name).tokens;
    return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => l.split('|')[0]) : [];
  });
}

/** Journal commands `microk8s <sub>` (argv as the lab records it). */
export function commandsOf(lab: Lab, sub: string) {
  return lab.journal().filter((e) => Array.isArray(e.argv) && e.argv.includes(sub) && (e.argv[0] === 'microk8s' || e.argv[1] === sub));
}
