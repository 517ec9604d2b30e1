/**
 * A seeded PRNG (mulberry32): the chaos driver draws every random moment from it, so a printed seed replays
 * the same schedule of kills (the moments are relative to the scenario, which itself runs at its own pace).
 */
export interface Rng {
  readonly seed: number;
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [lo, hi]. */
  int(lo: number, hi: number): number;
}

export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { seed: seed >>> 0, next, int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)) };
}

/** `CHAOS_SEED` when set (decimal), else a fresh one. */
export function seedFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.CHAOS_SEED;
  if (raw === undefined || raw === '') return Math.floor(Math.random() * 2 ** 31);
  if (!/^\d{1,10}$/.test(raw) || Number(raw) > 0xffffffff) throw new Error(`CHAOS_SEED: "${raw}" is not a whole number 0..4294967295`);
  return Number(raw);
}
