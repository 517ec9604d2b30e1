/**
 * The runbook contract (common/runbooks.ts) against the workflows the worker registers: the assignment below is
 * checked by the build (tsc covers test/), so a workflow whose input or result drifts from the contract the CLI
 * starts it with breaks the build; the test checks the names at run time.
 */
import { RUNBOOK_TYPES, type RunbookType, type RunbookWorkflow } from '../../common/runbooks';
import * as workflows from '../../workflows';

const contract: { [T in RunbookType]: RunbookWorkflow<T> } = workflows;

test('every runbook the CLI can start is a workflow the worker registers, and every contract entry is listed', () => {
  for (const type of RUNBOOK_TYPES) expect(typeof (workflows as Record<string, unknown>)[type]).toBe('function');
  expect(Object.keys(contract).filter((k) => (RUNBOOK_TYPES as readonly string[]).includes(k)).sort()).toEqual([...RUNBOOK_TYPES].sort());
});
