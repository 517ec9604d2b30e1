/**
 * The refresh-certs runbook's steps (behaviour reference §11): read each node's certificate expiry, refresh one
 * per-node certificate on one node, wait for that node's API to answer again, undo a refresh that broke it.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { type NodeCa, type NodeCertExpiry, type RotatableCert, type CertRotation } from '../common/certs';
import { FailureType } from '../common/constants';
import type { Inventory } from '../common/inventory';
import { type ActivityDeps, findNode, openNode, unreachableReason } from './deps';
import { caFingerprintCommand, certCheckCommand, certFingerprintsCommand, parseCertFingerprints, isWorkerRefusal, parseCaFingerprint, parseCertCheck, refreshCertCommand, undoCertsCommand } from './microk8s/certs';
import { getNodesCommand, parseNodes } from './microk8s/kubectl';

export interface CertNodeInput {
  inventory: Inventory;
  node: string;
}

const POLL_MS = 2_000;

export function createCertActivities(deps: ActivityDeps) {
  /** Days left per certificate; with `fingerprints`, each certificate file's hash too (only the plan needs them). */
  async function readExpiry(input: CertNodeInput, fingerprints: boolean): Promise<NodeCertExpiry> {
    const sh = openNode(deps, input.inventory, input.node);
    const r = await sh.check(certCheckCommand(sh.node));
    if (isWorkerRefusal(r.stdout)) return { node: input.node, worker: true, days: {} };
    const days = parseCertCheck(r.stdout);
    if (!fingerprints) return { node: input.node, worker: false, days };
    const hashes = await sh.run(certFingerprintsCommand(sh.node), { quiet: true, timeoutMs: 30_000 });
    return { node: input.node, worker: false, days, fingerprints: parseCertFingerprints(hashes.stdout) };
  }

  async function readCa(input: CertNodeInput): Promise<string> {
    const sh = openNode(deps, input.inventory, input.node);
    return parseCaFingerprint((await sh.check(caFingerprintCommand(sh.node))).stdout);
  }

  return {
    /** The node's CA (sha256 of ca.crt), or why the node does not answer. Read-only. */
    async readCaFingerprint(input: CertNodeInput): Promise<NodeCa> {
      try {
        return { node: input.node, fingerprint: await readCa(input) };
      } catch (err) {
        const unreachable = unreachableReason(err);
        if (unreachable === undefined) throw err;
        return { node: input.node, unreachable };
      }
    },

    /**
     * `microk8s refresh-certs --cert ca.crt` on the anchor: a new CA (and new server and front-proxy certificates),
     * kubelite and cluster-agent restarted. Idempotent: a CA that is no longer `fingerprintBefore` was made by an
     * earlier try and is kept (a second one would strand the nodes that already re-joined, and the undo level).
     */
    async refreshCa(input: CertNodeInput & { fingerprintBefore: string }): Promise<{ node: string; refreshed: boolean; fingerprint: string }> {
      const now = await readCa(input);
      if (now !== input.fingerprintBefore) return { node: input.node, refreshed: false, fingerprint: now };
      const sh = openNode(deps, input.inventory, input.node);
      await sh.check(refreshCertCommand(sh.node, 'ca.crt'), { timeoutMs: 10 * 60_000 });
      const after = await readCa(input);
      if (after === input.fingerprintBefore) {
        throw ApplicationFailure.create({ type: FailureType.CertRefreshFailed, message: `${input.node}: refresh-certs --cert ca.crt exited 0 but ca.crt did not change`, nonRetryable: true });
      }
      return { node: input.node, refreshed: true, fingerprint: after };
    },

    /**
     * `microk8s refresh-certs --check`: days until each certificate expires. Read-only. A node that does not answer
     * over SSH comes back as `unreachable` at once: the runbook refuses to start rather than wait for it.
     * `fingerprints: false` skips hashing the certificate files (the read after the run does not need them).
     */
    async readCertExpiry(input: CertNodeInput & { fingerprints?: boolean }): Promise<NodeCertExpiry> {
      try {
        return await readExpiry(input, input.fingerprints ?? true);
      } catch (err) {
        const unreachable = unreachableReason(err);
        if (unreachable === undefined) throw err;
        return { node: input.node, worker: false, days: {}, unreachable };
      }
    },

    /**
     * `microk8s refresh-certs --cert <cert>` on one control plane (it backs the old certificates up: one undo
     * level). Idempotent: a certificate that lives longer than the plan saw (`plannedDays`), or whose file is no
     * longer the one the plan hashed (`fingerprintBefore`: a certificate refreshed on the day it was made reads the
     * same days), was refreshed by an earlier try, and is left alone so that the undo level still holds the old one.
     */
    async refreshCert(input: CertNodeInput & { cert: RotatableCert; plannedDays: number; fingerprintBefore?: string }): Promise<CertRotation> {
      const before = await readExpiry(input, true);
      if (before.worker) throw ApplicationFailure.create({ type: FailureType.InvalidInput, message: `${input.node} is a worker: refresh-certs runs on control planes only`, nonRetryable: true });
      const daysBefore = before.days[input.cert] ?? 0;
      const rewritten = !!input.fingerprintBefore && !!before.fingerprints?.[input.cert] && before.fingerprints[input.cert] !== input.fingerprintBefore;
      if (daysBefore > input.plannedDays || rewritten) return { node: input.node, cert: input.cert, daysBefore: input.plannedDays, daysAfter: daysBefore, skipped: true };
      const sh = openNode(deps, input.inventory, input.node);
      await sh.check(refreshCertCommand(sh.node, input.cert), { timeoutMs: 10 * 60_000 });
      const after = await readExpiry(input, false);
      return { node: input.node, cert: input.cert, daysBefore, daysAfter: after.days[input.cert] };
    },

    /** `microk8s refresh-certs --undo`: the certificates of the last refresh back, MicroK8s restarted. */
    async undoCertRefresh(input: CertNodeInput): Promise<{ node: string; restored: boolean }> {
      const sh = openNode(deps, input.inventory, input.node);
      const r = await sh.run(undoCertsCommand(sh.node), { timeoutMs: 10 * 60_000 });
      if (r.exitCode === 0) return { node: input.node, restored: true };
      if (/No previous backup found/.test(r.stdout)) return { node: input.node, restored: false };
      throw ApplicationFailure.create({ type: FailureType.CommandFailed, message: `${input.node}: refresh-certs --undo exited ${r.exitCode}: ${(r.stdout || r.stderr).trim().slice(0, 300)}` });
    },

    /**
     * Wait until the node's own API server answers `kubectl get nodes` again and reports the node Ready (its
     * services restart after a refresh). Gives up after `timeoutSeconds` with the last thing it saw.
     */
    async waitNodeApi(input: CertNodeInput & { timeoutSeconds: number }): Promise<{ node: string; waitedMs: number }> {
      const started = Date.now();
      const node = findNode(input.inventory, input.node);
      let last = 'no answer yet';
      for (;;) {
        const sh = openNode(deps, input.inventory, node);
        try {
          const r = await sh.run(getNodesCommand(node), { quiet: true, timeoutMs: 60_000 });
          if (r.exitCode === 0) {
            const self = parseNodes(r.stdout).find((n) => n.name === input.node);
            if (self?.ready === 'True') return { node: input.node, waitedMs: Date.now() - started };
            last = self ? `Ready=${self.ready}` : 'not listed';
          } else last = (r.stderr || r.stdout).trim().split('\n')[0] ?? `exit ${r.exitCode}`;
        } catch (err) {
          if (err instanceof ApplicationFailure && err.nonRetryable) throw err;
          last = (err as Error).message.split('\n')[0];
        }
        if (Date.now() - started >= input.timeoutSeconds * 1000) {
          throw ApplicationFailure.create({
            type: FailureType.NodeApiNotBack,
            message: `${input.node}: its API server did not answer with the node Ready within ${input.timeoutSeconds}s (last: ${last})`,
            nonRetryable: true,
          });
        }
        await Context.current().sleep(POLL_MS);
      }
    },
  };
}
