/**
 * Timing profiles of the lab. `fast` keeps tests in milliseconds; `realistic` follows the MicroK8s timings in
 * the behaviour reference (§2, §4, §5, §10): a control-plane join = 10 s fixed sleep + dqlite poll dots (>= 15 s),
 * refresh 20-60 s, leave ~30 s, role rebalancing <= 30 s, drain retry 5 s, k8s-dqlite restart >= 6 s, `start`
 * blocking <= 60 s. Every duration is multiplied by the lab's time scale.
 */
export type Profile = 'fast' | 'realistic';

export interface Timing {
  /** A whole control-plane join: joinSettleMs + joinPolls x joinPollMs (kept for readers of the total). */
  joinMs: number;
  /** join.py's `sleep 10` after stopping the apiserver and k8s-dqlite. */
  joinSettleMs: number;
  /** One poll of `.cluster` that did not see the node yet: prints `.. ` and waits this long. */
  joinPollMs: number;
  joinPolls: number;
  /** The first join to a lone node moves its dqlite to the real IP: k8s-dqlite restarts (wrapper sleeps 6 s). */
  dqliteRestartMs: number;
  leaveMs: number;
  /** Time `snap refresh` takes before printing its result line: lo + hash(node, revision) % (hi - lo). */
  refreshMs: [number, number];
  /** After a refresh or a start: kubelite/k8s-dqlite restarting, the node NotReady and its dqlite member down. */
  restartMs: number;
  rebalanceMs: number;
  drainRetryMs: number;
  startMs: number;
  /** `microk8s start` waits for a Ready node at most this long (wait_for_node: 60 s), then exits 0 anyway. */
  startWaitMaxMs: number;
  stopMs: number;
  statusPollMs: number;
  /** How long a join waits on a black-holed (hung) port 25000 before the kernel's timeout. */
  connectTimeoutMs: number;
  /** Extra time per command under the `slow` fault. */
  slowMs: number;
  /** A reboot: from `reboot` until the machine answers SSH again (×5 under `slow-boot`), then services start. */
  bootMs: number;
  /** After boot: containerd, k8s-dqlite's 6 s sleep, kubelite; `microk8s status` says not running meanwhile. */
  servicesBootMs: number;
  /** node-monitor-grace-period: a node down this long turns NotReady (40 s up to 1.31, 50 s from 1.32: ×1.25). */
  notReadyGraceMs: number;
}

type Base = Omit<Timing, 'joinMs'>;

const PROFILES: Record<Profile, Base> = {
  fast: {
    joinSettleMs: 8,
    joinPollMs: 3,
    joinPolls: 4,
    dqliteRestartMs: 6,
    leaveMs: 15,
    refreshMs: [20, 40],
    restartMs: 60,
    rebalanceMs: 60,
    drainRetryMs: 40,
    startMs: 10,
    startWaitMaxMs: 180,
    stopMs: 5,
    statusPollMs: 20,
    connectTimeoutMs: 300,
    slowMs: 400,
    bootMs: 250,
    servicesBootMs: 80,
    notReadyGraceMs: 120,
  },
  realistic: {
    joinSettleMs: 10_000,
    joinPollMs: 1_500,
    joinPolls: 4,
    dqliteRestartMs: 6_000,
    leaveMs: 30_000,
    refreshMs: [20_000, 60_000],
    restartMs: 8_000,
    rebalanceMs: 30_000,
    drainRetryMs: 5_000,
    startMs: 4_000,
    startWaitMaxMs: 60_000,
    stopMs: 3_000,
    statusPollMs: 2_000,
    connectTimeoutMs: 130_000,
    slowMs: 5_000,
    bootMs: 45_000,
    servicesBootMs: 25_000,
    notReadyGraceMs: 40_000,
  },
};

export function timingFor(profile: Profile, scale = 1): Timing {
  const t = PROFILES[profile];
  const s = (ms: number) => Math.round(ms * scale);
  const base: Base = {
    ...t,
    joinSettleMs: s(t.joinSettleMs),
    joinPollMs: s(t.joinPollMs),
    dqliteRestartMs: s(t.dqliteRestartMs),
    leaveMs: s(t.leaveMs),
    refreshMs: [s(t.refreshMs[0]), s(t.refreshMs[1])],
    restartMs: s(t.restartMs),
    rebalanceMs: s(t.rebalanceMs),
    drainRetryMs: s(t.drainRetryMs),
    startMs: s(t.startMs),
    startWaitMaxMs: s(t.startWaitMaxMs),
    stopMs: s(t.stopMs),
    statusPollMs: s(t.statusPollMs),
    connectTimeoutMs: s(t.connectTimeoutMs),
    slowMs: s(t.slowMs),
    bootMs: s(t.bootMs),
    servicesBootMs: s(t.servicesBootMs),
    notReadyGraceMs: s(t.notReadyGraceMs),
  };
  return { ...base, joinMs: base.joinSettleMs + base.joinPolls * base.joinPollMs };
}

/** A deterministic spread within [lo, hi): the same node refreshing to the same revision always takes as long. */
export function spread(lo: number, hi: number, key: string): number {
  let h = 2166136261;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619) >>> 0;
  return lo + (hi > lo ? h % (hi - lo) : 0);
}
