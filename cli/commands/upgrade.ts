/**
 * `runbook upgrade`: the HA rolling upgrade (workflows/upgrade.ts). Every flag is validated before anything
 * starts; a bad one exits 2 naming the flag and the fix. The workflow validates again with the same schema.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { normaliseChannel, UpgradeOptions } from '../../common/upgrade';
import type { CliContext, RegisterCommands } from '../context';
import { duration, flagError, wholeNumber } from '../flags';

export const UpgradeFlags = z.strictObject({
  inventory: z.string().min(1),
  to: z.string().refine(
    (v) => {
      try {
        normaliseChannel(v);
        return true;
      } catch {
        return false;
      }
    },
    { error: (iss) => `${JSON.stringify(iss.input)} is not a MicroK8s channel; use <1.NN>[/stable|candidate|beta|edge], e.g. 1.29/stable` },
  ),
  plan: z.boolean().default(false),
  yes: z.boolean().default(false),
  json: z.boolean().default(false),
  approve: z.enum(['none', 'each', 'on-failure'], { error: 'must be none, each or on-failure' }).default('none'),
  workerBatch: wholeNumber.pipe(z.number().min(1, { error: 'must be at least 1' }).max(100, { error: 'must be at most 100' })).default(1),
  rollback: z.enum(['node', 'all'], { error: 'must be node or all' }).default('node'),
  onFailure: z.enum(['rollback', 'pause'], { error: 'must be rollback or pause' }).default('rollback'),
  drainTimeout: duration('5m').pipe(z.number().min(1, { error: 'must be at least 1s' }).max(86_400, { error: 'must be at most 24h' })),
  soak: duration('10m').pipe(z.number().max(86_400, { error: 'must be at most 24h' })),
  approvalTimeout: duration('1h').pipe(z.number().min(1, { error: 'must be at least 1s' }).max(604_800, { error: 'must be at most 168h' })),
  readyTimeout: duration('10m').pipe(z.number().min(5, { error: 'must be at least 5s' }).max(86_400, { error: 'must be at most 24h' })),
  hops: wholeNumber.pipe(z.number().min(1, { error: 'must be at least 1' }).max(20, { error: 'must be at most 20' })).optional(),
  stepTimeout: duration('30m').pipe(z.number().min(10, { error: 'must be at least 10s' }).max(86_400, { error: 'must be at most 24h' })).optional(),
});

export type UpgradeFlags = z.output<typeof UpgradeFlags>;

/** Parse commander's options; returns the flags or the message naming the bad flag and its fix. */
export function parseUpgradeFlags(raw: unknown): { flags: UpgradeFlags } | { error: string } {
  const parsed = UpgradeFlags.safeParse(raw);
  return parsed.success ? { flags: parsed.data } : { error: flagError(parsed.error) };
}

/** The workflow input's own fields (checked against the workflow's schema, so the two cannot drift). */
export function upgradeInput(flags: Omit<UpgradeFlags, 'inventory' | 'plan' | 'yes' | 'json'>): z.input<typeof UpgradeOptions> {
  return UpgradeOptions.parse({
    to: normaliseChannel(flags.to),
    approve: flags.approve,
    workerBatch: flags.workerBatch,
    rollback: flags.rollback,
    onFailure: flags.onFailure,
    drainTimeoutSeconds: flags.drainTimeout,
    soakSeconds: flags.soak,
    approvalTimeoutSeconds: flags.approvalTimeout,
    readyTimeoutSeconds: flags.readyTimeout,
    ...(flags.stepTimeout !== undefined ? { stepTimeoutSeconds: flags.stepTimeout } : {}),
    ...(flags.hops !== undefined ? { hops: flags.hops } : {}),
  });
}

/** The options `UpgradeFlags` reads, shared by `runbook upgrade` and `runbook fleet upgrade` (which applies them to each cluster). */
export function addUpgradeOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--to <channel>', 'target channel, e.g. 1.29/stable (1.29 means 1.29/stable)')
    .option('--hops <n>', 'the number of minor passes you expect (required with --yes when --to is more than one minor ahead)')
    .option('--approve <when>', 'none | each (before each node) | on-failure (before any rollback)', 'none')
    .option('--worker-batch <n>', 'workers upgraded at once (control planes: always one)', '1')
    .option('--rollback <scope>', 'node | all: on failure revert the failed node, or also every node this pass upgraded', 'node')
    .option('--on-failure <action>', 'rollback (revert, then stop) | pause (revert, then wait: runbook decide retry|rollback|abort)', 'rollback')
    .option('--drain-timeout <duration>', 'kubectl drain --timeout per node', '5m')
    .option('--soak <duration>', 'wait after a node passes its health gates, then check again', '0s')
    .option('--approval-timeout <duration>', 'an unanswered approval pauses the runbook after this', '1h')
    .option('--ready-timeout <duration>', 'how long a refreshed node may take to be Ready on the new version', '10m')
    .option(
      '--step-timeout <duration>',
      'the most one step may take, retries included (lost workers, a node that does not answer); then it fails and --on-failure applies. Drain and Ready waits get their own timeout on top; a snap refresh must fit in it',
      '30m',
    );
}

export const registerUpgradeCommands: RegisterCommands = (program: Command, ctx: CliContext) => {
  const upgrade = program
    .command('upgrade')
    .description(
      'HA rolling upgrade: plan from live state (one minor at a time), back up, hold auto-refresh, then one node at a ' +
        'time (control planes first, dqlite leader last, workers in batches): drain, snap refresh, wait Ready, health ' +
        'gates, uncordon; a failed node is rolled back and verified',
    )
    .requiredOption('-i, --inventory <file>', 'inventory YAML');
  addUpgradeOptions(upgrade)
    .option('--plan', 'print the plan from live state and exit without changes')
    .option('-y, --yes', 'start without asking for confirmation of the plan')
    .option('--json', 'print the result as JSON')
    .action(async (opts) => {
      const parsed = parseUpgradeFlags(opts);
      if ('error' in parsed) return ctx.badInput(parsed.error);
      const { flags } = parsed;
      const inventory = await ctx.loadInventory(flags.inventory);
      if (!inventory.nodes.some((n) => n.role === 'controlplane')) {
        ctx.badInput(`${flags.inventory}: no node has role controlplane; kubectl and the quorum checks need one`);
      }
      const input = upgradeInput(flags);
      process.exitCode = await ctx.startRunbook({
        kind: 'upgrade',
        workflowType: 'rollingUpgrade',
        inventory,
        input,
        summary: `upgrade ${inventory.cluster} to ${input.to}`,
        details: [
          `**rolling upgrade** of \`${inventory.cluster}\` to \`${input.to}\``,
          '',
          `approve: ${flags.approve}, worker batch: ${flags.workerBatch}, rollback: ${flags.rollback}, on failure: ${flags.onFailure}, ` +
            `drain timeout: ${flags.drainTimeout}s, soak: ${flags.soak}s, step timeout: ${flags.stepTimeout ?? 1800}s`,
          '',
          '| node | role |',
          '|---|---|',
          ...inventory.nodes.map((n) => `| ${n.name} | ${n.role} |`),
        ].join('\n'),
        planOnly: flags.plan,
        yes: flags.yes,
        json: flags.json,
      });
    });
};
