/**
 * The form activities against a scripted fake of three MicroK8s nodes behind the SSH contract: token handling
 * (burnt tokens, redaction), the stale-member rule, idempotency and the pre-flight report.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import type { CommandRecord } from '../../common/audit';
import { resolveInventory, type NodeSpec } from '../../common/inventory';
import { createFormActivities } from '../../activities/form';
import type { FormOptions } from '../../common/form';
import { createFormSurveyActivities } from '../../activities/form-survey';
import type { ExecResult, NodeSession, RunOptions } from '../../activities/ssh';

const inventory = resolveInventory({
  cluster: 'fake',
  nodes: [
    { name: 'k8s-1', address: '10.0.0.1' },
    { name: 'k8s-2', address: '10.0.0.2' },
    { name: 'k8s-3', address: '10.0.0.3', role: 'worker' },
  ],
});

const options: FormOptions = { maxClockSkewMs: 2000, cleanStale: false, pollMs: 1, settleTimeoutMs: 200, tokenTtlSeconds: 60 };

/** A tiny model: dqlite members on the primary, who joined, which tokens the primary accepts. */
class FakeCluster {
  members = ['10.0.0.1:19001'];
  joined = new Set<string>();
  tokens = new Set<string>();
  /** How many of the next tokens the primary reports as invalid (burnt). */
  burnNext = 0;
  versions: Record<string, string> = { 'k8s-1': 'v1.28.3', 'k8s-2': 'v1.28.3', 'k8s-3': 'v1.28.3' };
  closedPorts = new Set<string>();
  /** k8s-1 never had a member: its dqlite is still on 127.0.0.1:19001. */
  lonePrimary = false;
  /** No nc on the nodes (the probe exits 127). */
  noNc = false;
  noBash = false;
  /** How many of the next control-plane joins exit 0 without converging (the join trap). */
  trapNext = 0;
  /** Nodes holding a trapped join (init.yaml, no info.yaml) until they leave. */
  trapped = new Set<string>();
  joinCalls: string[] = [];
  lines: string[] = [];

  exec(node: NodeSpec, line: string): ExecResult {
    this.lines.push(`${node.name}: ${line}`);
    const ok = (stdout = ''): ExecResult => ({ exitCode: 0, stdout, stderr: '', durationMs: 1 });
    const fail = (code: number, stdout: string, stderr = ''): ExecResult => ({ exitCode: code, stdout, stderr, durationMs: 1 });
    let m: RegExpExecArray | null;
    // The first contact: `sudo -n true` as the SSH user on nodes that become root by sudo, else `true`.
    if (line === 'true' || line === 'sudo -n true') return ok();
    if (line.startsWith('date ')) return ok(`${Date.now()}000000\n`);
    if (/ version$/.test(line)) return ok(`MicroK8s ${this.versions[node.name]} revision 100\n`);
    if ((m = /^ls -1 -- (\S+)\/init\.yaml/.exec(line))) {
      return this.trapped.has(node.name) ? ok(`${m[1]}/init.yaml\n`) : fail(2, '');
    }
    if (/ leave$/.test(line)) {
      this.trapped.delete(node.name);
      return ok('Generating new cluster certificates.\nWaiting for node to start. . . \n');
    }
    if (line.startsWith('ls -1')) {
      const locks = ['ha-cluster'];
      if (node.role === 'worker' && this.joined.has(node.name)) locks.push('clustered.lock');
      return ok(locks.join('\n') + '\n');
    }
    if ((m = /cat -- \S+\/(info|cluster)\.yaml/.exec(line))) {
      const own = (node.name === 'k8s-1' && !this.lonePrimary) || this.joined.has(node.name) ? `${node.address}:19001` : '127.0.0.1:19001';
      if (m[1] === 'info') return ok(`Address: ${own}\nID: 1${node.address.split('.')[3]}\nRole: 0\n`);
      const list = node.name === 'k8s-1' || this.joined.has(node.name) ? this.members : [own];
      return ok(list.map((a, i) => `- Address: ${a}\n  ID: ${i + 11}\n  Role: 0\n`).join(''));
    }
    if (line.includes('cat -- ')) return ok('');
    if (line.includes('kubectl get nodes')) {
      const items = inventory.nodes
        .filter((n) => n.name === 'k8s-1' || this.joined.has(n.name))
        .map((n) => ({
          kind: 'Node',
          metadata: { name: n.name, labels: { [`node.kubernetes.io/microk8s-${n.role}`]: `microk8s-${n.role}` } },
          status: { conditions: [{ type: 'Ready', status: 'True' }], addresses: [{ type: 'InternalIP', address: n.address }], nodeInfo: { kubeletVersion: 'v1.28.3' } },
        }));
      return ok(JSON.stringify({ kind: 'List', items }));
    }
    if (line.includes('.cluster')) {
      return ok(JSON.stringify(this.members.map((a, i) => ({ ID: i + 11, Address: a, Role: i < (this.members.length >= 3 ? 3 : 1) ? 0 : 2 }))));
    }
    if ((m = /^nc -z -w 3 (\S+) (\d+)$/.exec(line))) {
      if (this.noNc) return fail(127, '', 'bash: line 1: nc: command not found\n');
      return this.closedPorts.has(m[2]) ? fail(1, '') : ok();
    }
    if ((m = /^timeout 3 bash -c ': <\/dev\/tcp\/(\S+)\/(\d+)' 2>\/dev\/null$/.exec(line))) {
      if (this.noBash) return fail(127, '', 'bash: line 1: timeout: command not found\n');
      return this.closedPorts.has(m[2]) ? fail(1, '') : ok();
    }
    if ((m = /add-node --token (\S+)/.exec(line))) {
      if (this.burnNext > 0) this.burnNext--;
      else this.tokens.add(m[1]);
      return ok(JSON.stringify({ token: `${m[1]}/2c0cb3284b05`, urls: [`10.0.0.1:25000/${m[1]}/2c0cb3284b05`] }));
    }
    if ((m = / join 10\.0\.0\.1:25000\/(\S+)\/\S+/.exec(line))) {
      this.joinCalls.push(node.name);
      if (!this.tokens.has(m[1])) return fail(6, 'Connection failed. Invalid token (500).\n');
      const addr = `${node.address}:19001`;
      if (this.members.includes(addr) && !this.joined.has(node.name)) {
        return fail(6, `Connection failed. The joining node (${node.address}) is already known to dqlite (504).\n`);
      }
      if (node.role === 'controlplane' && this.trapNext > 0) {
        this.trapNext--;
        this.trapped.add(node.name);
        return ok('Contacting cluster at 10.0.0.1\nWaiting for this node to finish joining the cluster. .. .. .. .. .. .. .. .. .. .. \nSuccessfully joined the cluster.\n');
      }
      this.joined.add(node.name);
      if (node.role === 'controlplane') this.members.push(addr);
      return ok('Contacting cluster at 10.0.0.1\nSuccessfully joined the cluster.\n');
    }
    if ((m = /remove-node (\S+) --force/.exec(line))) {
      this.members = this.members.filter((a) => !a.startsWith(`${m![1]}:`));
      return fail(1, `Node ${m[1]} does not exist in Kubernetes.\nAttempting to remove ${m[1]} from dqlite.\nRemoving node entry found in dqlite.\n`);
    }
    return fail(127, '', `fake: unknown command ${line}`);
  }
}

/** Like the real layer: records with secrets redacted. */
class FakeSession implements NodeSession {
  readonly records: CommandRecord[] = [];
  constructor(
    readonly node: NodeSpec,
    private readonly cluster: FakeCluster,
  ) {}
  async run(line: string, opts: RunOptions = {}): Promise<ExecResult> {
    const r = this.cluster.exec(this.node, line);
    const hide = (s: string) => (opts.redact ?? []).reduce((acc, t) => acc.split(t).join('<redacted>'), s);
    if (!opts.quiet) {
      this.records.push({
        node: this.node.name,
        command: hide(line),
        exitCode: r.exitCode,
        durationMs: 1,
        stdoutTail: hide(r.stdout),
        stderrTail: hide(r.stderr),
        startedAt: new Date().toISOString(),
      });
    }
    return r;
  }
  async check(line: string, opts?: RunOptions): Promise<ExecResult> {
    const r = await this.run(line, opts);
    if (r.exitCode !== 0) throw new Error(`failed: ${line}`);
    return r;
  }
  download(): never {
    throw new Error('not used');
  }
  upload(): never {
    throw new Error('not used');
  }
}

function activitiesFor(cluster: FakeCluster) {
  const ssh = { session: (node: NodeSpec) => new FakeSession(node, cluster) };
  const deps = { ssh: ssh as never, stateDir: '/tmp/unused' };
  return { ...createFormSurveyActivities(deps), ...createFormActivities(deps) };
}

const run = <T>(fn: () => Promise<T>): Promise<T> => new MockActivityEnvironment().run(fn) as Promise<T>;

describe('joinNode', () => {
  test('a burnt token costs one more mint; no token appears in the result', async () => {
    const cluster = new FakeCluster();
    cluster.burnNext = 1;
    const act = activitiesFor(cluster);
    const r = await run(() => act.joinNode({ inventory, primary: 'k8s-1', node: 'k8s-2', as: 'controlplane', options }));
    expect(r.outcome).toBe('joined');
    expect(r.attempts).toBe(2);
    const text = JSON.stringify(r);
    for (const t of cluster.tokens) expect(text).not.toContain(t);
    expect(text).toContain('<redacted>');
    expect(cluster.joinCalls).toEqual(['k8s-2', 'k8s-2']);
  });

  test('a node that is already a member is never joined again', async () => {
    const cluster = new FakeCluster();
    const act = activitiesFor(cluster);
    await run(() => act.joinNode({ inventory, primary: 'k8s-1', node: 'k8s-3', as: 'worker', options }));
    const again = await run(() => act.joinNode({ inventory, primary: 'k8s-1', node: 'k8s-3', as: 'worker', options }));
    expect(again.outcome).toBe('already-member');
    expect(cluster.joinCalls).toEqual(['k8s-3']);
  });

  test('a stale dqlite member stops the join unless cleaning is allowed', async () => {
    const cluster = new FakeCluster();
    cluster.members.push('10.0.0.2:19001');
    const act = activitiesFor(cluster);
    const err = await run(() => act.joinNode({ inventory, primary: 'k8s-1', node: 'k8s-2', as: 'controlplane', options })).catch((e) => e);
    expect(err.type).toBe('StaleDqliteMember');
    expect(err.message).toMatch(/remove-node 10\.0\.0\.2 --force.*--clean-stale/);
    expect(cluster.lines.some((l) => l.includes('remove-node'))).toBe(false);

    const r = await run(() =>
      act.joinNode({ inventory, primary: 'k8s-1', node: 'k8s-2', as: 'controlplane', options: { ...options, cleanStale: true } }),
    );
    expect(r).toMatchObject({ outcome: 'joined', staleRemoved: true });
    expect(cluster.lines).toContain('k8s-1: /snap/bin/microk8s remove-node 10.0.0.2 --force');
  });

  test('the join trap (exit 0, not in .cluster): leave, then join again with a new token', async () => {
    const cluster = new FakeCluster();
    cluster.trapNext = 1;
    const act = activitiesFor(cluster);
    const r = await run(() => act.joinNode({ inventory, primary: 'k8s-1', node: 'k8s-2', as: 'controlplane', options }));
    expect(r).toMatchObject({ outcome: 'joined', attempts: 2, unconverged: 1 });
    const mine = cluster.lines.filter((l) => /add-node|join|leave/.test(l)).map((l) => l.replace(/ --token \S+.*| 10\.0\.0\.1:25000.*/, ''));
    expect(mine).toEqual([
      'k8s-1: /snap/bin/microk8s add-node',
      'k8s-2: /snap/bin/microk8s join',
      'k8s-2: /snap/bin/microk8s leave',
      'k8s-1: /snap/bin/microk8s add-node',
      'k8s-2: /snap/bin/microk8s join',
    ]);
    expect(cluster.members).toContain('10.0.0.2:19001');
  });

  test('a join trap that lasts fails clearly after 3 tries, each one undone', async () => {
    const cluster = new FakeCluster();
    cluster.trapNext = 99;
    const act = activitiesFor(cluster);
    const err = await run(() => act.joinNode({ inventory, primary: 'k8s-1', node: 'k8s-2', as: 'controlplane', options })).catch((e) => e);
    expect(err.type).toBe('JoinNotConverged');
    expect(err.message).toMatch(/k8s-2: "microk8s join" exited 0 3 time\(s\) but 10\.0\.0\.2:19001 never appeared in dqlite \.cluster on k8s-1/);
    expect(cluster.lines.filter((l) => l.endsWith(' leave'))).toHaveLength(3);
    expect(cluster.trapped.size).toBe(0);
  });

  test('a trapped join an earlier attempt left behind is undone before joining', async () => {
    const cluster = new FakeCluster();
    cluster.trapped.add('k8s-2');
    const act = activitiesFor(cluster);
    const r = await run(() => act.joinNode({ inventory, primary: 'k8s-1', node: 'k8s-2', as: 'controlplane', options }));
    expect(r).toMatchObject({ outcome: 'joined', attempts: 1, unconverged: 1 });
    const leave = cluster.lines.findIndex((l) => l.endsWith(' leave'));
    const join = cluster.lines.findIndex((l) => l.includes(' join '));
    expect(leave).toBeGreaterThanOrEqual(0);
    expect(leave).toBeLessThan(join);
  });

  test('waitNodeJoined sees the new control plane in dqlite and Ready', async () => {
    const cluster = new FakeCluster();
    const act = activitiesFor(cluster);
    await run(() => act.joinNode({ inventory, primary: 'k8s-1', node: 'k8s-2', as: 'controlplane', options }));
    const r = await run(() => act.waitNodeJoined({ inventory, primary: 'k8s-1', node: 'k8s-2', as: 'controlplane', options }));
    expect(r.outcome).toBe('settled');
  });
});

describe('surveyFormation', () => {
  test('plans control planes first, then workers, from the primary', async () => {
    const act = activitiesFor(new FakeCluster());
    const s = await run(() => act.surveyFormation({ inventory, options }));
    expect(s.problems).toEqual([]);
    expect(s.primary).toBe('k8s-1');
    expect(s.joins).toEqual([
      { node: 'k8s-2', as: 'controlplane' },
      { node: 'k8s-3', as: 'worker' },
    ]);
    expect(s.lines.join('\n')).toMatch(/1\. join k8s-2 as control plane[\s\S]*2\. join 1 worker/);
  });

  test('lists every problem at once: minor mismatch and the closed port, by node', async () => {
    const cluster = new FakeCluster();
    cluster.versions['k8s-3'] = 'v1.29.1';
    cluster.closedPorts.add('25000');
    const act = activitiesFor(cluster);
    const s = await run(() => act.surveyFormation({ inventory, options }));
    expect(s.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/minor versions differ \(1\.28 on k8s-1, k8s-2; 1\.29 on k8s-3\)/),
        expect.stringMatching(/^k8s-2: cannot reach k8s-1 \(10\.0\.0\.1\) on 25000\/tcp/),
        expect.stringMatching(/^k8s-3: cannot reach k8s-1 \(10\.0\.0\.1\) on 25000\/tcp/),
      ]),
    );
    expect(cluster.joinCalls).toEqual([]);
  });

  test('a primary that never had a member: 19001 is not probed (dqlite is on 127.0.0.1 until the first join), and says so', async () => {
    const cluster = new FakeCluster();
    cluster.lonePrimary = true;
    const s = await run(() => activitiesFor(cluster).surveyFormation({ inventory, options }));
    expect(s.problems).toEqual([]);
    const probes = cluster.lines.filter((l) => l.includes('nc -z'));
    expect(probes.map((l) => l.split(' ').pop()).sort()).toEqual(['16443', '16443', '25000', '25000']);
    expect(s.notes.join('\n')).toContain('19001/tcp (dqlite) on k8s-1 is not checked');
  });

  test('no nc on a joining node: bash /dev/tcp judges the ports instead (a closed one is still named)', async () => {
    const cluster = new FakeCluster();
    cluster.noNc = true;
    cluster.closedPorts.add('25000');
    const s = await run(() => activitiesFor(cluster).surveyFormation({ inventory, options }));
    expect(s.problems.filter((p) => p.includes('nc'))).toEqual([]);
    expect(s.problems).toEqual(expect.arrayContaining([expect.stringContaining('k8s-2: cannot reach k8s-1 (10.0.0.1) on 25000/tcp')]));
  });

  test('neither nc nor bash with timeout: one problem naming the node and the package, not three closed ports', async () => {
    const cluster = new FakeCluster();
    cluster.noNc = true;
    cluster.noBash = true;
    const s = await run(() => activitiesFor(cluster).surveyFormation({ inventory, options }));
    expect(s.problems).toEqual([
      'k8s-2: cannot check the join ports of k8s-1: neither nc nor bash with timeout is installed; install nc (sudo apt-get install -y netcat-openbsd)',
      'k8s-3: cannot check the join ports of k8s-1: neither nc nor bash with timeout is installed; install nc (sudo apt-get install -y netcat-openbsd)',
    ]);
  });

  test('a formed cluster plans nothing', async () => {
    const cluster = new FakeCluster();
    const act = activitiesFor(cluster);
    for (const n of ['k8s-2', 'k8s-3'] as const) {
      await run(() => act.joinNode({ inventory, primary: 'k8s-1', node: n, as: n === 'k8s-2' ? 'controlplane' : 'worker', options }));
    }
    const s = await run(() => act.surveyFormation({ inventory, options }));
    expect(s.joins).toEqual([]);
    expect(s.members).toEqual(['k8s-1', 'k8s-2', 'k8s-3']);
    expect(s.lines.join('\n')).toContain('nothing to change');
  });
});
