/** Inventory validation: errors name the file, the path and the fix; defaults are applied. */
import { InventoryError, resolveInventory } from '../../common/inventory';

function problems(raw: unknown): string[] {
  try {
    resolveInventory(raw, 'inventory.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(InventoryError);
    return (e as Error).message.split('\n');
  }
  throw new Error('expected the inventory to be rejected');
}

const node = (over: Record<string, unknown> = {}) => ({ name: 'k8s-1', address: '10.0.0.1', ...over });

test('a bad address names the file, the index and why', () => {
  expect(problems({ cluster: 'prod', nodes: [node(), node({ name: 'k8s-2', address: '10.0.0.2' }), node({ name: 'k8s-3', address: '10.0.0.300' })] })).toEqual([
    'inventory.yaml: nodes[2].address: "10.0.0.300" is not an IPv4 address (microk8s join needs an IP literal)',
  ]);
});

test('duplicate names and addresses are refused, pointing at the first one', () => {
  const msgs = problems({ cluster: 'prod', nodes: [node(), node({ address: '10.0.0.2' }), node({ name: 'k8s-3' })] });
  expect(msgs).toContain('inventory.yaml: nodes[1].name: "k8s-1" duplicates nodes[0].name; every node needs its own');
  expect(msgs).toContain('inventory.yaml: nodes[2].address: "10.0.0.1" duplicates nodes[0].address; every node needs its own');
});

test('the same address on another port is a different node (labs, NAT)', () => {
  const inv = resolveInventory({ cluster: 'prod', nodes: [node({ port: 2222 }), node({ name: 'k8s-2', port: 2223 })] });
  expect(inv.nodes.map((n) => n.port)).toEqual([2222, 2223]);
});

test('unknown keys are refused with a hint', () => {
  expect(problems({ cluster: 'prod', nodes: [node({ adress: '10.0.0.9' })] })).toEqual([
    'inventory.yaml: nodes[0]: unknown key "adress"; remove it or check the spelling',
  ]);
});

test.each([
  ['name', node({ name: 'k8s;rm -rf' }), 'nodes[0].name: must be a lowercase DNS label'],
  ['user', node({ user: 'root$(id)' }), 'nodes[0].user: must be a plain POSIX user name'],
  ['snap path', node({ paths: { snapData: "/var/snap/'x" } }), 'nodes[0].paths.snapData: must be an absolute path'],
  ['path traversal', node({ paths: { snapBin: '/snap/../etc' } }), 'nodes[0].paths.snapBin: must not contain ".."'],
  ['identity file', node({ identityFile: '~/.ssh/id;x' }), 'nodes[0].identityFile: must not contain spaces or shell metacharacters'],
  ['pinned key', node({ hostKey: 'MD5:aa:bb' }), 'nodes[0].hostKey: must be an OpenSSH fingerprint'],
])('unsafe %s is refused', (_what, n, expected) => {
  expect(problems({ cluster: 'prod', nodes: [n] }).join('\n')).toContain(`inventory.yaml: ${expected}`);
});

test('defaults apply: port 22, root, sudo, controlplane, snap paths; node values win over defaults', () => {
  const inv = resolveInventory({
    cluster: 'prod',
    defaults: { user: 'ops', port: 2200, paths: { snapBin: '/opt/bin' } },
    nodes: [node(), node({ name: 'k8s-w1', address: '10.0.0.4', role: 'worker', user: 'deploy', become: 'none' })],
  });
  expect(inv.hostKeyPolicy).toBe('strict');
  expect(inv.nodes[0]).toMatchObject({ port: 2200, user: 'ops', become: 'sudo', role: 'controlplane' });
  expect(inv.nodes[0].paths).toEqual({
    snapBin: '/opt/bin',
    snap: '/snap/microk8s',
    snapData: '/var/snap/microk8s',
    rebootRequired: '/var/run/reboot-required',
    bootId: '/proc/sys/kernel/random/boot_id',
  });
  expect(inv.nodes[1]).toMatchObject({ user: 'deploy', become: 'none', role: 'worker' });
});

test('an empty node list and a missing cluster are both named', () => {
  const msgs = problems({ nodes: [] });
  expect(msgs).toContain('inventory.yaml: cluster: expected string; fix the value\'s type');
  expect(msgs).toContain('inventory.yaml: nodes: must list at least one node');
});
