/**
 * The gates before each node's turn in a rolling reboot (kured's blockers, behaviour reference §12): the operator's
 * command on the engine side, firing Prometheus alerts, and blocking pods on the nodes about to go down. A gate that
 * cannot be read counts as firing (as in kured): never reboot on an unknown.
 */
import { execFile } from 'child_process';
import * as os from 'os';
import { Context, heartbeat } from '@temporalio/activity';
import type { Inventory } from '../common/inventory';
import { matchesSelector } from '../common/reboot';
import { printable } from '../common/text';
import type { ActivityDeps } from './deps';
import { openNode } from './deps';
import { parsePodLabels } from './microk8s/drain';
import { getPodsCommand, parsePods } from './microk8s/kubectl';

export interface GatesInput {
  inventory: Inventory;
  /** The nodes about to go down (their blocking pods count). */
  nodes: string[];
  gateCommand?: string;
  gatePrometheus?: string;
  alertFilter?: string;
  blockingPods?: string;
}

/** `firing`: one line per gate that holds the run, saying why. */
export interface GatesReport {
  clear: boolean;
  firing: string[];
}

const GATE_TIMEOUT_MS = 5 * 60_000;
const OUTPUT_CAP = 64 * 1024;
const line = (text: string) => printable(text.trim().split('\n').slice(-3).join(' / ')).slice(0, 300);

export function createRebootGateActivities(deps: ActivityDeps) {
  /** The operator's command, by `sh -c` on the worker, with a plain environment (the worker's secrets stay out). */
  function engineGate(command: string): Promise<string | undefined> {
    return new Promise((resolve) => {
      const ticker = setInterval(() => heartbeat({ gate: 'command' }), 5_000);
      const child = execFile(
        'sh',
        ['-c', command],
        {
          cwd: os.tmpdir(),
          env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.tmpdir(), LANG: 'C.UTF-8' },
          timeout: GATE_TIMEOUT_MS,
          maxBuffer: OUTPUT_CAP,
          signal: Context.current().cancellationSignal,
        },
        (err, stdout, stderr) => {
          clearInterval(ticker);
          if (!err) return resolve(undefined);
          const e = err as NodeJS.ErrnoException & { code?: number | string; killed?: boolean; signal?: string };
          const why = e.killed ? `killed (${e.signal ?? 'timeout'}) after ${GATE_TIMEOUT_MS / 1000}s at most` : typeof e.code === 'number' ? `exit ${e.code}` : e.message;
          const out = line(`${stdout}\n${stderr}`);
          resolve(`--gate-cmd: ${why}${out ? `: ${out}` : ''}`);
        },
      );
      child.stdin?.end();
    });
  }

  /** Firing alerts from Prometheus' `/api/v1/alerts`, those whose name matches the filter (all without one). */
  async function alertsGate(url: string, filter: string | undefined): Promise<string | undefined> {
    const endpoint = `${url.replace(/\/+$/, '')}/api/v1/alerts`;
    try {
      const res = await fetch(endpoint, { signal: AbortSignal.timeout(15_000), redirect: 'error' });
      if (!res.ok) return `--gate-prometheus: ${endpoint} answered HTTP ${res.status}; treated as firing`;
      const text = await res.text();
      if (text.length > 4 * 1024 * 1024) return `--gate-prometheus: ${endpoint} answered more than 4 MiB; treated as firing`;
      const body = JSON.parse(text) as { status?: string; data?: { alerts?: Array<{ state?: string; labels?: Record<string, string> }> } };
      if (body.status !== 'success' || !Array.isArray(body.data?.alerts)) return `--gate-prometheus: ${endpoint} did not answer a Prometheus alerts list; treated as firing`;
      const re = filter ? new RegExp(filter) : undefined;
      const firing = body.data!.alerts!.filter((a) => a.state === 'firing').map((a) => String(a.labels?.alertname ?? '?')).filter((n) => !re || re.test(n));
      return firing.length ? `--gate-prometheus: ${firing.length} alert(s) firing: ${printable([...new Set(firing)].slice(0, 10).join(', '))}` : undefined;
    } catch (err) {
      return `--gate-prometheus: ${endpoint} could not be read (${printable((err as Error).message)}); treated as firing`;
    }
  }

  /** Pods matching the selector on the nodes about to go down, not finished (kured: not Succeeded/Failed/Unknown). */
  async function podsGate(inventory: Inventory, nodes: string[], selector: string): Promise<string | undefined> {
    const via = inventory.nodes.filter((n) => n.role === 'controlplane');
    let last = 'no control plane answered';
    for (const cp of via) {
      const sh = openNode(deps, inventory, cp);
      const r = await sh.run(getPodsCommand(sh.node), { quiet: true, timeoutMs: 60_000 }).catch((err: Error) => ({ exitCode: 1, stdout: '', stderr: err.message, signal: undefined }));
      if (r.exitCode !== 0) {
        last = `${cp.name}: ${r.stderr.trim().split('\n')[0]}`;
        continue;
      }
      const labels = parsePodLabels(r.stdout);
      const blocking = parsePods(r.stdout)
        .filter((p) => p.node && nodes.includes(p.node) && !['Succeeded', 'Failed', 'Unknown'].includes(p.phase))
        .filter((p) => matchesSelector(labels.get(`${p.namespace}/${p.name}`) ?? {}, selector))
        .map((p) => `${p.namespace}/${p.name} on ${p.node}`);
      return blocking.length ? `--blocking-pods ${selector}: ${blocking.join(', ')}` : undefined;
    }
    return `--blocking-pods: the pods could not be read (${last}); treated as blocking`;
  }

  return {
    /** Every gate the run was given, once: which of them hold the run now, and why. */
    async checkGates(input: GatesInput): Promise<GatesReport> {
      const firing = (
        await Promise.all([
          input.gateCommand ? engineGate(input.gateCommand) : undefined,
          input.gatePrometheus ? alertsGate(input.gatePrometheus, input.alertFilter) : undefined,
          input.blockingPods ? podsGate(input.inventory, input.nodes, input.blockingPods) : undefined,
        ])
      ).filter((x): x is string => !!x);
      return { clear: firing.length === 0, firing };
    },
  };
}
