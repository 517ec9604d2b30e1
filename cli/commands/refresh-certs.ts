/** `runbook refresh-certs -i inv.yaml [--cert server.crt|front-proxy-client.crt] [--within 30d]`: §11, node by node. */
import type { Command } from 'commander';
import { z } from 'zod';
import { describeDays, ROTATABLE_CERTS, type RefreshCertsResult } from '../../common/certs';
import { columns } from '../columns';
import type { CliContext, RegisterCommands } from '../context';
import { duration, parseFlags } from '../flags';

const CA_REFUSAL =
  'ca.crt is shared by every control plane: refreshing it on one node leaves the others on the old CA, and the ' +
  'documented remedy is that every other node leaves and re-joins the cluster (behaviour reference §11). Add --ca for ' +
  'that plan (a new CA on one control plane, every other node re-joined through it; see it first with --ca --plan), ' +
  'or refresh server.crt and front-proxy-client.crt node by node';

const Flags = z
  .strictObject({
    inventory: z.string().min(1),
    cert: z
      .string()
      .refine((c) => c === 'ca.crt' || (ROTATABLE_CERTS as readonly string[]).includes(c), { error: `must be one of ${ROTATABLE_CERTS.join(', ')}, or ca.crt with --ca` })
      .optional(),
    ca: z.boolean().default(false),
    within: duration('30d').optional(),
    readyTimeout: duration('5m').default(300),
    plan: z.boolean().default(false),
    yes: z.boolean().default(false),
    json: z.boolean().default(false),
  })
  .superRefine((f, ctx) => {
    if (f.cert === 'ca.crt' && !f.ca) ctx.addIssue({ code: 'custom', path: ['cert'], message: CA_REFUSAL });
    if (f.ca && f.cert !== undefined && f.cert !== 'ca.crt') ctx.addIssue({ code: 'custom', path: ['cert'], message: `--ca rotates the CA only; refresh ${f.cert} in a run of its own, without --ca` });
    if (f.ca && f.within !== undefined) ctx.addIssue({ code: 'custom', path: ['within'], message: '--ca rotates the CA whatever its expiry; leave --within out' });
  });

function formatCaRotation(ca: NonNullable<RefreshCertsResult['ca']>, planOnly: boolean): string[] {
  const rows = [['NODE', 'CA (sha256)', planOnly ? 'NOW' : 'WHAT HAPPENED']];
  for (const n of ca.nodes) {
    const what = n.node === ca.anchor ? (ca.resumed ? 'anchor (new CA made by an earlier run)' : 'anchor: new CA') : ca.rejoined.includes(n.node) ? 're-joined' : ca.alreadyOnNewCa.includes(n.node) ? 'already on the new CA' : '';
    rows.push([n.node, (n.fingerprint ?? '?').slice(0, 16), planOnly ? '' : what]);
  }
  return columns(rows);
}

export function formatRefreshCerts(r: RefreshCertsResult, planOnly = false): string {
  if (r.ca) return [...(planOnly ? ['plan (nothing changed):', ...r.plan.map((p) => `  - ${p}`), ''] : []), ...formatCaRotation(r.ca, planOnly)].join('\n');
  const rows = [['NODE', 'CA', 'SERVER', 'FRONT PROXY CLIENT']];
  for (const n of r.after) {
    const d = (c: 'ca.crt' | 'server.crt' | 'front-proxy-client.crt') => (n.worker ? '-' : n.days[c] === undefined ? '?' : `${n.days[c]} days`);
    rows.push([n.node, d('ca.crt'), d('server.crt'), d('front-proxy-client.crt')]);
  }
  const lines = [...(planOnly ? ['plan (nothing changed):', ...r.plan.map((p) => `  - ${p}`), ''] : []), ...columns(rows)];
  if (!planOnly) {
    const done = r.rotated.filter((x) => !x.skipped);
    lines.push('', done.length ? `refreshed: ${done.map((x) => `${x.cert} on ${x.node} (${describeDays(x.daysBefore)} → ${x.daysAfter} days)`).join('; ')}` : 'nothing refreshed');
  }
  return lines.join('\n');
}

export const registerRefreshCertsCommand: RegisterCommands = (program: Command, ctx: CliContext) => {
  program
    .command('refresh-certs')
    .description('Renew the per-node certificates (server.crt, front-proxy-client.crt) of every control plane, one node at a time, with health gates; or rotate the shared CA with --ca')
    .requiredOption('-i, --inventory <file>', 'inventory YAML')
    .option('--cert <name>', `only this certificate: ${ROTATABLE_CERTS.join(' or ')} (default both; ca.crt only with --ca)`)
    .option('--ca', 'rotate the shared CA: a new CA on the first voter, then every other node leaves and re-joins through it (§11)')
    .option('--within <duration>', 'only certificates that expire within this long, e.g. 30d (default: all)')
    .option('--ready-timeout <duration>', "how long a node's API may take to answer after its services restart", '5m')
    .option('--plan', 'print the plan from live state and exit without changes')
    .option('-y, --yes', 'start without asking for confirmation of the plan')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExamples:\n  runbook refresh-certs -i inventory.yaml --within 30d --plan\n  runbook refresh-certs -i inventory.yaml --cert front-proxy-client.crt --yes\n  runbook refresh-certs -i inventory.yaml --ca --plan')
    .action(async (opts) => {
      const flags = parseFlags(ctx, Flags, opts);
      const inventory = await ctx.loadInventory(flags.inventory);
      const certs = flags.cert && flags.cert !== 'ca.crt' ? [flags.cert as (typeof ROTATABLE_CERTS)[number]] : [...ROTATABLE_CERTS];
      process.exitCode = await ctx.startRunbook({
        kind: 'refresh-certs',
        workflowType: 'refreshCerts',
        inventory,
        input: flags.ca ? { ca: true, readyTimeoutSeconds: flags.readyTimeout } : {
          certs,
          ...(flags.within !== undefined ? { withinDays: Math.floor(flags.within / 86_400) } : {}),
          readyTimeoutSeconds: flags.readyTimeout,
        },
        summary: flags.ca ? `refresh-certs --ca on ${inventory.cluster}: a new CA, every other node re-joined` : `refresh-certs ${certs.join(', ')} on ${inventory.cluster}${flags.within !== undefined ? ` (within ${opts.within})` : ''}`,
        planOnly: flags.plan,
        yes: flags.yes,
        json: flags.json,
        formatResult: (r) => formatRefreshCerts(r, flags.plan),
      });
    });
};
