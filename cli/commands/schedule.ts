/**
 * `runbook schedule create|list|pause|unpause|delete|trigger`: runbooks on Temporal Schedules (visible in the UI's
 * Schedules page). Overlaps are skipped, never queued; each run still takes the cluster's lock, so a scheduled backup
 * during an upgrade is skipped and says so (workflows/scheduled-run.ts). A drill takes the cluster's drill ID instead.
 */
import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, type Client, type ScheduleDescription } from '@temporalio/client';
import type { Command } from 'commander';
import { z } from 'zod';
import { RunbookClusterKey, RunbookKindKey } from '../../common/constants';
import { SCHEDULABLE, scheduledRunWorkflowId, scheduleIdFor, type ScheduledKind, type ScheduledRunInput, type ScheduledRunResult } from '../../common/schedules';
import { plainTextProblem, printable, printableDeep } from '../../common/text';
import { columns } from '../columns';
import type { ProgramContext } from '../context';
import { duration, parseFlags, wholeNumber } from '../flags';
import { runbookInput } from '../start-options';
import { nodeName } from './control-plane-flags';
import { example } from './runbook-id';
import { drillBackupFlag } from './drill';
import { failureMessage } from '../follow';

/** `backup, check or drill`. */
const kinds = () => Object.keys(SCHEDULABLE).join(', ').replace(/, ([^,]+)$/, ' or $1');

const SCHEDULE_ID = /^[a-z0-9]([a-z0-9.-]{0,200}[a-z0-9])?$/;
/** Five fields, each of digits, `*`, `,`, `-`, `/` (and month/day names): what Temporal's cron spec reads. */
const CRON = /^(\S+\s+){4}\S+$/;

const CreateFlags = z.strictObject({
  inventory: z.string().min(1),
  every: duration('6h')
    .pipe(z.number().min(60, { error: 'must be at least 1m: a runbook takes longer than that' }))
    .optional(),
  cron: z
    .string()
    .max(200)
    .refine((c) => CRON.test(c.trim()) && /^[0-9A-Za-z*,/\-\s]+$/.test(c), { error: "is not a cron expression; use five fields, e.g. '0 * * * *' (every hour)" })
    .optional(),
  keep: wholeNumber.pipe(z.number().min(1, { error: 'must be at least 1' }).max(1000, { error: 'must be at most 1000' })).optional(),
  node: nodeName.optional(),
  stopped: z.boolean().default(false),
  backup: drillBackupFlag.optional(),
  id: z.string().regex(SCHEDULE_ID, { error: 'must be lowercase letters, digits, "." and "-", e.g. prod.nightly-backup' }).optional(),
  paused: z.boolean().default(false),
  note: z
    .string()
    .max(500)
    .refine((n) => !plainTextProblem(n), { error: 'must be one line of printable text' })
    .optional(),
});

interface Row {
  id: string;
  kind: string;
  cluster: string;
  spec: string;
  paused: boolean;
  note?: string;
  next?: string;
  last?: string;
}

/** As it was given (kept in the schedule's memo: Temporal stores a cron spec as calendars). */
function specText(d: ScheduleDescription): string {
  const given = (d.memo as { spec?: unknown } | undefined)?.spec;
  if (typeof given === 'string') return given;
  return d.spec.intervals?.map((i) => `every ${Number(i.every) / 1000}s`).join(', ') || `${d.spec.calendars?.length ?? 0} calendar(s)`;
}

async function lastOutcome(client: Client, d: ScheduleDescription): Promise<string | undefined> {
  const recent = d.info.recentActions.at(-1);
  if (!recent) return undefined;
  const at = recent.takenAt.toISOString().replace(/\.\d+Z$/, 'Z');
  const handle = client.workflow.getHandle(recent.action.workflow.workflowId, recent.action.workflow.firstExecutionRunId);
  const desc = await handle.describe().catch(() => undefined);
  if (!desc) return at;
  if (desc.status.name === 'FAILED') return `${at} failed: ${await handle.result().then(() => '', failureMessage)}`;
  if (desc.status.name !== 'COMPLETED') return `${at} ${desc.status.name.toLowerCase()}`;
  const r = (await handle.result().catch(() => undefined)) as ScheduledRunResult | undefined;
  return `${at} ${r?.outcome === 'skipped' ? `skipped: ${r.reason}` : (r?.summary ?? 'ran')}`;
}

export function registerScheduleCommand(program: Command, ctx: ProgramContext): void {
  const schedule = program
    .command('schedule')
    .description('Runbooks on a schedule (Temporal Schedules): backups, checks and restore drills that run without anyone at a keyboard')
    .addHelpText('after', example('runbook schedule create backup -i prod.yaml --every 6h --keep 14', 'runbook schedule list', 'runbook schedule pause runbook-prod.backup --reason "change freeze"'));

  schedule
    .command('create <kind>')
    .description(`Schedule a runbook (${Object.keys(SCHEDULABLE).join(', ')}) for a cluster: --every or --cron`)
    .requiredOption('-i, --inventory <file>', 'inventory YAML')
    .option('--every <duration>', 'run at this interval, e.g. 6h')
    .option('--cron <expr>', "or on this cron spec (UTC), e.g. '0 * * * *'")
    .option('--keep <n>', 'backup: keep only the newest n backups of the cluster')
    .option('--node <name>', 'backup: the control plane to back up (default: the first)')
    .option('--stopped', 'backup: stop MicroK8s on the node for a consistent copy (a short outage of that node)')
    .option('--backup <id|latest>', 'drill: the backup to restore (default latest: the newest at each run)')
    .option('--id <id>', 'schedule ID (default runbook-<cluster>.<kind>)')
    .option('--paused', 'create it paused (runbook schedule unpause <id> starts it)')
    .option('--note <text>', 'a note shown with the schedule')
    .addHelpText(
      'after',
      example('runbook schedule create backup -i prod.yaml --every 6h --keep 14', "runbook schedule create check -i prod.yaml --cron '0 * * * *'", 'runbook schedule create drill -i prod.yaml --every 24h'),
    )
    .action(async (kind: string, opts) => {
      if (!(kind in SCHEDULABLE)) ctx.badInput(`<kind>: ${JSON.stringify(printable(kind))} cannot be scheduled; use ${kinds()}`);
      const flags = parseFlags(ctx, CreateFlags, opts);
      if (!!flags.every === !!flags.cron) ctx.badInput("--every or --cron: give exactly one, e.g. --every 6h or --cron '0 * * * *'");
      if (kind !== 'backup' && (flags.keep || flags.node || flags.stopped)) ctx.badInput(`--keep, --node, --stopped: are for backup schedules, not ${kind}`);
      if (kind !== 'drill' && flags.backup) ctx.badInput(`--backup: is for drill schedules, not ${kind}`);
      const inventory = await ctx.loadInventory(flags.inventory);
      if (flags.node && !inventory.nodes.some((n) => n.name === flags.node && n.role === 'controlplane')) ctx.badInput(`--node ${flags.node}: not a control plane of ${flags.inventory}`);
      if (kind === 'drill' && !inventory.nodes.some((n) => n.role === 'controlplane')) ctx.badInput(`${flags.inventory}: no control-plane node; a drill copies the cluster's control planes into a lab`);
      const k = kind as ScheduledKind;
      const scheduleId = flags.id ?? scheduleIdFor(inventory.cluster, k);
      const own =
        k === 'backup'
          ? { ...(flags.node ? { node: flags.node } : {}), stopped: flags.stopped, ...(flags.keep ? { keep: flags.keep } : {}), label: `scheduled (${scheduleId})` }
          : k === 'drill'
            ? { backup: flags.backup ?? 'latest' }
            : {};
      const input: ScheduledRunInput = {
        scheduleId,
        kind: k,
        input: runbookInput({ kind: k, inventory, input: own, summary: '', yes: true }, `${ctx.identity} via schedule ${scheduleId}`) as ScheduledRunInput['input'],
      };
      const client = await ctx.client();
      try {
        await client.schedule.create({
          scheduleId,
          spec: flags.every ? { intervals: [{ every: flags.every * 1000 }] } : { cronExpressions: [flags.cron!.trim()] },
          action: {
            type: 'startWorkflow',
            workflowType: 'scheduledRun',
            workflowId: scheduledRunWorkflowId(scheduleId),
            taskQueue: ctx.flags.taskQueue,
            args: [input],
            typedSearchAttributes: [
              { key: RunbookClusterKey, value: inventory.cluster },
              { key: RunbookKindKey, value: 'schedule' },
            ],
            staticSummary: `scheduled ${k} of ${inventory.cluster} (${scheduleId})`,
          },
          policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '10m' },
          memo: { spec: flags.every ? `every ${opts.every}` : `cron ${flags.cron!.trim()}` },
          state: { paused: flags.paused, note: flags.note ?? `created by ${ctx.identity}` },
        });
      } catch (e) {
        if (e instanceof ScheduleAlreadyRunning) ctx.badInput(`--id: schedule ${scheduleId} exists already; delete it first (runbook schedule delete ${scheduleId}) or give another --id`);
        throw e;
      }
      process.stdout.write(`created schedule ${scheduleId}: ${k} of ${inventory.cluster} ${flags.every ? `every ${opts.every}` : `on cron ${flags.cron}`}${flags.paused ? ' (paused)' : ''}\n`);
    });

  schedule
    .command('list')
    .description('The runbook schedules: kind, cluster, when, paused, next run, the last run and how it ended')
    .option('--json', 'print JSON')
    .addHelpText('after', example('runbook schedule list', "runbook schedule list --json | jq '.[] | select(.paused)'"))
    .action(async (o: { json?: boolean }) => {
      const client = await ctx.client();
      const rows: Row[] = [];
      for await (const s of client.schedule.list()) {
        if (!s.scheduleId.startsWith('runbook-') && s.action?.type !== 'startWorkflow') continue;
        const d = await client.schedule.getHandle(s.scheduleId).describe();
        if (d.action.type !== 'startWorkflow' || d.action.workflowType !== 'scheduledRun') continue;
        const input = (d.action.args?.[0] ?? {}) as Partial<ScheduledRunInput>;
        rows.push({
          id: s.scheduleId,
          kind: input.kind ?? '?',
          cluster: input.input?.inventory?.cluster ?? '?',
          spec: specText(d),
          paused: d.state.paused,
          note: d.state.note,
          next: d.info.nextActionTimes[0]?.toISOString().replace(/\.\d+Z$/, 'Z'),
          last: await lastOutcome(client, d),
        });
      }
      const safe = printableDeep(rows.sort((a, b) => a.id.localeCompare(b.id)));
      if (o.json) return void process.stdout.write(`${JSON.stringify(safe, null, 2)}\n`);
      if (!safe.length) return void process.stdout.write('no runbook schedules\n');
      const table = [['ID', 'KIND', 'CLUSTER', 'WHEN', 'STATE', 'NEXT', 'LAST'], ...safe.map((r) => [r.id, r.kind, r.cluster, r.spec, r.paused ? 'paused' : 'active', r.next ?? '-', r.last ?? '-'])];
      process.stdout.write(`${columns(table).join('\n')}\n`);
    });

  const byId = (name: string, description: string, run: (h: ReturnType<Client['schedule']['getHandle']>, reason?: string) => Promise<void>, done: string) =>
    schedule
      .command(`${name} <id>`)
      .description(description)
      .option('--reason <text>', 'why (kept as the schedule note)')
      .addHelpText('after', example(`runbook schedule ${name} runbook-prod.backup${name === 'pause' ? ' --reason "change freeze"' : ''}`))
      .action(async (id: string, o: { reason?: string }) => {
        if (!SCHEDULE_ID.test(id)) ctx.badInput(`<id>: ${JSON.stringify(printable(id))} is not a schedule ID; runbook schedule list shows them`);
        if (o.reason !== undefined && plainTextProblem(o.reason)) ctx.badInput('--reason: must be one line of printable text');
        const client = await ctx.client();
        try {
          await run(client.schedule.getHandle(id), o.reason && `${o.reason} (${ctx.identity})`);
        } catch (e) {
          if (e instanceof ScheduleNotFoundError) ctx.badInput(`${id}: no such schedule; runbook schedule list shows them`);
          throw e;
        }
        process.stdout.write(`${id}: ${done}\n`);
      });
  byId('pause', 'Pause a schedule: no run starts until unpaused', (h, r) => h.pause(r ?? `paused by ${ctx.identity}`), 'paused');
  byId('unpause', 'Unpause a schedule', (h, r) => h.unpause(r ?? `unpaused by ${ctx.identity}`), 'unpaused');
  byId('delete', 'Delete a schedule (runs already started go on)', (h) => h.delete(), 'deleted');
  byId('trigger', 'Run a schedule now, once (skipped like any run when another runbook holds the cluster)', (h) => h.trigger(ScheduleOverlapPolicy.SKIP), 'triggered');
}
