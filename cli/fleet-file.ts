/**
 * Read a fleet (`runbook fleet ... -f <file|dir>`): a YAML file naming the fleet and listing its inventories
 * (paths relative to the file), or a directory whose *.yaml / *.yml files are the inventories (the fleet is named
 * after the directory). Each inventory is read as `-i` reads it; a bad one, two inventories of one cluster, or more
 * clusters than one run takes, is exit 2 naming the file and the fix, before anything starts.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { FLEET_NAME, MAX_FLEET_CLUSTERS } from '../common/fleet';
import type { Inventory } from '../common/inventory';
import { badInput } from '../local/exit';
import { LocalFileError, readLocalText } from '../local/files';

const FleetFile = z.strictObject({
  fleet: z.string().regex(FLEET_NAME, { error: 'must be a lowercase name (a-z, 0-9, "-"), e.g. edge-sites' }),
  inventories: z
    .array(z.string().min(1, { error: 'an inventory path is empty' }).max(4096))
    .min(1, { error: 'lists no inventory; list the clusters\' inventory files' })
    .max(MAX_FLEET_CLUSTERS, { error: `lists more than ${MAX_FLEET_CLUSTERS} inventories; split the fleet` }),
});

export interface Fleet {
  name: string;
  clusters: Inventory[];
}

/** The fleet's name and its inventories' paths, from a fleet file or a directory. */
async function fleetFiles(from: string): Promise<{ name: string; files: string[] }> {
  let st: fs.Stats;
  try {
    st = fs.statSync(from);
  } catch {
    return badInput(`-f: ${JSON.stringify(from)}: no such file or directory; pass a fleet file (fleet: and inventories:) or a directory of inventories`);
  }
  if (st.isDirectory()) {
    const name = path.basename(path.resolve(from));
    if (!FLEET_NAME.test(name)) badInput(`-f: the directory's name ${JSON.stringify(name)} names the fleet and must be a lowercase name (a-z, 0-9, "-"); rename it, or use a fleet file with fleet: <name>`);
    const files = fs
      .readdirSync(from)
      .filter((f) => /\.ya?ml$/.test(f))
      .sort()
      .map((f) => path.join(from, f));
    if (!files.length) badInput(`-f: ${JSON.stringify(from)} has no *.yaml inventory; put one inventory per cluster there`);
    if (files.length > MAX_FLEET_CLUSTERS) badInput(`-f: ${JSON.stringify(from)} has more than ${MAX_FLEET_CLUSTERS} inventories; split the fleet`);
    return { name, files };
  }
  let text: string;
  try {
    text = await readLocalText(from, 'fleet file');
  } catch (e) {
    if (e instanceof LocalFileError) badInput(`-f: ${e.message}`);
    throw e;
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    return badInput(`-f: ${JSON.stringify(from)}: not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  const parsed = FleetFile.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    badInput(`-f: ${JSON.stringify(from)}: ${issue.path.join('.') || 'the file'}: ${issue.message} (a fleet file is: fleet: <name>, inventories: [<file>, ...])`);
  }
  const dir = path.dirname(path.resolve(from));
  return { name: parsed.data.fleet, files: parsed.data.inventories.map((f) => path.resolve(dir, f)) };
}

/** The fleet with every inventory loaded (`load` is the CLI's own `-i` reader: it exits 2 on a bad file). */
export async function readFleet(from: string, load: (file: string) => Promise<Inventory>): Promise<Fleet> {
  const { name, files } = await fleetFiles(from);
  const clusters: Inventory[] = [];
  const seen = new Map<string, string>();
  for (const file of files) {
    const inv = await load(file);
    const other = seen.get(inv.cluster);
    if (other) badInput(`-f: ${JSON.stringify(other)} and ${JSON.stringify(file)} are both cluster ${inv.cluster}; a fleet lists each cluster once`);
    seen.set(inv.cluster, file);
    clusters.push(inv);
  }
  return { name, clusters };
}
