/**
 * `runbook history` against a real run: a `form` on lab nodes through the real dev server, a real worker and the
 * real CLI. Every command the lab journalled on a node during the run must appear in the audit, on that node, with
 * its exit code where the audit line is that very command.
 */
import * as path from 'path';
import type { RunbookAudit } from '../../cli/audit/model';
import { startRunbook } from '../support/temporal';
import { useLabSuite } from '../support/e2e';

const s = useLabSuite({ lab: { name: 'hist', controlPlanes: 3, workers: 1, channel: '1.28/stable', profile: 'fast' } });

/** `sudo -n sh -c '<line>'` and `sudo -n <cmd>` as run, back to the line the activity built. */
function unwrap(command: string): string {
  return command.replace(/^sudo -n (sh -c )?/, '').replace(/^'(.*)'$/s, '$1');
}

test('every command the lab saw during a form run is in its audit, with node and exit code', async () => {
  const before = s.lab.journal().length;
  const handle = await startRunbook(
    s.env,
    { kind: 'form', workflowType: 'form', inventory: s.lab.inventory, input: {}, summary: 'form for the audit', yes: true },
    s.worker.taskQueue,
  );
  await handle.result();
  const journalled = s.lab
    .journal()
    .slice(before)
    .filter((e): e is typeof e & { argv: string[] } => Array.isArray(e.argv));
  expect(journalled.length).toBeGreaterThan(20);

  const cli = await s.cli(['history', handle.workflowId, '--json']);
  expect(cli.code).toBe(0);
  const audit = JSON.parse(cli.stdout) as RunbookAudit;
  expect(audit.workflowType).toBe('form');
  expect(audit.plan?.lines.length).toBeGreaterThan(0);

  const missing: string[] = [];
  const wrongExit: string[] = [];
  for (const j of journalled) {
    // The shim records argv[0] as the command's name; the audit holds the full path of the same program, and join
    // tokens (32 hex) only as <redacted>.
    const [program, ...args] = j.argv.map((a) => a.replace(/\b[0-9a-f]{32}\b/g, '<redacted>'));
    const name = path.basename(program);
    const onNode = audit.commands.filter((c) => c.node === j.node);
    const match = onNode.find((c) => c.command.includes(name) && args.every((a) => c.command.includes(a)));
    if (!match) {
      missing.push(`${j.node}: ${j.argv.join(' ')}`);
      continue;
    }
    const line = unwrap(match.command);
    const simple = !/[|;&]/.test(line) && path.basename(line.split(' ')[0]) === name;
    const sameExit = onNode.some(
      (c) => c.command === match.command && c.exitCode === j.exit,
    );
    if (simple && j.exit !== null && !sameExit) wrongExit.push(`${j.node}: ${line} (journal exit ${j.exit})`);
  }
  expect(missing).toEqual([]);
  expect(wrongExit).toEqual([]);
  // The tokens the lab issued during the run are nowhere in the audit.
  expect(cli.stdout).not.toMatch(/\b[0-9a-f]{32}\b/);
});
