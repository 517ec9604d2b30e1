/**
 * Activities of the read-only `check` runbook. They report what they find instead of throwing: an unreachable
 * node or a stopped MicroK8s is a finding, not a failure. Nothing here changes a node.
 */
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../common/constants';
import type { NodeSpec } from '../common/inventory';
import type { ActivityDeps } from './deps';
import { CLOCK_PROBE, clockSkewMs, diskCommand, MAX_CLOCK_SKEW_MS, MIN_FREE_DISK_KB, parseClockNs, parseDf, parseSudoProbe, SUDO_PROBE } from './check-probes';
import { clusterMembersCommand, parseDqliteCluster } from './microk8s/dqlite';
import { getNodesCommand, parseNodes } from './microk8s/kubectl';
import { isSnapNotInstalled, parseSnapList, snapListCommand } from './microk8s/snap';
import { parseStatus, statusCommand } from './microk8s/status';
import type { NodeSession, TrustSettings } from './ssh';
import type { ClusterCheck, NodeCheck } from '../common/check';
import { CERT_WARN_DAYS, describeDays } from '../common/certs';
import { certCheckCommand, isWorkerRefusal, parseCertCheck } from './microk8s/certs';

export interface CheckNodeInput {
  node: NodeSpec;
  trust: TrustSettings;
}

export interface CheckClusterInput {
  /** Control-plane nodes to ask, in order; the first that answers is used. */
  candidates: NodeSpec[];
  trust: TrustSettings;
}

const SSH_FAILURES: Record<string, NodeCheck['hostKey']> = {
  [FailureType.HostKeyMismatch]: 'mismatch',
  [FailureType.HostKeyUnknown]: 'unknown',
  [FailureType.SshAuthFailed]: 'verified',
  [FailureType.SshConnectionFailed]: 'unreachable',
};

/** SSH-level failures become findings; anything else (a bug, a cancellation) propagates. */
function sshFinding(e: unknown): { hostKey: NodeCheck['hostKey']; message: string } | undefined {
  if (e instanceof ApplicationFailure && e.type && e.type in SSH_FAILURES) {
    return { hostKey: SSH_FAILURES[e.type], message: e.message };
  }
  return undefined;
}

const PROBE_TIMEOUT_MS = 30_000;
/** `microk8s status` can block 20–50 s while dqlite is unhealthy (behaviour reference §3). */
const STATUS_TIMEOUT_MS = 90_000;

async function probeNode(sh: NodeSession, node: NodeSpec, report: NodeCheck): Promise<void> {
  const sudo = node.become === 'sudo';
  // The first command opens the connection: host key and authentication are verified here.
  const sent = Date.now();
  const clock = await sh.run(CLOCK_PROBE, { timeoutMs: PROBE_TIMEOUT_MS });
  const received = Date.now();
  report.reachable = true;
  report.hostKey = 'verified';
  const remoteMs = parseClockNs(clock.stdout);
  if (remoteMs !== undefined) {
    report.clockSkewMs = clockSkewMs(remoteMs, sent, received);
    if (Math.abs(report.clockSkewMs) > MAX_CLOCK_SKEW_MS) {
      report.problems.push(`clock is ${report.clockSkewMs} ms off the worker's; fix NTP (inter-node TLS fails with skewed clocks)`);
    }
  } else {
    report.problems.push(`could not read the clock (date +%s%N printed ${JSON.stringify(clock.stdout.trim().slice(0, 40))})`);
  }

  if (sudo) {
    const r = await sh.run(SUDO_PROBE, { timeoutMs: PROBE_TIMEOUT_MS });
    report.sudo = parseSudoProbe(r.exitCode, r.stderr);
    if (report.sudo !== 'ok') {
      report.problems.push(`sudo -n true failed (${report.sudo}); allow ${node.user} passwordless sudo for the commands in the README`);
    }
  } else {
    report.sudo = 'not-needed';
  }

  const snap = await sh.run(snapListCommand(), { timeoutMs: PROBE_TIMEOUT_MS });
  // Trust a complete listing even when no exit status arrived (seen under load: exitCode null, no signal).
  if (snap.exitCode === 0 || (snap.exitCode === null && /^microk8s\s/m.test(snap.stdout))) {
    const s = parseSnapList(snap.stdout);
    report.microk8s = { installed: true, version: s.version, revision: s.revision, channel: s.tracking };
  } else {
    report.microk8s = { installed: false };
    report.problems.push(
      isSnapNotInstalled(snap.stderr)
        ? 'microk8s is not installed (sudo snap install microk8s --classic --channel <track>/stable)'
        : `snap list microk8s failed: ${snap.stderr.trim().split('\n')[0] ?? `exit ${snap.exitCode}`}`,
    );
  }

  if (report.microk8s.installed) {
    const st = await sh.run(statusCommand(node, { format: 'yaml' }), { timeoutMs: STATUS_TIMEOUT_MS });
    const status = parseStatus(st.stdout, st.exitCode ?? 1, st.stderr);
    report.status = {
      running: status.running,
      notRunningReason: status.notRunningReason,
      message: status.message,
      ha: status.ha,
      voters: status.voters,
      standbys: status.standbys,
    };
    if (!status.running && status.notRunningReason !== 'worker') {
      report.problems.push(`microk8s is not running (${status.notRunningReason}): ${status.message ?? ''}`.trim());
    }
    if (node.role === 'controlplane' && (!sudo || report.sudo === 'ok')) await probeCerts(sh, node, report);
  }

  const df = await sh.run(diskCommand(node), { timeoutMs: PROBE_TIMEOUT_MS });
  // Parsed whatever the exit status: a complete `df -P` table is the answer (see the snap note above).
  const disk = parseDf(df.stdout);
  if (disk) {
    report.disk = { ...disk, path: node.paths.snapData };
    if (disk.availableKb < MIN_FREE_DISK_KB) {
      report.problems.push(`only ${Math.round(disk.availableKb / 1024)} MiB free under ${node.paths.snapData}; free some space`);
    }
  } else {
    const said = (df.stderr.trim() || df.stdout.trim()).split('\n').slice(0, 2).join(' / ');
    report.problems.push(`could not read free disk under ${node.paths.snapData} (df exit ${df.exitCode}${df.signal ? `, ${df.signal}` : ''}): ${said}`);
  }
}

/** `refresh-certs --check` (§11): nothing renews these certificates; one expiring soon is a problem to fix now. */
async function probeCerts(sh: NodeSession, node: NodeSpec, report: NodeCheck): Promise<void> {
  const r = await sh.run(certCheckCommand(node), { timeoutMs: PROBE_TIMEOUT_MS });
  if (r.exitCode !== 0 || isWorkerRefusal(r.stdout)) return;
  try {
    report.certs = parseCertCheck(r.stdout);
  } catch {
    return; // an old MicroK8s without --check: nothing to report
  }
  for (const [cert, days] of Object.entries(report.certs)) {
    if (days! < CERT_WARN_DAYS) {
      const fix = cert === 'ca.crt' ? 'the CA needs every node to re-join (see README, refresh-certs)' : `runbook refresh-certs -i <inventory> --cert ${cert} --within ${CERT_WARN_DAYS}d`;
      report.problems.push(`${cert} ${describeDays(days!)}; ${fix}`);
    }
  }
}

export function createCheckActivities(deps: ActivityDeps) {
  return {
    /** Per node: SSH and host key, sudo, snap, status, clock skew and disk. */
    async checkNode({ node, trust }: CheckNodeInput): Promise<NodeCheck> {
      const report: NodeCheck = {
        node: node.name,
        role: node.role,
        address: `${node.address}:${node.port}`,
        reachable: false,
        hostKey: 'unreachable',
        problems: [],
        commands: [],
      };
      const sh = deps.ssh.session(node, trust);
      try {
        await probeNode(sh, node, report);
      } catch (e) {
        const finding = sshFinding(e);
        if (!finding) throw e;
        report.hostKey = finding.hostKey;
        report.sshError = finding.message;
        report.problems.push(finding.message);
      }
      report.commands = sh.records;
      return report;
    },

    /** Cluster view from the first control-plane node that answers: Ready nodes, dqlite voters, HA. */
    async checkCluster({ candidates, trust }: CheckClusterInput): Promise<ClusterCheck> {
      const result: ClusterCheck = { nodes: [], ready: [], notReady: [], voters: [], standbys: [], ha: false, problems: [], commands: [] };
      for (const node of candidates) {
        const sh = deps.ssh.session(node, trust);
        try {
          const kubectl = await sh.run(getNodesCommand(node), { timeoutMs: 60_000 });
          if (kubectl.exitCode !== 0) {
            result.problems.push(`${node.name}: kubectl get nodes failed: ${kubectl.stderr.trim().split('\n')[0] ?? ''}`);
            result.commands.push(...sh.records);
            continue;
          }
          const members = await sh.run(clusterMembersCommand(node, { timeoutMs: 4000 }), { timeoutMs: 30_000 });
          result.commands.push(...sh.records);
          result.via = node.name;
          for (const n of parseNodes(kubectl.stdout)) {
            result.nodes.push({ name: n.name, ready: n.ready, version: n.kubeletVersion, role: n.role, cordoned: n.unschedulable });
            (n.ready === 'True' ? result.ready : result.notReady).push(n.name);
          }
          if (members.exitCode === 0) {
            const m = parseDqliteCluster(members.stdout);
            result.voters = m.filter((x) => x.role === 'voter').map((x) => x.address);
            result.standbys = m.filter((x) => x.role === 'stand-by').map((x) => x.address);
          } else {
            result.problems.push(`${node.name}: dqlite .cluster failed: ${members.stdout.trim().split('\n')[0] || members.stderr.trim().split('\n')[0] || ''}`);
          }
          // MicroK8s' own rule: high availability means more than two voters.
          result.ha = result.voters.length > 2;
          if (result.notReady.length) result.problems.push(`not Ready: ${result.notReady.join(', ')}`);
          return result;
        } catch (e) {
          const finding = sshFinding(e);
          if (!finding) throw e;
          result.problems.push(`${node.name}: ${finding.message}`);
          result.commands.push(...sh.records);
        }
      }
      result.problems.push('no control-plane node answered kubectl; the cluster view is missing');
      return result;
    },
  };
}
