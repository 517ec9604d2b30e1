/**
 * Read an inventory file: a regular file within its cap, YAML, then the shared zod schema; relative key paths
 * resolved once against the inventory's directory; then the local files the worker will read (keys, known_hosts)
 * judged here, so that a typo is exit 2 before anything starts instead of a failed runbook. Errors name the file,
 * the field and the fix.
 */
import * as path from 'path';
import { utils as ssh2 } from 'ssh2';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { Inventory, InventoryError, resolveInventory } from '../common/inventory';
import { acceptNewProblem, readKnownHosts } from '../activities/ssh/host-key';
import { DEFAULT_KNOWN_HOSTS } from '../activities/ssh/connect';
import { checkLocalFile, expandHome, LocalFileError, readableByOthers, readLocalFile, readLocalText } from '../local/files';
import { runbookEnv } from '../local/environment';

export async function readInventoryFile(file: string): Promise<Inventory> {
  let text: string;
  try {
    text = await readLocalText(file, 'inventory');
  } catch (e) {
    if (!(e instanceof LocalFileError)) throw e;
    throw new InventoryError(file, [e.code === 'ENOENT' ? 'no such file; pass the inventory with -i <file>' : `${e.reason}; pass the inventory with -i <file>`]);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    const where = e instanceof YAMLParseError && e.linePos ? `line ${e.linePos[0].line}` : '(yaml)';
    throw new InventoryError(file, [`${where}: not valid YAML: ${(e as Error).message.split('\n')[0]}`]);
  }
  const inventory = resolvePaths(resolveInventory(raw, file), path.dirname(path.resolve(file)));
  if (runbookEnv('RUNBOOK_SKIP_KEY_CHECK') !== '1') await checkLocalFiles(inventory, file);
  return inventory;
}

/**
 * Relative key and known_hosts paths mean "next to the inventory" (as kubeconfig does), resolved here once: the
 * worker may run in another directory, and it refuses relative paths.
 */
function resolvePaths(inventory: Inventory, dir: string): Inventory {
  const abs = (p: string | undefined) => (p === undefined || p.startsWith('/') || p.startsWith('~') ? p : path.resolve(dir, p));
  return {
    ...inventory,
    knownHosts: abs(inventory.knownHosts),
    nodes: inventory.nodes.map((n) => ({
      ...n,
      identityFile: abs(n.identityFile),
      ...(n.jump ? { jump: { ...n.jump, identityFile: abs(n.jump.identityFile) } } : {}),
    })),
  };
}

const SKIP_HINT = ' (or set RUNBOOK_SKIP_KEY_CHECK=1 when the worker runs on another machine)';

/** Why a private key file cannot be used by the worker, as OpenSSH would judge it; undefined when it can. */
async function keyProblem(keyFile: string): Promise<string | undefined> {
  let data: Buffer;
  let mode: number;
  try {
    mode = (await checkLocalFile(keyFile, 'identity file')).mode & 0o777;
    data = await readLocalFile(keyFile, 'identity file');
  } catch (e) {
    if (!(e instanceof LocalFileError)) throw e;
    return `${e.reason}; fix the path${SKIP_HINT}`;
  }
  const parsed = ssh2.parseKey(data);
  if (parsed instanceof Error) {
    if (/encrypted|passphrase/i.test(parsed.message)) {
      return 'is passphrase-protected; load it into ssh-agent (ssh-add) and set agent: true instead of identityFile';
    }
    return 'is not an SSH private key; name the private key file (e.g. ~/.ssh/id_ed25519)';
  }
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key.isPrivateKey()) {
    return `is a public key; name the private key (${keyFile.endsWith('.pub') ? keyFile.slice(0, -4) : 'without .pub'})`;
  }
  if (readableByOthers(mode)) {
    return `has mode 0${mode.toString(8)}: others can read the private key, and OpenSSH refuses such a key; run chmod 600 ${keyFile}`;
  }
  return undefined;
}

/** known_hosts as the worker will use it: a regular file within its cap; for accept-new, a file it may write. */
async function knownHostsProblem(inventory: Inventory): Promise<string | undefined> {
  const file = expandHome(inventory.knownHosts ?? DEFAULT_KNOWN_HOSTS);
  let text: string;
  try {
    text = await readKnownHosts(file); // '' when missing
  } catch (e) {
    return `${(e as Error).message.replace(/^knownHosts: /, '')}`;
  }
  if (inventory.hostKeyPolicy !== 'accept-new') return undefined;
  const problem = await acceptNewProblem(file, text);
  return problem && `${JSON.stringify(file)}: ${problem}`;
}

/**
 * Key files and known_hosts are read by the worker, but a wrong one is a mistake the user should hear about before
 * anything starts. When the worker runs on another machine than the CLI, RUNBOOK_SKIP_KEY_CHECK=1 turns this off.
 */
async function checkLocalFiles(inventory: Inventory, file: string): Promise<void> {
  const problems: string[] = [];
  const judged = new Map<string, string | undefined>();
  for (const [i, n] of inventory.nodes.entries()) {
    for (const [where, keyFile] of [
      [`nodes[${i}].identityFile`, n.identityFile],
      [`nodes[${i}].jump.identityFile`, n.jump?.identityFile],
    ] as const) {
      if (!keyFile) continue;
      // The same default key shows up once per node: judge and report each file once.
      if (judged.has(keyFile)) continue;
      const why = await keyProblem(keyFile);
      judged.set(keyFile, why);
      if (why) problems.push(`${where}: ${JSON.stringify(keyFile)}: ${why}`);
    }
  }
  const kh = await knownHostsProblem(inventory);
  if (kh) problems.push(`knownHosts: ${kh}${SKIP_HINT}`);
  if (problems.length) throw new InventoryError(file, problems);
}
