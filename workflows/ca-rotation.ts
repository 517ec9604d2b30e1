/**
 * `runbook refresh-certs --ca`: a new shared CA, and every other node re-joined to receive it (behaviour reference
 * §11: `-e ca.crt` on one node leaves the others on the old CA; the documented remedy is that they leave and
 * re-join). Workflow code, called by refreshCerts; not a workflow of its own.
 *   1. Read every node's CA (sha256 of ca.crt) and the cluster's health; every node must answer and be Ready.
 *   2. The anchor is the first control plane of the inventory. Nodes that already disagree with it mean an earlier
 *      run made the new CA there: this run only re-joins (a second new CA would strand the nodes already moved).
 *   3. Plan and approve; the health gate's baseline.
 *   4. `refresh-certs --cert ca.crt` on the anchor, its API back, the health gate (on failure: `--undo`, stop: no
 *      node has moved yet).
 *   5. Each other node, control planes one at a time, then workers: drain, `microk8s leave`, `remove-node` on the
 *      anchor, join through the anchor (the form runbook as a child workflow), then its CA must be the anchor's
 *      and the health gate as at the start. A node already on the new CA is left alone.
 *   6. Read every node's CA again: one CA.
 */
import { executeChild, workflowInfo } from '@temporalio/workflow';
import type { CaRotation, NodeCa, RefreshCertsInput, RefreshCertsResult } from '../common/certs';
import { FailureType } from '../common/constants';
import type { Inventory } from '../common/inventory';
import { Checklist } from './checklist';
import { gateProblems } from './cluster-gate';
import { form } from './form';
import { certSteps, verifyOrUndo } from './cert-steps';
import { RunbookController } from './runbook-controller';

const short = (fp: string) => fp.slice(0, 12);

export async function rotateCa(input: RefreshCertsInput): Promise<RefreshCertsResult> {
  const { inventory } = input;
  const { read, change } = certSteps(input);
  const cps = inventory.nodes.filter((n) => n.role === 'controlplane');
  const rb = new RunbookController('refresh-certs', inventory.cluster, inventory.nodes.map((n) => n.name));
  const checklist = new Checklist(rb);
  const readyTimeoutSeconds = input.readyTimeoutSeconds ?? 300;
  const trust = { knownHosts: inventory.knownHosts, hostKeyPolicy: inventory.hostKeyPolicy };
  if (!cps.length) rb.fail(FailureType.InvalidInput, 'the inventory has no control plane: the CA lives on control planes');

  // 1. Read.
  const readCas = () => Promise.all(inventory.nodes.map((n) => read.readCaFingerprint.executeWithOptions({ summary: `read ${n.name}'s CA` }, [{ inventory, node: n.name }])));
  const cas = await checklist.step('readCa', readCas);
  rb.refuseSilentNodes(cas);
  const gate = () => read.checkCluster.executeWithOptions({ summary: 'health gate: nodes Ready, voters, HA' }, [{ candidates: cps, trust }]);
  const baseline = await checklist.step('healthGate', gate);
  const notReady = inventory.nodes.filter((n) => !baseline.ready.includes(n.name)).map((n) => n.name);
  if (notReady.length) rb.fail(FailureType.PreconditionFailed, `not starting: ${notReady.join(', ')} not Ready; a CA rotation re-joins every node, start from a healthy cluster; nothing was changed`);
  // The anchor stays: the first control plane that is a dqlite voter (a voter never has to leave, so a cluster
  // below three control planes, with one voter, keeps its database in place).
  const anchor = (cps.find((n) => baseline.voters.some((v) => v.startsWith(`${n.address}:`))) ?? cps[0]).name;
  // The joins go through the anchor: form takes the first clustered control plane of its inventory as primary.
  const throughAnchor: Inventory = { ...inventory, nodes: [...inventory.nodes.filter((n) => n.name === anchor), ...inventory.nodes.filter((n) => n.name !== anchor)] };
  const others = [...cps.filter((n) => n.name !== anchor), ...inventory.nodes.filter((n) => n.role === 'worker')].map((n) => n.name);

  // 2. Where an earlier run left off.
  const ca = (name: string, list: NodeCa[]) => list.find((c) => c.node === name)!.fingerprint!;
  const anchorCa = ca(anchor, cas);
  const resumed = others.some((n) => ca(n, cas) !== anchorCa);
  const pending = resumed ? others.filter((n) => ca(n, cas) !== anchorCa) : others;
  for (const c of cas) rb.node(c.node, 'pending', `CA ${short(c.fingerprint!)}`);

  // 3. Plan.
  const cpCount = cps.length;
  const plan = [
    resumed
      ? `${anchor}: already has a CA the other nodes do not (${short(anchorCa)}): an earlier CA rotation was interrupted; it is kept, not made again`
      : `${anchor}: sudo microk8s refresh-certs --cert ca.crt (a new CA, new server and front-proxy certificates, kubelite and cluster-agent restart), then wait for its API and the health gate (on failure: refresh-certs --undo, stop: no node has moved yet)`,
    ...pending.map((n) => {
      const cp = cps.some((c) => c.name === n);
      return `${n}: re-join through ${anchor} to receive the new CA: drain, microk8s leave, microk8s remove-node ${n} on ${anchor}, join as ${cp ? 'a control plane' : 'a worker'}; then its CA must be ${anchor}'s and the health gate pass${cp && cpCount === 3 ? ' (two voters while it is out: no high availability for that time)' : ''}`;
    }),
    ...(resumed && others.length > pending.length ? [`already on the new CA: ${others.filter((n) => !pending.includes(n)).join(', ')}`] : []),
    'Kubernetes restarts the pods of your workloads on each node that re-joins; service account tokens issued before stay valid (the CA key is the same)',
  ];
  const result = (after: NodeCa[], rejoined: string[] = []): RefreshCertsResult => ({
    plan,
    before: [],
    after: [],
    rotated: [],
    ca: { anchor, resumed, fingerprint: ca(anchor, after), nodes: after, rejoined, alreadyOnNewCa: others.filter((n) => !rejoined.includes(n) && ca(n, after) === ca(anchor, after)) } satisfies CaRotation,
  });
  if (input.planOnly) {
    await rb.approvePlan(plan, true, 'plan only');
    rb.step('plan only');
    return result(cas);
  }
  await rb.approvePlan(plan, input.yes, `rotate the CA of ${inventory.cluster} on ${anchor} and re-join ${pending.length} node(s)`);

  // 4. The new CA on the anchor.
  rb.focus(anchor);
  let newCa = anchorCa;
  if (!resumed) {
    rb.node(anchor, 'refreshing', 'ca.crt');
    const made = await checklist.step(`refreshCa ${anchor}`, () => change.refreshCa.executeWithOptions({ summary: `refresh-certs --cert ca.crt on ${anchor}` }, [{ inventory, node: anchor, fingerprintBefore: anchorCa }]));
    newCa = made.fingerprint;
    await verifyOrUndo({ change, rb, checklist, inventory, readyTimeoutSeconds, baseline, gate }, anchor, 'its previous CA was restored', 'no node was re-joined');
  }
  rb.node(anchor, 'done', `new CA ${short(newCa)}`);

  // 5. Every other node re-joins through the anchor.
  const rejoined: string[] = [];
  for (const node of pending) {
    rb.focus(node);
    const now = await checklist.step(`readCa ${node}`, () => read.readCaFingerprint.executeWithOptions({ summary: `read ${node}'s CA` }, [{ inventory, node }]));
    if (now.fingerprint === newCa) {
      rb.node(node, 'skipped', 'already on the new CA');
      continue;
    }
    rb.node(node, 'stopping', 'leaving to re-join with the new CA');
    await checklist.step(`drainNode ${node}`, () => change.drainDepartingNode.executeWithOptions({ summary: `drain ${node}` }, [{ inventory, remover: anchor, node }]));
    await checklist.step(`leaveCluster ${node}`, () => change.leaveCluster.executeWithOptions({ summary: `microk8s leave on ${node}` }, [{ inventory, node }]));
    await checklist.step(`removeNode ${node}`, () => change.removeNodeFromCluster.executeWithOptions({ summary: `remove-node ${node} on ${anchor}` }, [{ inventory, remover: anchor, node, force: false }]));
    await checklist.step(`verify ${node} is gone`, () =>
      change.waitNodeRemoved.executeWithOptions({ summary: `wait until ${node} is gone from Kubernetes and dqlite` }, [{ inventory, remover: anchor, node, options: { pollMs: 3_000, settleTimeoutMs: 5 * 60_000 } }]),
    );
    rb.node(node, 'joining', `through ${anchor}`);
    await checklist.step(`join ${node}`, () =>
      executeChild(form, {
        workflowId: `${workflowInfo().workflowId}.rejoin-${node}`,
        staticSummary: `re-join ${node} through ${anchor} for the new CA`,
        parentClosePolicy: 'REQUEST_CANCEL',
        args: [{ inventory: throughAnchor, requestedBy: input.requestedBy, yes: true, cleanStale: true }],
      }),
    );
    rb.node(node, 'verifying', 'its CA and the health gate');
    const after = await checklist.step(`readCa ${node} after`, () => read.readCaFingerprint.executeWithOptions({ summary: `read ${node}'s CA` }, [{ inventory, node }]));
    const problem = after.fingerprint !== newCa ? `its CA is ${short(after.fingerprint ?? after.unreachable ?? '?')}, not ${anchor}'s ${short(newCa)}` : gateProblems(baseline, await checklist.step(`healthGate ${node}`, gate));
    if (problem) {
      rb.node(node, 'failed', problem);
      rb.fail(FailureType.CertRefreshFailed, `${node} re-joined, but: ${problem}; the run stopped here: rerun refresh-certs --ca to go on (the new CA is kept)`);
    }
    rejoined.push(node);
    rb.node(node, 'done', `new CA ${short(newCa)}`);
  }
  rb.focus(null);

  // 6. One CA.
  const end = await checklist.step('readCa after', readCas);
  const apart = end.filter((c) => c.fingerprint !== newCa).map((c) => c.node);
  if (apart.length) rb.fail(FailureType.CertRefreshFailed, `after the rotation ${apart.join(', ')} still not on ${anchor}'s CA ${short(newCa)}; rerun refresh-certs --ca`);
  rb.step('done');
  return result(end, rejoined);

}
