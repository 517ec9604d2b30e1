/**
 * docker-compose.yml and the Dockerfile, checked statically (docker does not run here): every service is there,
 * images are pinned, the worker's environment is exactly what the worker reads, SSH material is read-only, and the
 * image runs a command the CLI has. No source file is grepped: the worker's RUNBOOK_* variables are the declared
 * ones (local/environment.ts, enforced by eslint), and the --metrics default is read from the built program.
 */
import * as fs from 'fs';
import * as path from 'path';
import YAML from 'yaml';
import { buildProgram } from '../../cli/program';
import { RUNBOOK_VARIABLES } from '../../local/environment';

const ROOT = path.resolve(__dirname, '../..');
const read = (f: string) => fs.readFileSync(path.join(ROOT, f), 'utf8');

interface Service {
  image?: string;
  build?: unknown;
  environment?: Record<string, string> | string[];
  volumes?: Array<string | { source?: string; target: string; read_only?: boolean }>;
  command?: string | string[];
  entrypoint?: string | string[];
  depends_on?: Record<string, { condition?: string }> | string[];
  restart?: string;
}

const compose = YAML.parse(read('docker-compose.yml')) as { services: Record<string, Service> };
const services = compose.services;
const worker = services.worker;

function envNames(s: Service): string[] {
  const e = s.environment ?? {};
  return Array.isArray(e) ? e.map((kv) => kv.split('=')[0]) : Object.keys(e);
}

/** RUNBOOK_* variables the worker reads: declared in local/environment.ts (eslint keeps every read going through it). */
function runbookVariablesRead(): Set<string> {
  return new Set(Object.entries(RUNBOOK_VARIABLES).filter(([, v]) => v.worker).map(([name]) => name));
}

/** The names @temporalio/envconfig reads (TEMPORAL_GRPC_META_* is a prefix). */
function envconfigNames(): Set<string> {
  const dir = path.join(ROOT, 'node_modules/@temporalio/envconfig/lib');
  const text = fs.readdirSync(dir).filter((f) => f.endsWith('.js')).map((f) => fs.readFileSync(path.join(dir, f), 'utf8')).join('\n');
  return new Set([...text.matchAll(/'(TEMPORAL_[A-Z_]+)'/g)].map((m) => m[1]));
}

test('the file parses and has postgresql, temporal, temporal-ui, the one-shot admin-tools step and the worker', () => {
  expect(Object.keys(services).sort()).toEqual(['admin-tools', 'postgresql', 'temporal', 'temporal-ui', 'worker']);
  expect(services.temporal.depends_on).toMatchObject({ postgresql: { condition: 'service_healthy' } });
  expect(services['temporal-ui'].environment).toMatchObject({ TEMPORAL_ADDRESS: 'temporal:7233' });
});

test('admin-tools is a one-shot that registers RunbookCluster, RunbookKind and RunbookNode, and the worker waits for it', () => {
  const admin = services['admin-tools'];
  expect(admin.restart).toBe('no');
  const script = ([] as string[]).concat(admin.command ?? []).join('\n');
  expect(script).toMatch(/temporal operator search-attribute create/);
  expect(script).toMatch(/for sa in RunbookCluster RunbookKind RunbookNode;/);
  expect(script).toMatch(/--type Keyword/);
  // A real failure must fail the step (only "already exists" is tolerated).
  expect(script).toMatch(/exit 1/);
  expect(script).not.toMatch(/\|\| true/);
  expect(worker.depends_on).toMatchObject({ 'admin-tools': { condition: 'service_completed_successfully' } });
});

test('every image is pinned to a version tag or a digest, in compose and in the Dockerfile', () => {
  const images = Object.entries(services).filter(([, s]) => s.image && !s.build).map(([name, s]) => [name, s.image!]);
  const froms = [...read('Dockerfile').matchAll(/^FROM\s+(\S+)/gm)].map((m) => ['Dockerfile', m[1]]);
  expect(images.length).toBe(4);
  expect(froms.length).toBeGreaterThan(0);
  for (const [where, image] of [...images, ...froms]) {
    const pinned = /@sha256:[0-9a-f]{64}$/.test(image) || /:[^:/@]*\d+\.\d+[^:/@]*$/.test(image);
    expect({ where, image, pinned }).toEqual({ where, image, pinned: true });
    expect(image).not.toMatch(/:latest$/);
  }
});

test('the worker is built from the repository Dockerfile', () => {
  expect(worker.build).toBe('.');
  expect(fs.existsSync(path.join(ROOT, 'Dockerfile'))).toBe(true);
});

test("the worker's environment is exactly what the worker reads: envconfig TEMPORAL_* names and every RUNBOOK_* it reads", () => {
  const names = envNames(worker);
  const temporal = names.filter((n) => n.startsWith('TEMPORAL_'));
  const runbook = names.filter((n) => n.startsWith('RUNBOOK_'));
  expect(names.filter((n) => !n.startsWith('TEMPORAL_') && !n.startsWith('RUNBOOK_'))).toEqual([]);
  const known = envconfigNames();
  expect(known.has('TEMPORAL_ADDRESS')).toBe(true); // the grep still finds envconfig's names
  expect(temporal.filter((n) => !known.has(n))).toEqual([]);
  expect(temporal).toEqual(expect.arrayContaining(['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE']));
  const read = runbookVariablesRead();
  expect(read.has('RUNBOOK_TASK_QUEUE')).toBe(true);
  expect([...runbook].sort()).toEqual([...read].sort());
});

test('SSH keys and known_hosts are mounted read-only where the inventories expect them', () => {
  const ssh = (worker.volumes ?? []).map((v) => (typeof v === 'string' ? v : `${v.source}:${v.target}${v.read_only ? ':ro' : ''}`)).filter((v) => v.includes('.ssh'));
  expect(ssh).toHaveLength(1);
  expect(ssh[0]).toMatch(/:\/home\/node\/\.ssh:ro$/);
  expect(read('Dockerfile')).toMatch(/^USER node$/m);
});

test("the Dockerfile runs `runbook worker` (dist/cli/main.js worker), a command the CLI has, on the built output", () => {
  const dockerfile = read('Dockerfile');
  const json = (directive: string) => {
    const m = new RegExp(`^${directive}\\s+(\\[.*\\])\\s*$`, 'm').exec(dockerfile);
    return m ? (JSON.parse(m[1]) as string[]) : [];
  };
  const argv = [...json('ENTRYPOINT'), ...(worker.command ? ([] as string[]).concat(worker.command) : json('CMD'))];
  expect(argv).toEqual(['node', 'dist/cli/main.js', 'worker']);
  expect(dockerfile).toMatch(/npm run build/);
  expect(dockerfile).toMatch(/COPY --from=build \/app\/dist \.\/dist/);
  // RUNBOOK_METRICS, as compose sets it, reaches `runbook worker` as its --metrics default.
  const saved = process.env.RUNBOOK_METRICS;
  process.env.RUNBOOK_METRICS = ':9464';
  try {
    const { program } = buildProgram();
    const cmd = program.commands.find((c) => c.name() === argv[2]);
    expect(cmd?.description()).toMatch(/worker/i);
    expect(cmd?.options.find((o) => o.long === '--metrics')?.defaultValue).toBe(':9464');
  } finally {
    if (saved === undefined) delete process.env.RUNBOOK_METRICS;
    else process.env.RUNBOOK_METRICS = saved;
  }
  expect(dockerfile).toMatch(/^EXPOSE 9464$/m);
});

test('the worker image has what `runbook drill` runs on the worker: sshd (with its privilege-separation directory) and openssl', () => {
  const dockerfile = read('Dockerfile');
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  const installed = [...runtime.matchAll(/apt-get install[^\n]*(?:\\\n[^\n]*)*/g)].map((m) => m[0]).join(' ');
  for (const pkg of ['openssh-server', 'openssl']) expect(installed.split(/\s+/)).toContain(pkg);
  expect(runtime).toMatch(/^RUN mkdir -p [^\n]*\/run\/sshd/m);
});
