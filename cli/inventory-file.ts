/** Read an inventory file: YAML, then the shared zod schema. Errors name the file, the path and the fix. */
import * as fs from 'fs';
import * as os from 'os';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { Inventory, InventoryError, resolveInventory } from '../common/inventory';

export function readInventoryFile(file: string): Inventory {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InventoryError(file, [
      code === 'ENOENT' ? 'no such file; pass the inventory with -i <file>' : `cannot read it (${code ?? (e as Error).message})`,
    ]);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    const where = e instanceof YAMLParseError && e.linePos ? `line ${e.linePos[0].line}` : '(yaml)';
    throw new InventoryError(file, [`${where}: not valid YAML: ${(e as Error).message.split('\n')[0]}`]);
  }
  const inventory = resolveInventory(raw, file);
  if (process.env.RUNBOOK_SKIP_KEY_CHECK !== '1') checkKeyFiles(inventory, file);
  return inventory;
}

/**
 * Key files are read by the worker, but a missing one is a typo the user should hear about before anything starts.
 * When the worker runs on another machine than the CLI, RUNBOOK_SKIP_KEY_CHECK=1 turns this off.
 */
function checkKeyFiles(inventory: Inventory, file: string): void {
  const problems: string[] = [];
  inventory.nodes.forEach((n, i) => {
    for (const [where, keyFile] of [
      [`nodes[${i}].identityFile`, n.identityFile],
      [`nodes[${i}].jump.identityFile`, n.jump?.identityFile],
    ] as const) {
      if (!keyFile) continue;
      const local = keyFile.startsWith('~/') ? `${os.homedir()}${keyFile.slice(1)}` : keyFile;
      let why: string | undefined;
      try {
        if (!fs.statSync(local).isFile()) why = 'is not a file';
        else fs.accessSync(local, fs.constants.R_OK);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        why = code === 'ENOENT' ? 'no such file' : `cannot be read (${code ?? (e as Error).message})`;
      }
      if (why) {
        problems.push(
          `${where}: ${JSON.stringify(keyFile)}: ${why}; fix the path (or set RUNBOOK_SKIP_KEY_CHECK=1 when the worker runs on another machine)`,
        );
      }
    }
  });
  // The same default key shows up once per node: report each distinct problem once.
  const distinct = [...new Map(problems.map((p) => [p.replace(/^nodes\[\d+\]/, ''), p])).values()];
  if (distinct.length) throw new InventoryError(file, distinct);
}
