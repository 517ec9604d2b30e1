/** `runbook stack down`: stop in reverse start order; `--purge` then removes the stack directory and nothing else. */
import * as fs from 'fs';
import * as path from 'path';
import { SERVER_SERVICES, stackPaths, type StackComponent } from './layout';
import { stopComponent } from './processes';

/** Stop everything that is running, UI first and PostgreSQL last; data stays. Resolves with one line each. */
export async function stopStack(stateDir: string): Promise<string[]> {
  const paths = stackPaths(stateDir);
  const line = (c: StackComponent, outcome: string) => `${c}: ${outcome}`;
  const lines = [line('ui', await stopComponent(paths.runDir, 'ui'))];
  lines.push(...(await Promise.all(SERVER_SERVICES.map(async (s) => line(s, await stopComponent(paths.runDir, s))))));
  lines.push(line('postgres', await stopComponent(paths.runDir, 'postgres', { signal: 'SIGINT', graceMs: 20_000 })));
  return lines;
}

/** Stop, then remove the stack's directory: only ever `<state dir>/stack`. */
export async function purgeStack(stateDir: string): Promise<string[]> {
  const lines = await stopStack(stateDir);
  const paths = stackPaths(stateDir);
  const rel = path.relative(path.resolve(stateDir), paths.root);
  if (rel !== 'stack') throw new Error(`refusing to remove ${paths.root}: not the stack directory inside ${stateDir}`);
  fs.rmSync(paths.root, { recursive: true, force: true });
  return [...lines, `removed ${paths.root}`];
}
