/**
 * `runbook refresh-certs`: renew the per-node certificates of every control plane, one node at a time (behaviour
 * reference §11: server.crt and front-proxy-client.crt live 365 days and nothing renews them; refreshing one node
 * changes nothing elsewhere).
 *   1. Read every control plane's certificate expiry (`microk8s refresh-certs --check`).
 *   2. Plan the certificates due (`--within`, or all); the shared CA is refused (it needs every node to re-join).
 *   3. Health gate before the first node: every control plane Ready, dqlite voters and HA as they are.
 *   4. Node by node: `refresh-certs --cert` for each chosen certificate, wait until the node's own API answers with
 *      the node Ready, the health gate again. A node that fails it gets `refresh-certs --undo` and the run stops.
 *   5. Read the expiry again.
 */
import { type CertRotation, describeDays, type NodeCertExpiry, type RefreshCertsInput, type RefreshCertsResult, ROTATABLE_CERTS, type RotatableCert } from '../common/certs';
import { FailureType } from '../common/constants';
import { rotateCa } from './ca-rotation';
import { certSteps, verifyOrUndo } from './cert-steps';
import { Checklist } from './checklist';
import { RunbookController } from './runbook-controller';

export async function refreshCerts(input: RefreshCertsInput): Promise<RefreshCertsResult> {
  // The shared CA is another procedure: a new CA on one node, every other node re-joined (workflows/ca-rotation.ts).
  if (input.ca) return rotateCa(input);
  const { inventory } = input;
  const { read, change } = certSteps(input);
  const cps = inventory.nodes.filter((n) => n.role === 'controlplane');
  const rb = new RunbookController('refresh-certs', inventory.cluster, cps.map((n) => n.name));
  const checklist = new Checklist(rb);
  const certs: RotatableCert[] = input.certs?.length ? input.certs : [...ROTATABLE_CERTS];
  const refused = certs.filter((c) => !(ROTATABLE_CERTS as readonly string[]).includes(c));
  if (refused.length) rb.fail(FailureType.InvalidInput, `certs: ${refused.join(', ')} cannot be refreshed node by node; use ${ROTATABLE_CERTS.join(' or ')}`);
  const readyTimeoutSeconds = input.readyTimeoutSeconds ?? 300;
  const trust = { knownHosts: inventory.knownHosts, hostKeyPolicy: inventory.hostKeyPolicy };

  // 1. Read.
  // The plan hashes each certificate file (how a rerun tells one it already refreshed); the read after does not.
  const readAll = (fingerprints: boolean) =>
    Promise.all(cps.map((n) => read.readCertExpiry.executeWithOptions({ summary: `read ${n.name}'s certificate expiry` }, [{ inventory, node: n.name, fingerprints }])));
  const before = await checklist.step('readCertExpiry', () => readAll(true));
  for (const n of before) rb.node(n.node, n.unreachable ? 'failed' : 'done', describeExpiry(n));
  rb.refuseSilentNodes(before);

  // 2. Plan.
  const due = before.flatMap((n) =>
    certs.filter((c) => n.days[c] !== undefined && (input.withinDays === undefined || n.days[c]! <= input.withinDays)).map((cert) => ({ node: n.node, cert, days: n.days[cert]!, fingerprint: n.fingerprints?.[cert] })),
  );
  const nodes = cps.map((n) => n.name).filter((n) => due.some((d) => d.node === n));
  const plan = nodes.length
    ? nodes.map(
        (node) =>
          `${node}: ${due
            .filter((d) => d.node === node)
            .map((d) => `refresh ${d.cert} (${describeDays(d.days)})`)
            .join(', ')} with sudo microk8s refresh-certs --cert; then wait for its API and the health gates (on failure: refresh-certs --undo, stop)`,
      )
    : [`nothing to do: no ${certs.join(' or ')} expires within ${input.withinDays} day(s)`];
  const result = (after: NodeCertExpiry[], rotated: CertRotation[] = []): RefreshCertsResult => ({ plan, before, after, rotated });
  if (input.planOnly) {
    await rb.approvePlan(plan, true, 'plan only');
    rb.step('plan only');
    return result(before);
  }
  await rb.approvePlan(plan, input.yes || nodes.length === 0, `refresh certificates on ${nodes.join(', ') || 'no node'}`);
  if (nodes.length === 0) {
    rb.step('done: nothing to do');
    return result(before);
  }

  // 3. Health gate before anything changes.
  const gate = () => read.checkCluster.executeWithOptions({ summary: 'health gate: control planes Ready, voters, HA' }, [{ candidates: cps, trust }]);
  const baseline = await checklist.step('healthGate', gate);
  // An expired server.crt makes that node's API refuse every client (x509): when no control plane's API answers and
  // those nodes' certificate is the cause, the refresh is the cure, not a reason to refuse. The gate then starts
  // from nothing and judges each node by what the refreshed ones see.
  const expiredServer = before.filter((n) => (n.days['server.crt'] ?? 0) < 0).map((n) => n.node);
  const excused = (name: string) => baseline.via === undefined && expiredServer.includes(name) && due.some((d) => d.node === name && d.cert === 'server.crt');
  if (cps.some((n) => excused(n.name))) rb.note(`no control plane's API answers: server.crt has expired on ${expiredServer.join(', ')}; refreshing it is what brings them back`);
  const notReady = cps.filter((n) => !baseline.ready.includes(n.name) && !excused(n.name)).map((n) => n.name);
  if (notReady.length) rb.fail(FailureType.PreconditionFailed, `not starting: control plane(s) ${notReady.join(', ')} not Ready; nothing was changed`);

  // 4. Node by node.
  const verify = { change, rb, checklist, inventory, readyTimeoutSeconds, baseline, gate };
  const rotated: CertRotation[] = [];
  for (const node of nodes) {
    rb.focus(node);
    await checklist.step(`refreshCerts ${node}`, async () => {
      rb.node(node, 'refreshing', due.filter((d) => d.node === node).map((d) => d.cert).join(', '));
      for (const d of due.filter((x) => x.node === node)) {
        rotated.push(await change.refreshCert.executeWithOptions({ summary: `refresh ${d.cert} on ${node}` }, [{ inventory, node, cert: d.cert, plannedDays: d.days, ...(d.fingerprint ? { fingerprintBefore: d.fingerprint } : {}) }]));
      }
    });
    await verifyOrUndo(verify, node, 'its previous certificates were restored', 'the run stopped before the next node');
    rb.node(node, 'done', 'refreshed');
  }
  rb.focus(null);

  // 5. Read again.
  const after = await checklist.step('readCertExpiry after', () => readAll(false));
  for (const n of after) rb.node(n.node, 'done', describeExpiry(n));
  rb.step('done');
  return result(after, rotated);

}

function describeExpiry(n: NodeCertExpiry): string {
  if (n.unreachable) return `does not answer: ${n.unreachable}`;
  if (n.worker) return 'worker: no certificates of its own to refresh';
  return Object.entries(n.days)
    .map(([cert, days]) => `${cert} ${describeDays(days!)}`)
    .join(', ');
}
