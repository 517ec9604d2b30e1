import {
  budgetFor,
  budgetNamedIn,
  listPdbsCommand,
  parsePdbs,
  parsePodLabels,
} from '../../activities/microk8s/drain';
import { holdCommand, unholdCommand } from '../../activities/microk8s/snap';
import { describePdbBlock } from '../../common/drain';
import { resolveInventory } from '../../common/inventory';

const via = resolveInventory({ cluster: 'c', nodes: [{ name: 'k8s-1', address: '10.0.0.1' }] }).nodes[0];

describe('PDB-blocked drains name the budget', () => {
  test('builders quote pod names', () => {
    expect(listPdbsCommand(via)).toBe('/snap/bin/microk8s kubectl get pdb --all-namespaces -o json');
    expect(holdCommand()).toBe('snap refresh --hold microk8s');
    expect(unholdCommand()).toBe('snap refresh --unhold microk8s');
  });

  test('the eviction cause names the budget when kubectl passes it on', () => {
    const out = `error when evicting pods/"db-0" -n "shop" (will retry after 5s): Cannot evict pod as it would violate the pod's disruption budget. The disruption budget db-pdb needs 2 healthy pods and has 2 currently`;
    expect(budgetNamedIn(out, 'shop/db-0')).toBe('db-pdb');
    expect(budgetNamedIn(out, 'shop/other')).toBeUndefined();
  });

  test('otherwise budgets are matched to the pod by selector, in its namespace', () => {
    const pdbs = parsePdbs(
      JSON.stringify({
        items: [
          { metadata: { name: 'other', namespace: 'default' }, spec: { selector: { matchLabels: { app: 'db' } } } },
          { metadata: { name: 'web-pdb', namespace: 'default' }, spec: { selector: { matchLabels: { app: 'web' } } } },
          { metadata: { name: 'empty', namespace: 'default' }, spec: { selector: {} } },
        ],
      }),
    );
    const labels = parsePodLabels(JSON.stringify({ items: [{ metadata: { name: 'web-1', namespace: 'default', labels: { app: 'web', 'pod-template-hash': 'x' } } }] }));
    expect(budgetFor('default', labels.get('default/web-1')!, pdbs)).toBe('web-pdb');
    expect(budgetFor('shop', { app: 'web' }, pdbs)).toBeUndefined();
    expect(budgetFor('default', { app: 'cache' }, pdbs)).toBeUndefined();
  });

  test('the message names node, pod, budget and the fix', () => {
    expect(describePdbBlock('k8s-2', [{ pod: 'default/web-1', budget: 'web-pdb' }, { pod: 'default/web-2' }])).toBe(
      'drain of k8s-2 blocked by a PodDisruptionBudget: pod default/web-1 (PodDisruptionBudget web-pdb), ' +
        'pod default/web-2 (PodDisruptionBudget <not found: kubectl get pdb -A>); scale the workload up or relax the budget, then retry',
    );
  });
});
