/**
 * A short, bounded fuzz of the CLI's validation in every test run (the 60 s run is `npm run fuzz`; its figure is
 * in RELIABILITY.md). A failure prints the argv and inventory that broke it, and the seed that replays it.
 */
import { fuzzCli } from './fuzz';

test('random inventories and flags: exit 0, 2 or 3 only, no stack trace, no hang, no raw control character', async () => {
  const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
  const r = await fuzzCli(Number(process.env.FUZZ_SECONDS ?? 8), seed);
  process.stdout.write(`fuzz: ${r.cases} cases in ${process.env.FUZZ_SECONDS ?? 8} s (seed ${r.seed}), exits ${JSON.stringify(r.byExit)}, slowest ${r.slowestMs} ms\n`);
  expect(r.failures).toEqual([]);
  expect(r.cases).toBeGreaterThan(50);
  // Both outcomes are reached: the generators produce valid requests as well as bad ones.
  expect(r.byExit['2']).toBeGreaterThan(0);
  expect(r.byExit['0']).toBeGreaterThan(0);
}, 60_000);
