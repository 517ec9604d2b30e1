/** What a drain blocked by a PodDisruptionBudget means to the person running the upgrade (workflow-safe). */

/** One sentence for notes and failures: which pods, protected by which budgets, and what to do. */
export function describePdbBlock(node: string, blocks: ReadonlyArray<{ pod: string; budget?: string }>): string {
  const parts = blocks.map((b) => `pod ${b.pod} (PodDisruptionBudget ${b.budget ?? '<not found: kubectl get pdb -A>'})`);
  return `drain of ${node} blocked by a PodDisruptionBudget: ${parts.join(', ')}; scale the workload up or relax the budget, then retry`;
}

/** A pod whose eviction a PodDisruptionBudget refused, with the budget when one could be matched. */
export interface PdbBlock {
  /** `namespace/pod` */
  pod: string;
  budget?: string;
}
