/**
 * `npm run bench`: every benchmark in turn, each printing its own figures (recorded in BENCHMARKS.md).
 * `npm run bench -- lab-up upgrade` runs only those. Benchmarks report figures; they never pass or fail on speed.
 */
import { execFileSync } from 'child_process';
import * as path from 'path';

const BENCHES = ['lab-up', 'engine-step', 'form', 'upgrade', 'backup', 'reboot', 'stack-load', 'fleet'];

const chosen = process.argv.slice(2).length ? process.argv.slice(2) : BENCHES;
for (const name of chosen) {
  if (!BENCHES.includes(name)) {
    console.error(`bench: unknown benchmark "${name}"; choose from ${BENCHES.join(', ')}`);
    process.exit(2);
  }
  console.log(`\n== bench/${name}`);
  execFileSync(process.execPath, [path.join(__dirname, `${name}.js`)], { stdio: 'inherit' });
}
