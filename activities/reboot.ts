/**
 * The reboot runbook's steps (behaviour reference §12): read a machine's boot id and reboot sentinel, run the
 * operator's maintenance command, reboot, wait until the machine answers with a new boot id.
 * The boot id is what makes each step safe to rerun: a reboot is issued only while the boot id is still the one
 * read before, so a retry after a worker crash never reboots a node twice.
 */
import { ApplicationFailure, Context, heartbeat } from '@temporalio/activity';
import { tail as outputTail } from '../common/audit';
import { FailureType } from '../common/constants';
import type { Inventory } from '../common/inventory';
import type { NodeBootState } from '../common/reboot';
import { type ActivityDeps, findNode, openNode, unreachableReason } from './deps';
import { maintenanceCommand, parseBootId, parseRebootPkgs, readBootIdCommand, rebootCommand, rebootPkgsCommand, rebootRequiredCommand } from './microk8s/reboot';
import { parseStatus, statusCommand } from './microk8s/status';

export interface RebootNodeInput {
  inventory: Inventory;
  node: string;
}

const POLL_MS = 1_000;
/** What of a command's output a result keeps: its last lines, enough to say why it failed. */
const TAIL_CHARS = 600;

const tail = (text: string) => outputTail(text.trim(), TAIL_CHARS);
const failure = (type: string, message: string) => ApplicationFailure.create({ type, message, nonRetryable: true });

export function createRebootActivities(deps: ActivityDeps) {
  async function bootId(input: RebootNodeInput): Promise<string> {
    const sh = openNode(deps, input.inventory, input.node);
    return parseBootId((await sh.check(readBootIdCommand(sh.node), { quiet: true, timeoutMs: 30_000 })).stdout);
  }

  return {
    /** The boot id and the reboot sentinel with its packages. A node that does not answer comes back `unreachable`. */
    async readBootState(input: RebootNodeInput): Promise<NodeBootState> {
      try {
        const sh = openNode(deps, input.inventory, input.node);
        const id = await bootId(input);
        const required = (await sh.run(rebootRequiredCommand(sh.node))).exitCode === 0;
        const pkgs = required ? parseRebootPkgs((await sh.run(rebootPkgsCommand(sh.node))).stdout) : [];
        return { node: input.node, bootId: id, rebootRequired: required, pkgs };
      } catch (err) {
        const unreachable = unreachableReason(err);
        if (unreachable === undefined) throw err;
        return { node: input.node, bootId: '', rebootRequired: false, pkgs: [], unreachable };
      }
    },

    /**
     * The operator's `--command`, as root, its output streamed (the SSH layer heartbeats while it runs; a cancel ends
     * it). It runs again on a retry, so it must be safe to repeat, as `apt-get -y full-upgrade` is. A non-zero exit
     * ends the step: the node stays cordoned and is not rebooted.
     */
    async runMaintenance(input: RebootNodeInput & { command: string; timeoutSeconds: number }): Promise<{ exitCode: number; tail: string }> {
      const sh = openNode(deps, input.inventory, input.node);
      const r = await sh.run(maintenanceCommand(input.command), { timeoutMs: input.timeoutSeconds * 1000 });
      const out = tail(`${r.stdout}${r.stderr ? `\n${r.stderr}` : ''}`);
      if (r.exitCode !== 0) {
        throw failure(FailureType.MaintenanceFailed, `${input.node}: the maintenance command exited ${r.exitCode ?? `on ${r.signal}`}; the node stays cordoned and was not rebooted\n${out}`);
      }
      return { exitCode: 0, tail: out };
    },

    /**
     * `systemctl reboot`, only while the boot id is still `bootIdBefore` (a retry after the reboot went through
     * finds a new one and does nothing). The machine going down under the command is the expected end, not an error.
     */
    async rebootNode(input: RebootNodeInput & { bootIdBefore: string }): Promise<{ issued: boolean; at: number }> {
      if ((await bootId(input)) !== input.bootIdBefore) return { issued: false, at: Date.now() };
      const sh = openNode(deps, input.inventory, input.node);
      const at = Date.now();
      try {
        const r = await sh.run(rebootCommand(), { timeoutMs: 60_000 });
        if (r.exitCode !== 0) throw failure(FailureType.RebootFailed, `${input.node}: systemctl reboot exited ${r.exitCode}: ${tail(r.stderr || r.stdout)}`);
      } catch (err) {
        // The machine going down under the command is the reboot happening.
        if (unreachableReason(err) === undefined) throw err;
      }
      return { issued: true, at };
    },

    /**
     * Wait until the machine answers over SSH with a boot id other than `bootIdBefore`, then (control planes) until
     * `microk8s status` says it runs. Fails at the deadline with what it saw last: the node stays cordoned.
     */
    async waitNodeBack(input: RebootNodeInput & { bootIdBefore: string; controlPlane: boolean; timeoutSeconds: number; pollMs?: number }): Promise<{ bootId: string; waitedMs: number }> {
      const started = Date.now();
      const node = findNode(input.inventory, input.node);
      let last = 'still up with the old boot id';
      let id: string | undefined;
      for (;;) {
        try {
          if (!id) {
            const now = await bootId(input);
            if (now !== input.bootIdBefore) id = now;
          }
          if (id && !input.controlPlane) return { bootId: id, waitedMs: Date.now() - started };
          if (id) {
            const sh = openNode(deps, input.inventory, node);
            const r = await sh.run(statusCommand(node), { quiet: true, timeoutMs: 60_000 });
            const st = parseStatus(r.stdout, r.exitCode ?? 1, r.stderr);
            if (st.running) return { bootId: id, waitedMs: Date.now() - started };
            last = `back with boot id ${id}, MicroK8s not running yet (${st.message ?? 'not running'})`;
          }
        } catch (err) {
          if (err instanceof ApplicationFailure && err.nonRetryable) throw err;
          last = id ? `back with boot id ${id}; ${(err as Error).message.split('\n')[0]}` : `down: ${(err as Error).message.split('\n')[0]}`;
        }
        heartbeat({ node: input.node, waiting: id ? 'services' : 'boot', last });
        if (Date.now() - started >= input.timeoutSeconds * 1000) {
          throw failure(FailureType.NodeDidNotReturn, `${input.node}: did not come back within ${input.timeoutSeconds}s after its reboot (last: ${last})`);
        }
        await Context.current().sleep(input.pollMs ?? POLL_MS);
      }
    },
  };
}
