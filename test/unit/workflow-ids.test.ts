/**
 * Workflow IDs are one namespace for every cluster: a cluster's lock ID must never equal any child ID of another
 * cluster's runbook (a cluster named `prod-hop1-upgrade-k8s-2` once blocked prod's upgrade).
 */
import fc from 'fast-check';
import { clusterWorkflowId, legacyNodeWorkflowId, nodeWorkflowId } from '../../common/constants';
import { InventoryInput } from '../../common/inventory';

const label = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?$/);
const step = fc.constantFrom('hop1-upgrade', 'hop2-upgrade-2', 'rollback', 'patch-upgrade', 'probe');

test('the reported collision is gone', () => {
  const child = nodeWorkflowId(clusterWorkflowId('prod'), 'hop1-upgrade', 'k8s-2');
  expect(child).toBe('runbook-prod.hop1-upgrade.k8s-2');
  expect(clusterWorkflowId('prod-hop1-upgrade-k8s-2')).not.toBe(child);
  // What the old scheme produced: the very ID of the other cluster's lock.
  expect(legacyNodeWorkflowId(clusterWorkflowId('prod'), 'hop1-upgrade', 'k8s-2')).toBe(clusterWorkflowId('prod-hop1-upgrade-k8s-2'));
});

test('no cluster lock ID equals a child ID of any cluster, for every valid name', () => {
  fc.assert(
    fc.property(label, label, step, label, (a, b, s, node) => {
      expect(clusterWorkflowId(a)).not.toBe(nodeWorkflowId(clusterWorkflowId(b), s, node));
    }),
    { numRuns: 2000 },
  );
});

test('cluster names cannot contain the separator', () => {
  const parsed = InventoryInput.safeParse({ cluster: 'prod.hop1', nodes: [{ name: 'k8s-1', address: '10.0.0.1' }] });
  expect(parsed.success).toBe(false);
});
