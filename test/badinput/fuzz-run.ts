/** `npm run fuzz [seconds] [seed]`: the CLI validation fuzz for 60 s by default, with the figures RELIABILITY.md quotes. */
import { fuzzCli } from './fuzz';

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 60);
  const seed = process.argv[3] !== undefined ? Number(process.argv[3]) : undefined;
  const r = await fuzzCli(seconds, seed);
  process.stdout.write(`${JSON.stringify({ seconds, seed: r.seed, cases: r.cases, byExit: r.byExit, slowestMs: r.slowestMs, failures: r.failures.length }, null, 2)}\n`);
  for (const f of r.failures) process.stdout.write(`FAIL ${f.problem}: runbook ${JSON.stringify(f.argv)}\n${f.inventory ?? ''}\n`);
  process.exit(r.failures.length ? 1 : 0);
}

void main();
