/**
 * The layout docs/design.md draws, held against the imports: no import cycles anywhere in the source, and every
 * import runs down the layers (common ← local ← activities/codec/lab ← workflows ← worker ← cli ← bench), never up.
 * Type-only imports count too: a cycle of types is still a cycle for a reader.
 */
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '../..');
const LAYERS: Record<string, number> = { common: 0, local: 1, activities: 2, codec: 2, lab: 2, workflows: 3, worker: 4, cli: 5, bench: 6 };

function sources(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const rel = path.join(dir, e.name);
      if (e.isDirectory()) walk(rel);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(rel);
    }
  };
  for (const top of Object.keys(LAYERS)) if (fs.existsSync(path.join(ROOT, top))) walk(top);
  return out;
}

function importsOf(file: string, known: Set<string>): string[] {
  const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
  const specs = [...text.matchAll(/(?:from\s+|require\(|import\()['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]);
  return specs
    .map((s) => path.normalize(path.join(path.dirname(file), s)))
    .map((t) => [`${t}.ts`, path.join(t, 'index.ts')].find((c) => known.has(c)))
    .filter((t): t is string => !!t);
}

const files = sources();
const known = new Set(files);
const graph = new Map(files.map((f) => [f, importsOf(f, known)]));

test('no import cycles', () => {
  // Tarjan's strongly connected components: any component of two or more files is a cycle.
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) cycles.push(scc.sort());
    }
  };
  for (const f of files) if (!idx.has(f)) visit(f);
  expect(cycles).toEqual([]);
});

test('imports run down the layers, never up (activities and the CLI never import workflows/)', () => {
  const up: string[] = [];
  for (const [from, tos] of graph) {
    for (const to of tos) {
      const a = LAYERS[from.split('/')[0]];
      const b = LAYERS[to.split('/')[0]];
      const arrow = `${from} -> ${to}`;
      if (b > a) up.push(arrow);
      // Contracts live in common/: activities and the CLI start and read runbooks through them, never workflows/.
      if (/^(activities|cli)\//.test(from) && to.startsWith('workflows/')) up.push(arrow);
    }
  }
  expect(up).toEqual([]);
});

test('the layout test sees the source: every layer has files and imports', () => {
  expect(files.length).toBeGreaterThan(100);
  for (const top of ['common', 'local', 'activities', 'workflows', 'cli', 'lab']) expect(files.some((f) => f.startsWith(`${top}/`))).toBe(true);
  expect([...graph.values()].flat().length).toBeGreaterThan(300);
});

