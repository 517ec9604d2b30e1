/**
 * Timing profiles of the lab. `fast` keeps tests in milliseconds; `realistic` follows the MicroK8s timings in
 * the behaviour reference (join >= 15 s, refresh 20-60 s, leave ~30 s, rebalance <= 30 s, drain retry 5 s).
 * Every duration is multiplied by the lab's time scale.
 */
export type Profile = 'fast' | 'realistic';

export interface Timing {
  joinMs: number;
  leaveMs: number;
  /** Time `snap refresh` takes before printing its result line. */
  refreshMs: [number, number];
  /** After a refresh or a start: kubelite/k8s-dqlite restarting, the node NotReady and its dqlite member down. */
  restartMs: number;
  rebalanceMs: number;
  drainRetryMs: number;
  startMs: number;
  stopMs: number;
  statusPollMs: number;
  /** How long a join waits on a black-holed (hung) port 25000 before the kernel's timeout. */
  connectTimeoutMs: number;
  /** Extra time per command under the `slow` fault. */
  slowMs: number;
}

const PROFILES: Record<Profile, Timing> = {
  fast: {
    joinMs: 20,
    leaveMs: 15,
    refreshMs: [20, 40],
    restartMs: 60,
    rebalanceMs: 60,
    drainRetryMs: 40,
    startMs: 10,
    stopMs: 5,
    statusPollMs: 20,
    connectTimeoutMs: 300,
    slowMs: 400,
  },
  realistic: {
    joinMs: 16_000,
    leaveMs: 30_000,
    refreshMs: [20_000, 60_000],
    restartMs: 8_000,
    rebalanceMs: 30_000,
    drainRetryMs: 5_000,
    startMs: 4_000,
    stopMs: 3_000,
    statusPollMs: 2_000,
    connectTimeoutMs: 130_000,
    slowMs: 5_000,
  },
};

export function timingFor(profile: Profile, scale = 1): Timing {
  const t = PROFILES[profile];
  const s = (ms: number) => Math.round(ms * scale);
  return {
    joinMs: s(t.joinMs),
    leaveMs: s(t.leaveMs),
    refreshMs: [s(t.refreshMs[0]), s(t.refreshMs[1])],
    restartMs: s(t.restartMs),
    rebalanceMs: s(t.rebalanceMs),
    drainRetryMs: s(t.drainRetryMs),
    startMs: s(t.startMs),
    stopMs: s(t.stopMs),
    statusPollMs: s(t.statusPollMs),
    connectTimeoutMs: s(t.connectTimeoutMs),
    slowMs: s(t.slowMs),
  };
}
