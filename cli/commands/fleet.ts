/**
 * `runbook fleet upgrade|check|backup -f fleet.yaml` and `runbook fleet status`: one runbook over many clusters
 * (workflows/fleet.ts), each cluster under its own lock; a canary first, then at most --max-parallel at a time.
 */
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import type { Command } from 'commander';
import { z } from 'zod';
import { RunbookClusterKey, RunbookKindKey } from '../../common/constants';
import { FLEET_NAME, fleetWorkflowId, type FleetInput, type FleetKind, type FleetResult } from '../../common/fleet';
import { progressQuery, type RunbookProgress } from '../../common/messages';
import { printableDeep } from '../../common/text';
import { columns } from '../columns';
import type { ProgramContext } from '../context';
import { readFleet } from '../fleet-file';
import { parseFlags, wholeNumber } from '../flags';
import { uiLink } from '../ui-link';
import { addUpgradeOptions, UpgradeFlags, upgradeInput } from './upgrade';
import { example } from './runbook-id';

const count = (max: number) => wholeNumber.pipe(z.number().min(1, { error: 'must be at least 1' }).max(max, { error: `must be at most ${max}` }));

const FleetFlags = z.strictObject({
  file: z.string().min(1),
  maxParallel: count(100).default(1),
  stopAfterFailures: count(1000).optional(),
  plan: z.boolean().default(false),
  yes: z.boolean().default(false),
  json: z.boolean().default(false),
});
const BackupFlags = FleetFlags.extend({ keep: count(1000).optional() });
const FleetUpgradeFlags = UpgradeFlags.omit({ inventory: true }).extend(FleetFlags.shape);

export function formatFleet(r: FleetResult): string {
  const rows = [['CLUSTER', 'OUTCOME', 'RUNBOOK', 'DETAIL']];
  for (const c of r.clusters) rows.push([c.cluster, c.outcome, c.workflowId, c.detail]);
  const n = (o: string) => r.clusters.filter((c) => c.outcome === o).length;
  return [
    ...columns(rows),
    '',
    `fleet ${r.fleet}: ${n('succeeded')} succeeded, ${n('failed')} failed, ${n('busy')} busy (skipped), ${n('not-started')} not started${r.stoppedEarly ? ' (stopped after failures)' : ''}`,
  ].join('\n');
}

function addFleetOptions(cmd: Command): Command {
  return cmd
    .requiredOption('-f, --file <fleet>', 'a fleet file (fleet: <name>, inventories: [...]) or a directory of inventories')
    .option('--max-parallel <n>', 'clusters at once after the canary', '1')
    .option('--stop-after-failures <n>', 'start no new cluster after this many failed (default: 1 for upgrade, never for check and backup)')
    .option('--plan', 'print the fleet plan and exit without changes')
    .option('-y, --yes', 'start without asking for confirmation of the plan')
    .option('--json', 'print the result as JSON');
}

export function registerFleetCommand(program: Command, ctx: ProgramContext): void {
  const fleet = program
    .command('fleet')
    .description('One runbook over many clusters: a canary first, then at most --max-parallel at a time, each cluster under its own lock')
    .addHelpText('after', example('runbook fleet check -f sites/', 'runbook fleet upgrade -f fleet.yaml --to 1.29 --max-parallel 5 --yes', 'runbook fleet status -f fleet.yaml'));

  async function start(kind: FleetKind, flags: z.output<typeof FleetFlags>, own: Partial<FleetInput>, summary: string): Promise<void> {
    const f = await readFleet(flags.file, (file) => ctx.loadInventory(file));
    const input: FleetInput = {
      fleet: f.name,
      kind,
      clusters: f.clusters,
      maxParallel: flags.maxParallel,
      ...(flags.stopAfterFailures !== undefined ? { stopAfterFailures: flags.stopAfterFailures } : kind === 'upgrade' ? { stopAfterFailures: 1 } : {}),
      ...own,
      planOnly: flags.plan,
      yes: flags.yes,
      requestedBy: ctx.identity,
    };
    const client = await ctx.client();
    const workflowId = fleetWorkflowId(f.name);
    const say = (l: string) => (flags.json ? process.stderr : process.stdout).write(`${l}\n`);
    try {
      const handle = await client.workflow.start('fleetRun', {
        taskQueue: ctx.flags.taskQueue,
        workflowId,
        workflowIdConflictPolicy: 'FAIL',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        args: [input],
        typedSearchAttributes: [
          { key: RunbookClusterKey, value: f.name },
          { key: RunbookKindKey, value: 'fleet' },
        ],
        staticSummary: `${summary} on fleet ${f.name} (${f.clusters.length} clusters)`,
        staticDetails: [`**fleet ${kind}** of \`${f.name}\`, started by \`${ctx.identity}\``, '', `clusters: ${f.clusters.map((c) => `\`${c.cluster}\``).join(', ')}`].join('\n'),
      });
      say(`started fleet ${kind} on ${f.name} (${f.clusters.length} clusters): ${workflowId}`);
      say(`  UI: ${uiLink(client.options.namespace, workflowId, handle.firstExecutionRunId)}`);
    } catch (e) {
      if (!(e instanceof WorkflowExecutionAlreadyStartedError)) throw e;
      process.stderr.write(`fleet ${f.name} already has a run in progress (${workflowId}); watch it: runbook fleet status -f ${flags.file}, or runbook watch ${workflowId}\n`);
      process.exitCode = 1;
      return;
    }
    process.exitCode = await ctx.follow(workflowId, {
      json: flags.json,
      askPlan: true,
      formatResult: (r) => formatFleet(r as FleetResult),
      resultOk: (r) => (r as FleetResult).clusters.every((c) => c.outcome === 'succeeded') || !!flags.plan,
    });
  }

  addUpgradeOptions(addFleetOptions(fleet.command('upgrade').description('Rolling upgrade of every cluster of the fleet (the flags of runbook upgrade apply to each)')))
    .addHelpText('after', example('runbook fleet upgrade -f fleet.yaml --to 1.29 --plan', 'runbook fleet upgrade -f sites/ --to 1.29 --max-parallel 5 --stop-after-failures 2 --yes'))
    .action(async (opts) => {
      const flags = parseFlags(ctx, FleetUpgradeFlags, opts);
      const upgrade = upgradeInput(flags);
      await start('upgrade', flags, { upgrade }, `upgrade to ${upgrade.to}`);
    });

  addFleetOptions(fleet.command('check').description('Health check of every cluster of the fleet (read-only)'))
    .addHelpText('after', example('runbook fleet check -f sites/ --max-parallel 10 --yes'))
    .action(async (opts) => {
      await start('check', parseFlags(ctx, FleetFlags, opts), {}, 'check');
    });

  addFleetOptions(fleet.command('backup').description('Back up every cluster of the fleet'))
    .addHelpText('after', example('runbook fleet backup -f fleet.yaml --keep 14 --max-parallel 5 --yes'))
    .option('--keep <n>', 'keep the newest n backups of each cluster, delete older ones')
    .action(async (opts) => {
      const flags = parseFlags(ctx, BackupFlags, opts);
      await start('backup', flags, flags.keep !== undefined ? { keep: flags.keep } : {}, 'backup');
    });

  fleet
    .command('status')
    .description("The fleet's cluster table: each cluster's state in the current or last fleet run")
    .option('-f, --file <fleet>', 'the fleet file or directory (its name)')
    .option('--fleet <name>', 'the fleet by name')
    .option('--json', 'print JSON')
    .addHelpText('after', example('runbook fleet status -f fleet.yaml', 'runbook fleet status --fleet edge-sites --json'))
    .action(async (opts: { file?: string; fleet?: string; json?: boolean }) => {
      if (!!opts.file === !!opts.fleet) ctx.badInput('-f or --fleet: give exactly one, e.g. runbook fleet status -f fleet.yaml');
      if (opts.fleet !== undefined && !FLEET_NAME.test(opts.fleet)) ctx.badInput('--fleet: must be a lowercase name (a-z, 0-9, "-"), as in the fleet file');
      const name = opts.fleet ?? (await readFleet(opts.file!, (file) => ctx.loadInventory(file))).name;
      const client = await ctx.client();
      const handle = client.workflow.getHandle(fleetWorkflowId(name));
      let progress: RunbookProgress;
      let status: string;
      try {
        status = (await handle.describe()).status.name.toLowerCase();
        progress = printableDeep(await client.withDeadline(Date.now() + 5000, () => handle.query(progressQuery)));
      } catch (e) {
        if (e instanceof WorkflowNotFoundError) {
          process.stderr.write(`fleet ${name} has no run; start one: runbook fleet check -f <fleet>\n`);
          process.exitCode = 1;
          return;
        }
        throw e;
      }
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ fleet: name, workflowId: handle.workflowId, status, step: progress.step, clusters: progress.nodes }, null, 2)}\n`);
        return;
      }
      const rows = [['CLUSTER', 'STATE', 'DETAIL']];
      for (const n of progress.nodes) rows.push([n.name, n.state, n.detail ?? '']);
      process.stdout.write(`fleet ${name} (${handle.workflowId}): ${status}, ${progress.step}\n${columns(rows).join('\n')}\n`);
    });
}
