/** Where the replay fixtures live and the manifest that lists them (file, workflow ID, workflow type, scenario). */
import * as fs from 'fs';
import * as path from 'path';

/** The repository root, from the sources (test/replay) or the build (dist/test/replay): fixtures stay in the source tree. */
const ROOT = [path.resolve(__dirname, '../..'), path.resolve(__dirname, '../../..')].find((d) => fs.existsSync(path.join(d, 'package.json')))!;
export const HISTORIES_DIR = path.join(ROOT, 'test/histories');
export const MANIFEST_PATH = path.join(HISTORIES_DIR, 'manifest.json');

export interface FixtureEntry {
  /** Relative to test/histories: `<workflowType>/<scenario>[.<child>].json`. */
  file: string;
  /** Replay needs it: workflows derive child IDs from their own. */
  workflowId: string;
  workflowType: string;
  scenario: string;
}

export function readManifest(): FixtureEntry[] {
  return fs.existsSync(MANIFEST_PATH) ? (JSON.parse(fs.readFileSync(MANIFEST_PATH, 'utf8')) as FixtureEntry[]) : [];
}

export function readFixture(entry: FixtureEntry): unknown {
  return JSON.parse(fs.readFileSync(path.join(HISTORIES_DIR, entry.file), 'utf8'));
}

/**
 * Worker identities (`pid@host`) and sticky queue names (`pid@host-<uuid hex>`) name the recording machine and
 * change on every run; replay reads neither. Replace them so fixtures are stable and the token scan stays exact.
 */
export function scrubMachine(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(scrubMachine);
  if (!v || typeof v !== 'object') return v;
  const o = v as Record<string, unknown>;
  if (o.kind === 'TASK_QUEUE_KIND_STICKY' && typeof o.name === 'string') return { ...o, name: 'sticky-queue' };
  return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, k === 'identity' && typeof x === 'string' ? 'recorder' : scrubMachine(x)]));
}
