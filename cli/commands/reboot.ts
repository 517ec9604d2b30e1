/**
 * `runbook reboot -i inv.yaml [--only-if-required] [--command CMD] [--gate-cmd CMD] [--worker-batch N]`: rolling
 * maintenance and reboot, control planes one at a time with the dqlite leader last, then workers in batches (§12).
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { NodeCommandLine, REBOOT_DEFAULTS, RebootOptions, type RebootResult } from '../../common/reboot';
import { columns } from '../columns';
import type { CliContext, RegisterCommands } from '../context';
import { duration, parseFlags, wholeNumber } from '../flags';

const Flags = z.strictObject({
  inventory: z.string().min(1),
  onlyIfRequired: z.boolean().default(false),
  command: NodeCommandLine.optional(),
  commandTimeout: duration('1h').default(REBOOT_DEFAULTS.maintenanceTimeoutSeconds),
  gateCmd: NodeCommandLine.optional(),
  gatePrometheus: RebootOptions.shape.gatePrometheus,
  alertFilter: RebootOptions.shape.alertFilter,
  blockingPods: RebootOptions.shape.blockingPods,
  gateTimeout: duration('6h').default(REBOOT_DEFAULTS.gateTimeoutSeconds),
  gatePoll: duration('30s').default(REBOOT_DEFAULTS.gatePollSeconds),
  window: RebootOptions.shape.window,
  turnEstimate: duration('15m').default(REBOOT_DEFAULTS.turnEstimateSeconds),
  onFailure: z.enum(['stop', 'pause'], { error: 'must be stop or pause' }).default('stop'),
  workerBatch: wholeNumber.pipe(z.number().int().min(1, { error: 'must be at least 1' }).max(100, { error: 'must be at most 100' })).default(REBOOT_DEFAULTS.workerBatch),
  drainTimeout: duration('5m').default(REBOOT_DEFAULTS.drainTimeoutSeconds),
  bootTimeout: duration('10m').default(REBOOT_DEFAULTS.bootTimeoutSeconds),
  readyTimeout: duration('5m').default(REBOOT_DEFAULTS.readyTimeoutSeconds),
  plan: z.boolean().default(false),
  yes: z.boolean().default(false),
  json: z.boolean().default(false),
});

export function formatReboot(r: RebootResult, planOnly = false): string {
  if (planOnly) return ['plan (nothing changed):', ...r.plan.map((p) => `  - ${p}`)].join('\n');
  const rows = [['NODE', 'ROLE', 'OUTCOME', 'BOOT ID BEFORE', 'BOOT ID AFTER', 'BACK AFTER']];
  for (const n of r.nodes) {
    rows.push([
      n.node,
      n.controlPlane ? 'control plane' : 'worker',
      n.outcome === 'skipped' ? `skipped (${n.reason})` : 'rebooted',
      n.bootIdBefore?.slice(0, 8) ?? '-',
      n.bootIdAfter?.slice(0, 8) ?? '-',
      n.downMs !== undefined ? `${Math.round(n.downMs / 100) / 10}s` : '-',
    ]);
  }
  return columns(rows).join('\n');
}

export const registerRebootCommand: RegisterCommands = (program: Command, ctx: CliContext) => {
  program
    .command('reboot')
    .description('Rolling maintenance and reboot: control planes one at a time (dqlite leader last), then workers in batches; drain, patch, reboot, prove it rebooted, Ready, health gates, uncordon')
    .requiredOption('-i, --inventory <file>', 'inventory YAML')
    .option('--only-if-required', 'skip nodes without /var/run/reboot-required (a package asked for a reboot)')
    .option('--command <line>', "run this as root on each node after its drain, before its reboot (e.g. 'apt-get -y full-upgrade'); it must be safe to run twice")
    .option('--command-timeout <duration>', 'how long the --command may run on one node', '1h')
    .option('--gate-cmd <line>', 'before each turn, run this on the engine side (the worker); while it exits non-zero the run waits')
    .option('--gate-prometheus <url>', 'before each turn, wait while Prometheus (/api/v1/alerts) has firing alerts')
    .option('--alert-filter <regexp>', 'with --gate-prometheus: only alerts whose name matches this hold the run')
    .option('--blocking-pods <selector>', "before each turn, wait while pods matching this label selector run on the turn's nodes (e.g. app=backup)")
    .option('--gate-timeout <duration>', 'how long a firing gate may hold the run before --on-failure applies', '6h')
    .option('--gate-poll <duration>', 'how often a firing gate is looked at again', '30s')
    .option('--window <window>', "only in this maintenance window, e.g. 'Mon-Fri 02:00-05:00 UTC'; a turn starts only when it can end inside it")
    .option('--turn-estimate <duration>', "one node's turn, before the first is measured (for --window)", '15m')
    .option('--on-failure <what>', 'a node that does not come back, is not Ready or fails the health gate: stop, or pause for runbook decide', 'stop')
    .option('--worker-batch <n>', 'workers rebooted at the same time (control planes: always one)', '1')
    .option('--drain-timeout <duration>', 'kubectl drain --timeout per node', '5m')
    .option('--boot-timeout <duration>', 'how long a node may take to come back with a new boot id (and MicroK8s running, on a control plane)', '10m')
    .option('--ready-timeout <duration>', 'how long a node may take to be Ready once back', '5m')
    .option('--plan', 'print the plan from live state and exit without changes')
    .option('-y, --yes', 'start without asking for confirmation of the plan')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      "\nExamples:\n  runbook reboot -i inventory.yaml --only-if-required --plan\n  runbook reboot -i inventory.yaml --command 'apt-get update && apt-get -y full-upgrade' --only-if-required --worker-batch 3 --yes\n  runbook reboot -i inventory.yaml --window 'Mon-Fri 02:00-05:00 UTC' --gate-prometheus http://prometheus:9090 --alert-filter '^(KubeNodeNotReady|Dqlite.*)$' --yes",
    )
    .action(async (opts) => {
      const flags = parseFlags(ctx, Flags, opts);
      if (flags.alertFilter && !flags.gatePrometheus) ctx.badInput('--alert-filter: filters the alerts of --gate-prometheus; give --gate-prometheus URL too');
      const inventory = await ctx.loadInventory(flags.inventory);
      process.exitCode = await ctx.startRunbook({
        kind: 'reboot',
        workflowType: 'rollingReboot',
        inventory,
        input: {
          onlyIfRequired: flags.onlyIfRequired,
          ...(flags.command ? { maintenanceCommand: flags.command, maintenanceTimeoutSeconds: flags.commandTimeout } : {}),
          ...(flags.gateCmd ? { gateCommand: flags.gateCmd } : {}),
          ...(flags.gatePrometheus ? { gatePrometheus: flags.gatePrometheus } : {}),
          ...(flags.alertFilter ? { alertFilter: flags.alertFilter } : {}),
          ...(flags.blockingPods ? { blockingPods: flags.blockingPods } : {}),
          gateTimeoutSeconds: flags.gateTimeout,
          gatePollSeconds: flags.gatePoll,
          ...(flags.window ? { window: flags.window } : {}),
          turnEstimateSeconds: flags.turnEstimate,
          onFailure: flags.onFailure,
          workerBatch: flags.workerBatch,
          drainTimeoutSeconds: flags.drainTimeout,
          bootTimeoutSeconds: flags.bootTimeout,
          readyTimeoutSeconds: flags.readyTimeout,
        },
        summary: `reboot ${inventory.cluster}${flags.onlyIfRequired ? ' (only if required)' : ''}${flags.command ? ' with maintenance' : ''}`,
        planOnly: flags.plan,
        yes: flags.yes,
        json: flags.json,
        formatResult: (r) => formatReboot(r, flags.plan),
      });
    });
};
