/**
 * What the upgrade runbook adds to the shared builders in kubectl.ts and snap.ts: the names of the
 * PodDisruptionBudgets that block a drain (kubectl prints only the pods), and snap refresh holds.
 * Behaviour reference: ../shared/microk8s-behaviour.md §5 (drain) and §6 / #2891 (auto-refresh).
 */
import { nodePaths, NodeSpec } from '../../common/inventory';
import { command } from '../../common/shell';

// --- PodDisruptionBudgets ---------------------------------------------------------------------------------------

/** `kubectl get pdb -A -o json`: kubectl's drain error names the pods, never the budget. */
export function listPdbsCommand(via: NodeSpec): string {
  return command(nodePaths(via).microk8s, 'kubectl', 'get', 'pdb', '--all-namespaces', '-o', 'json');
}

export interface PdbSelector {
  namespace: string;
  name: string;
  matchLabels: Record<string, string>;
}

interface PdbList {
  items?: Array<{
    metadata?: { name?: string; namespace?: string };
    spec?: { selector?: { matchLabels?: Record<string, string> } };
  }>;
}

export function parsePdbs(json: string): PdbSelector[] {
  const doc = JSON.parse(json) as PdbList;
  return (doc.items ?? []).map((i) => ({
    namespace: i.metadata?.namespace ?? 'default',
    name: i.metadata?.name ?? '?',
    matchLabels: i.spec?.selector?.matchLabels ?? {},
  }));
}

/** `namespace/pod` → labels, from `kubectl get pods -A -o json` (the shared pod parser keeps no labels). */
export function parsePodLabels(json: string): Map<string, Record<string, string>> {
  const doc = JSON.parse(json) as { items?: Array<{ metadata?: { name?: string; namespace?: string; labels?: Record<string, string> } }> };
  return new Map((doc.items ?? []).map((i) => [`${i.metadata?.namespace ?? 'default'}/${i.metadata?.name ?? ''}`, i.metadata?.labels ?? {}]));
}

/** The budget in the pod's namespace whose selector matches the pod's labels. */
export function budgetFor(namespace: string, labels: Record<string, string>, pdbs: PdbSelector[]): string | undefined {
  return pdbs.find(
    (p) =>
      p.namespace === namespace &&
      Object.keys(p.matchLabels).length > 0 &&
      Object.entries(p.matchLabels).every(([k, v]) => labels[k] === v),
  )?.name;
}

/** The eviction API's cause, when kubectl passes it on: `The disruption budget web-pdb needs 2 healthy pods…`. */
export function budgetNamedIn(output: string, pod: string): string | undefined {
  const name = pod.split('/')[1];
  for (const line of output.split('\n')) {
    if (!line.includes(`"${name}"`)) continue;
    const m = /The disruption budget (\S+) needs \d+ healthy pods?/.exec(line);
    if (m) return m[1];
  }
  return undefined;
}
