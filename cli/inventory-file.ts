/** Read an inventory file: YAML, then the shared zod schema. Errors name the file, the path and the fix. */
import * as fs from 'fs';
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
  return resolveInventory(raw, file);
}
