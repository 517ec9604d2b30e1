/** `runbook check -i inventory.yaml [--json]`: the read-only health and pre-flight report. */
import type { Command } from 'commander';
import type { CheckResult } from '../../common/check';
import type { CliContext, RegisterCommands } from '../context';
import { columns } from '../columns';


function kib(kb: number): string {
  return kb >= 1024 * 1024 ? `${(kb / 1024 / 1024).toFixed(1)}G` : `${Math.round(kb / 1024)}M`;
}

export function formatCheck(r: CheckResult): string {
  const rows = [['NODE', 'ROLE', 'SSH', 'SUDO', 'VERSION', 'REV', 'CHANNEL', 'STATUS', 'SKEW', 'DISK FREE']];
  for (const n of r.nodes) {
    rows.push([
      n.node,
      n.role,
      n.reachable ? 'ok' : n.hostKey,
      n.sudo ?? '-',
      n.microk8s?.installed ? (n.microk8s.version ?? '?') : n.reachable ? 'not installed' : '-',
      n.microk8s?.revision ?? '-',
      n.microk8s?.channel ?? '-',
      n.status ? (n.status.running ? 'running' : (n.status.notRunningReason ?? 'not running')) : '-',
      n.clockSkewMs !== undefined ? `${n.clockSkewMs}ms` : '-',
      n.disk ? `${kib(n.disk.availableKb)} (${100 - n.disk.usedPercent}%)` : '-',
    ]);
  }
  const c = r.clusterView;
  const lines = [
    `cluster ${r.cluster}: ${!r.healthy ? `${r.problems.length} problem(s)` : r.formed === false ? 'pre-flight passed; not formed yet (runbook form joins the nodes)' : 'healthy'}`,
    '',
    ...columns(rows),
    '',
    `Ready:      ${c.ready.length ? c.ready.join(', ') : 'none'}${c.notReady.length ? `   not Ready: ${c.notReady.join(', ')}` : ''}${c.via ? `   (asked ${c.via})` : ''}`,
    `HA:         ${c.ha ? 'yes' : 'no'}`,
    `voters:     ${c.voters.length ? c.voters.join(' ') : 'none'}${c.standbys.length ? `   stand-bys: ${c.standbys.join(' ')}` : ''}`,
  ];
  if (r.problems.length) lines.push('', 'problems:', ...r.problems.map((p) => `  - ${p}`));
  return lines.join('\n');
}

export const registerCheckCommand: RegisterCommands = (program: Command, ctx: CliContext) => {
  program
    .command('check')
    .description('Read-only health and pre-flight report: SSH, sudo, snap, status, clock, disk; Ready nodes, HA, voters')
    .requiredOption('-i, --inventory <file>', 'inventory YAML')
    .option('--json', 'print the report as JSON on stdout (progress goes to stderr)')
    .addHelpText('after', '\nExit code 0 when healthy, 1 when it found problems.\n\nExample:\n  runbook check -i inventory.yaml')
    .action(async (opts: { inventory: string; json?: boolean }) => {
      const inventory = await ctx.loadInventory(opts.inventory);
      process.exitCode = await ctx.startRunbook({
        kind: 'check',
        workflowType: 'check',
        inventory,
        input: {},
        summary: `check ${inventory.cluster} (${inventory.nodes.length} nodes)`,
        yes: true,
        json: opts.json,
        formatResult: formatCheck,
        resultOk: (r) => r.healthy,
      });
    });
};
