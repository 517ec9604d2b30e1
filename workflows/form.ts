/**
 * `runbook form`: turn freshly installed MicroK8s nodes into a verified HA cluster, or grow an existing one.
 * It follows the manual procedure (behaviour reference, "Form a cluster"): add-node on the primary, join each
 * control-plane node one at a time and wait for dqlite to settle, join workers with `--worker`, set failure
 * domains, verify with `kubectl get nodes` and the dqlite member list.
 */
import { ActivityFailure, ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { type FormOptions, type FormSurvey, type PlannedJoin, type Verification, DEFAULT_FORM_TIMING, type FormInput, type FormResult, type FormTiming } from '../common/form';
import { RunbookController } from './runbook-controller';
import { stepOptions } from './step-options';

function formOptions(input: FormInput): FormOptions {
  const timing = { ...DEFAULT_FORM_TIMING, ...input.timing };
  return {
    maxClockSkewMs: input.maxClockSkewMs ?? 2_000,
    cleanStale: input.cleanStale ?? false,
    pollMs: timing.pollMs,
    settleTimeoutMs: timing.settleTimeoutMs,
    tokenTtlSeconds: timing.tokenTtlSeconds,
  };
}

/**
 * Activity proxies by option profile: quick probes, joins (long, heartbeating), waits. No attempt cap: a lost
 * worker is retried however often it happens; each step has a deadline (scheduleToClose) that covers its own work
 * and leaves room for retries, and real failures end it at once (workflows/step-options.ts).
 */
function formProxies(timing: FormTiming) {
  const nonRetryable = ['StaleDqliteMember', 'JoinRefused', 'JoinNotConverged'];
  const heartbeat = timing.heartbeatTimeoutMs;
  const waitMs = timing.settleTimeoutMs + 120_000;
  return {
    probe: proxyActivities<Activities>(stepOptions({ startToClose: '5m', scheduleToClose: '15m', heartbeat, nonRetryable })),
    change: proxyActivities<Activities>(stepOptions({ startToClose: '20m', scheduleToClose: '45m', heartbeat, nonRetryable, initialInterval: '2s' })),
    wait: proxyActivities<Activities>(stepOptions({ startToClose: waitMs, scheduleToClose: waitMs + 15 * 60_000, heartbeat, nonRetryable, initialInterval: '2s' })),
  };
}

export async function form(input: FormInput): Promise<FormResult> {
  const { inventory } = input;
  const rb = new RunbookController('form', inventory.cluster, inventory.nodes.map((n) => n.name));
  const timing = { ...DEFAULT_FORM_TIMING, ...input.timing };
  const options = formOptions(input);
  const act = formProxies(timing);

  rb.step('preflight: SSH, sudo, versions, clocks, ha-cluster, ports');
  const survey = await act.probe.surveyFormation.executeWithOptions(
    { summary: `pre-flight and plan for ${inventory.nodes.length} nodes` },
    [{ inventory, options }],
  );
  if (survey.problems.length > 0) {
    rb.fail(
      'PreflightFailed',
      `pre-flight found ${survey.problems.length} problem(s); nothing was changed:\n- ${survey.problems.join('\n- ')}`,
    );
  }
  for (const name of survey.members) rb.node(name, 'done', 'already a member');
  for (const j of survey.joins) rb.node(j.node, 'pending', `join as ${roleWords(j.as)}`);
  if (input.planOnly) return result(survey, [], undefined, []);

  if (!hasWork(survey)) {
    rb.note(`${inventory.cluster} is already formed as the inventory says: nothing to change`);
    rb.step('verifyCluster');
    const verification = await verify(act, rb, input, survey.primary);
    return result(survey, [], verification, rb.snapshot.notes);
  }
  await rb.approvePlan(survey.lines, input.yes, `form ${inventory.cluster} from ${survey.primary}`);

  for (const stale of survey.stale) {
    await rb.checkpoint();
    rb.step(`removeStaleMember ${stale.address}`);
    await approveStaleCleanup(rb, options, stale.node, stale.address);
    await act.change.removeStaleMember.executeWithOptions(
      { summary: `remove stale dqlite member ${stale.address} (${stale.node})` },
      [{ inventory, primary: survey.primary, node: stale.node }],
    );
  }

  const joined: string[] = [];
  // Control-plane nodes one at a time: dqlite must settle before the next join (§9 row 10).
  for (const j of survey.joins.filter((x) => x.as === 'controlplane')) {
    await rb.checkpoint();
    await joinAndSettle(act, rb, input, options, survey.primary, j);
    joined.push(j.node);
  }

  const workers = survey.joins.filter((x) => x.as === 'worker');
  if (workers.length > 0) {
    await rb.checkpoint();
    rb.step(`joinNode ${workers.length} worker(s), ${input.workerConcurrency ?? 5} at a time`);
    const failures: string[] = [];
    await inLanes(workers, Math.max(1, input.workerConcurrency ?? 5), async (j) => {
      try {
        await joinAndSettle(act, rb, input, options, survey.primary, j);
        joined.push(j.node);
      } catch (err) {
        failures.push(`${j.node}: ${describe(err)}`);
      }
    });
    if (failures.length > 0) {
      rb.fail('JoinFailed', `${failures.length} worker(s) did not join:\n- ${failures.join('\n- ')}`);
    }
  }

  // Failure domains change what k8s-dqlite reads at start: restart one control-plane node at a time.
  for (const fd of survey.failureDomains) {
    await rb.checkpoint();
    rb.step(`setFailureDomain ${fd.node}=${fd.domain}`);
    rb.node(fd.node, 'starting', `failure-domain=${fd.domain}, restarting`);
    await act.change.setFailureDomain.executeWithOptions(
      { summary: `set failure domain ${fd.domain} on ${fd.node} and restart it` },
      [{ inventory, node: fd.node, domain: fd.domain, options }],
    );
    await act.wait.waitNodeJoined.executeWithOptions(
      { summary: `wait until ${fd.node} is Ready and dqlite settled` },
      [{ inventory, primary: survey.primary, node: fd.node, as: 'controlplane', options }],
    );
    rb.node(fd.node, 'done', `failure-domain=${fd.domain}`);
  }

  rb.step('verifyCluster');
  const verification = await verify(act, rb, input, survey.primary);
  return result(survey, joined, verification, rb.snapshot.notes);

  function result(s: FormSurvey, j: string[], v: Verification | undefined, notes: string[]): FormResult {
    return {
      plan: s.lines,
      changed: j.length > 0 || s.failureDomains.length > 0 || s.stale.length > 0,
      primary: s.primary,
      joined: j,
      verification: v ?? { nodes: [], voters: 0, controlPlanes: 0, highAvailability: false, problems: [] },
      table: v ? summaryTable(v) : [],
      notes,
    };
  }
}

function hasWork(s: FormSurvey): boolean {
  return s.joins.length > 0 || s.failureDomains.length > 0 || s.stale.length > 0;
}

function roleWords(role: 'controlplane' | 'worker'): string {
  return role === 'controlplane' ? 'control plane' : 'worker';
}

type Proxies = ReturnType<typeof formProxies>;

/** joinNode then waitNodeJoined; a stale dqlite member found at join time is cleaned only with consent. */
async function joinAndSettle(
  act: Proxies,
  rb: RunbookController,
  input: FormInput,
  options: FormOptions,
  primary: string,
  j: PlannedJoin,
): Promise<void> {
  const { inventory } = input;
  const as = roleWords(j.as);
  rb.step(`joinNode ${j.node} as ${as}`);
  rb.focus(j.node);
  rb.node(j.node, 'joining', `join as ${as}`);
  let cleanStale = options.cleanStale;
  for (;;) {
    try {
      const joined = await act.change.joinNode.executeWithOptions(
        { summary: `join ${j.node} as ${as}` },
        [{ inventory, primary, node: j.node, as: j.as, options: { ...options, cleanStale } }],
      );
      if (joined.outcome === 'already-member') rb.note(`${j.node} was already a member (an earlier attempt joined it)`);
      if (joined.unconverged > 0) {
        rb.note(`${j.node}: microk8s join exited 0 without converging ${joined.unconverged} time(s) (the join trap); undone with microk8s leave and joined again`);
      }
      break;
    } catch (err) {
      const stale = failureType(err) === 'StaleDqliteMember';
      if (!stale || cleanStale) {
        rb.node(j.node, 'failed', describe(err));
        throw err;
      }
      const node = inventory.nodes.find((n) => n.name === j.node)!;
      await approveStaleCleanup(rb, options, j.node, `${node.address}:19001`);
      cleanStale = true;
    }
  }
  rb.node(j.node, 'verifying', 'waiting for Ready and dqlite membership');
  await act.wait.waitNodeJoined.executeWithOptions(
    { summary: `wait until ${j.node} is Ready${j.as === 'controlplane' ? ' and dqlite settled' : ''}` },
    [{ inventory, primary, node: j.node, as: j.as, options }],
  );
  rb.node(j.node, 'joined', `joined as ${as}`);
  rb.focus(null);
}

async function approveStaleCleanup(rb: RunbookController, options: FormOptions, node: string, address: string): Promise<void> {
  if (options.cleanStale) return;
  const outcome = await rb.requestApproval(
    `remove stale dqlite member ${address} so ${node} can join (microk8s remove-node ${address.split(':')[0]} --force)`,
  );
  if (outcome !== 'approved') {
    rb.fail(
      'StaleDqliteMember',
      `${address} (${node}) is a stale dqlite member and its removal was ${outcome}; ` +
        `remove it yourself or rerun with --clean-stale`,
    );
  }
}

async function verify(act: Proxies, rb: RunbookController, input: FormInput, primary: string): Promise<Verification> {
  const v = await act.wait.verifyFormation.executeWithOptions(
    { summary: `verify ${input.inventory.cluster}: nodes Ready, roles, dqlite voters` },
    [{ inventory: input.inventory, primary, options: formOptions(input) }],
  );
  for (const n of v.nodes) rb.node(n.name, n.ready && n.labelOk ? 'done' : 'failed', `${n.role}${n.dqliteRole ? `, ${n.dqliteRole}` : ''}`);
  if (v.controlPlanes === 2) {
    rb.note('two control-plane nodes give no high availability (1 voter + 1 spare): add a third control-plane node');
  }
  if (v.problems.length > 0) {
    rb.fail('VerificationFailed', `the cluster did not verify:\n- ${v.problems.join('\n- ')}`);
  }
  rb.note(summaryTable(v).join('\n'));
  return v;
}

function summaryTable(v: Verification): string[] {
  return [
    `high-availability: ${v.highAvailability ? 'yes' : 'no'}, ${v.voters} voter(s), ${v.controlPlanes} control-plane node(s)`,
    '| node | role | Ready | dqlite | version |',
    '|---|---|---|---|---|',
    ...v.nodes.map(
      (n) => `| ${n.name} | ${n.role} | ${n.ready ? 'yes' : 'NO'} | ${n.dqliteRole ?? '-'} | ${n.version ?? '?'} |`,
    ),
  ];
}

/** Run `fn` over `items` with at most `limit` in flight (deterministic: workflow promises only). */
async function inLanes<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

function failureType(err: unknown): string | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined;
}

function describe(err: unknown): string {
  const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
  return cause instanceof Error ? cause.message : String(cause);
}
