/**
 * Least privilege (README "sudo"): only the commands that need root run through `sudo -n`, the list is in one place
 * (activities/ssh/privilege.ts) and the README's table is that list. Every command builder is enumerated from its
 * module's exports, so a new builder fails here until it is classified; every program an activity runs inline is
 * classified too.
 */
import * as fs from 'fs';
import * as path from 'path';
import { resolveInventory } from '../../common/inventory';
import { command } from '../../common/shell';
import * as certs from '../../activities/microk8s/certs';
import * as checkProbes from '../../activities/check-probes';
import * as dqlite from '../../activities/microk8s/dqlite';
import * as drain from '../../activities/microk8s/drain';
import * as files from '../../activities/microk8s/files';
import * as haConf from '../../activities/microk8s/ha-conf';
import * as join from '../../activities/microk8s/join';
import * as ports from '../../activities/microk8s/ports';
import * as kubectl from '../../activities/microk8s/kubectl';
import * as raft from '../../activities/microk8s/raft';
import * as reboot from '../../activities/microk8s/reboot';
import * as services from '../../activities/microk8s/services';
import * as snap from '../../activities/microk8s/snap';
import * as status from '../../activities/microk8s/status';
import * as version from '../../activities/microk8s/version';
import { COMMAND_FAMILIES, familyOf, privilegeTable, ROOT_COMMANDS, runsAsRoot, simpleCommands } from '../../activities/ssh/privilege';
import { asRunOn } from '../../activities/ssh/session';

const ROOT = path.resolve(__dirname, '../..');
const inv = resolveInventory({ cluster: 'prod', nodes: [{ name: 'k8s-1', address: '10.0.0.1' }, { name: 'k8s-2', address: '10.0.0.2' }] });
const node = inv.nodes[0];
const backend = '/var/snap/microk8s/current/var/kubernetes/backend';

/**
 * Every command builder, by module and export name: a sample line and whether it must run as root. A builder
 * missing here fails the enumeration test below.
 */
const BUILDERS: Record<string, Record<string, { line: () => string; root: boolean }>> = {
  'check-probes': {
    SUDO_PROBE: { line: () => checkProbes.SUDO_PROBE, root: false },
    CLOCK_PROBE: { line: () => checkProbes.CLOCK_PROBE, root: false },
    diskCommand: { line: () => checkProbes.diskCommand(node), root: false },
  },
  certs: {
    caFingerprintCommand: { line: () => certs.caFingerprintCommand(node), root: true },
    certCheckCommand: { line: () => certs.certCheckCommand(node), root: true },
    certFingerprintsCommand: { line: () => certs.certFingerprintsCommand(node), root: true },
    refreshCertCommand: { line: () => certs.refreshCertCommand(node, 'server.crt'), root: true },
    undoCertsCommand: { line: () => certs.undoCertsCommand(node), root: true },
  },
  files: {
    readFileCommand: { line: () => files.readFileCommand(`${backend}/info.yaml`), root: true },
    catCommand: { line: () => files.catCommand(`${backend}/cluster.yaml`), root: true },
    fileExistsCommand: { line: () => files.fileExistsCommand(`${backend}/cluster.yaml.orig`), root: true },
    dirExistsCommand: { line: () => files.dirExistsCommand(backend), root: true },
    makeDirCommand: { line: () => files.makeDirCommand(`${backend}.staging`), root: true },
    removeTreeCommand: { line: () => files.removeTreeCommand(`${backend}.staging`), root: true },
    removeFilesCommand: { line: () => files.removeFilesCommand(`${backend}/open-1`), root: true },
    moveCommand: { line: () => files.moveCommand(`${backend}.staging`, backend), root: true },
    copyKeepingCommand: { line: () => files.copyKeepingCommand(`${backend}/cluster.yaml`, `${backend}/cluster.yaml.orig`), root: true },
    sha256Command: { line: () => files.sha256Command(`${backend}/open-1`), root: true },
    writeFileCommand: { line: () => files.writeFileCommand(`${backend}/cluster.yaml`), root: true },
    receiveFileCommand: { line: () => files.receiveFileCommand(`${backend}/open-1.tmp`), root: true },
    tarDirectoryCommand: { line: () => files.tarDirectoryCommand(backend), root: true },
    untarIntoCommand: { line: () => files.untarIntoCommand(`${backend}.staging`), root: true },
    TRUE_COMMAND: { line: () => files.TRUE_COMMAND, root: false },
  },
  services: {
    stopCommand: { line: () => services.stopCommand(node), root: true },
    startCommand: { line: () => services.startCommand(node), root: true },
    snapStopCommand: { line: () => services.snapStopCommand(), root: true },
    snapStartCommand: { line: () => services.snapStartCommand(), root: true },
    stoppedLockCommand: { line: () => services.stoppedLockCommand(node), root: false },
    listLocksCommand: { line: () => services.listLocksCommand(node), root: false },
  },
  dqlite: {
    dqliteCommand: { line: () => dqlite.dqliteCommand(node, '.leader', { format: 'tabular' }), root: true },
    clusterMembersCommand: { line: () => dqlite.clusterMembersCommand(node, { timeoutMs: 4000 }), root: true },
    reconfigureCommand: { line: () => dqlite.reconfigureCommand(node), root: true },
  },
  drain: {
    listPdbsCommand: { line: () => drain.listPdbsCommand(node), root: true },
  },
  join: {
    addNodeCommand: { line: () => join.addNodeCommand(node, '0'.repeat(32), 120), root: true },
    joinCommand: { line: () => join.joinCommand(node, `10.0.0.2:25000/${'0'.repeat(32)}/abcdef012345`, false), root: true },
    leaveCommand: { line: () => join.leaveCommand(node), root: true },
    removeNodeCommand: { line: () => join.removeNodeCommand(node, 'k8s-2', true), root: true },
    JOIN_RUNNING_COMMAND: { line: () => join.JOIN_RUNNING_COMMAND, root: false },
    clearJoinLockCommand: { line: () => join.clearJoinLockCommand(node), root: true },
    joinStateCommand: { line: () => join.joinStateCommand(node), root: true },
  },
  ports: {
    portProbeCommand: { line: () => ports.portProbeCommand('10.0.0.2', 25000), root: false },
    devTcpProbeCommand: { line: () => ports.devTcpProbeCommand('10.0.0.2', 25000), root: false },
  },
  'ha-conf': {
    writeHaConfCommand: { line: () => haConf.writeHaConfCommand(node), root: true },
  },
  kubectl: {
    getNodesCommand: { line: () => kubectl.getNodesCommand(node), root: true },
    getNodeNameCommand: { line: () => kubectl.getNodeNameCommand(node, 'k8s-2'), root: true },
    getPodsCommand: { line: () => kubectl.getPodsCommand(node, { onNode: 'k8s-2' }), root: true },
    cordonCommand: { line: () => kubectl.cordonCommand(node, 'k8s-2'), root: true },
    uncordonCommand: { line: () => kubectl.uncordonCommand(node, 'k8s-2'), root: true },
    waitNodeReadyCommand: { line: () => kubectl.waitNodeReadyCommand(node, 'k8s-2', 60), root: true },
    drainCommand: { line: () => kubectl.drainCommand(node, 'k8s-2', { timeoutS: 300 }), root: true },
  },
  raft: {
    backendListingCommand: { line: () => raft.backendListingCommand(backend, true), root: true },
  },
  reboot: {
    readBootIdCommand: { line: () => reboot.readBootIdCommand(node), root: false },
    rebootRequiredCommand: { line: () => reboot.rebootRequiredCommand(node), root: false },
    rebootPkgsCommand: { line: () => reboot.rebootPkgsCommand(node), root: false },
    rebootCommand: { line: () => reboot.rebootCommand(), root: true },
    maintenanceCommand: { line: () => reboot.maintenanceCommand("apt-get -y full-upgrade && echo 'done'"), root: true },
  },
  snap: {
    snapListCommand: { line: () => snap.snapListCommand({ all: true }), root: false },
    snapInfoCommand: { line: () => snap.snapInfoCommand(), root: false },
    refreshCommand: { line: () => snap.refreshCommand('1.29/stable'), root: true },
    revertCommand: { line: () => snap.revertCommand({ revision: '6089' }), root: true },
    holdCommand: { line: () => snap.holdCommand(), root: true },
    unholdCommand: { line: () => snap.unholdCommand(), root: true },
    refreshTimeCommand: { line: () => snap.refreshTimeCommand(), root: false },
  },
  status: {
    statusCommand: { line: () => status.statusCommand(node, { format: 'yaml' }), root: true },
  },
  version: {
    versionCommand: { line: () => version.versionCommand(node), root: true },
  },
};

const MODULES: Record<string, Record<string, unknown>> = { certs, 'check-probes': checkProbes, dqlite, files, services, ports, 'ha-conf': haConf, drain, join, kubectl, raft, reboot, snap, status, version };
/** Exports named like builders that build something other than a command line. */
const NOT_COMMAND_LINES = new Set(['dqlite.removeShellCommand', 'dqlite.describeShellCommand']);

test('every command builder is listed here: a new one fails until its privilege is decided', () => {
  const exported = Object.entries(MODULES).flatMap(([mod, exports]) =>
    Object.keys(exports)
      .filter((name) => /Command$|_COMMAND$|_PROBE$/.test(name))
      .map((name) => `${mod}.${name}`),
  );
  expect(exported.length).toBeGreaterThan(30);
  const listed = Object.entries(BUILDERS).flatMap(([mod, b]) => Object.keys(b).map((name) => `${mod}.${name}`));
  expect(exported.filter((e) => !NOT_COMMAND_LINES.has(e)).sort()).toEqual(listed.sort());
  expect(dqlite.removeShellCommand('10.0.0.2:19001')).toBe('.remove 10.0.0.2:19001');
  // Every microk8s module is enumerated.
  const files = fs.readdirSync(path.join(ROOT, 'activities/microk8s')).filter((f) => f.endsWith('.ts') && !['index.ts', 'unexpected-output.ts'].includes(f));
  expect(files.map((f) => f.replace(/\.ts$/, '')).sort()).toEqual(Object.keys(MODULES).filter((m) => m !== 'check-probes').sort());
});

describe.each(Object.entries(BUILDERS).flatMap(([mod, b]) => Object.entries(b).map(([name, spec]) => ({ builder: `${mod}.${name}`, ...spec }))))('$builder', ({ line, root }) => {
  test(`runs ${root ? 'as root through sudo -n' : 'as the SSH user'}, and every command in it is classified`, () => {
    const l = line();
    for (const argv of simpleCommands(l)) expect({ argv, family: familyOf(argv)?.family }).toEqual({ argv, family: expect.any(String) });
    expect(runsAsRoot(l)).toBe(root);
    expect(asRunOn({ become: 'sudo' }, l)).toEqual(root ? expect.stringMatching(/^sudo -n /) : l);
    expect(asRunOn({ become: 'none' }, l)).toBe(l);
  });
});

test('the read-only probes: status, kubectl and version need root (the wrappers check permissions), snap queries do not', () => {
  expect(runsAsRoot(status.statusCommand(node))).toBe(true); // "Insufficient permissions to access MicroK8s" otherwise (§0)
  expect(runsAsRoot(kubectl.getNodesCommand(node))).toBe(true);
  expect(runsAsRoot(dqlite.clusterMembersCommand(node))).toBe(true); // cluster.key is 0660 root:microk8s (§7)
  expect(runsAsRoot(version.versionCommand(node))).toBe(true); // microk8s-version.wrapper: exit_if_no_permissions (1.25+)
  for (const l of [snap.snapListCommand(), snap.snapInfoCommand(), services.listLocksCommand(node)]) expect(runsAsRoot(l)).toBe(false);
});

// No activity builds a command line inline (eslint: `command` is imported only by activities/microk8s/ and the SSH
// layer), so the builder enumeration above covers every command the engine runs.
test('the lock directory alone is read as the user; a program no family lists runs as the user', () => {
  const lock = `${node.paths.snapData}/current/var/lock`;
  const cases: Array<[string, boolean]> = [
    [command('snap', 'stop', '--disable', 'microk8s'), true],
    [command('snap', 'start', '--enable', 'microk8s'), true],
    [command('/snap/bin/microk8s', 'stop'), true],
    [command('/snap/bin/microk8s', 'kubectl', 'get', 'node', 'k8s-2', '-o', 'name'), true],
    [command('/snap/bin/microk8s', 'remove-node', 'k8s-2', '--force'), true],
    [command('tar', '-C', backend, '--exclude=./kine.sock', '-cf', '-', '.'), true],
    [command('sh', '-c', 'cat > "$1.runbook-tmp" && mv -f "$1.runbook-tmp" "$1"', 'sh', `${backend}/cluster.yaml`), true],
    [command('test', '-d', backend), true],
    [command('test', '-e', `${lock}/stopped.lock`), false],
    [`${command('ls', '-1', '--', lock)} 2>/dev/null`, false],
    [command('ls', '-1', '--', lock, `${backend}/info.yaml`), true],
    [command('true'), false],
    [command('echo', 'no family'), false],
    [command('uptime'), false], // not listed: the user, never root
  ];
  for (const [l, root] of cases) expect({ l, root: runsAsRoot(l) }).toEqual({ l, root });
});

test('simpleCommands splits pipelines and lists, unquotes words and leaves redirections out', () => {
  expect(simpleCommands(`${command('cat', '--', '/a b/c')} 2>/dev/null`)).toEqual([['cat', '--', '/a b/c']]);
  expect(simpleCommands("find /x -printf '%s %f\\n' && echo '--- sha256 ---' && find /x | sha256sum")).toEqual([
    ['find', '/x', '-printf', '%s %f\\n'],
    ['echo', '--- sha256 ---'],
    ['find', '/x'],
    ['sha256sum'],
  ]);
  expect(simpleCommands(`${command('tee', '--', '/x/ha-conf')} >/dev/null; true || false`)).toEqual([['tee', '--', '/x/ha-conf'], ['true'], ['false']]);
  expect(simpleCommands(command('echo', "it's"))).toEqual([['echo', "it's"]]);
  expect(simpleCommands('printf "%s\\n" "a \\"b\\"" | tr a b')).toEqual([['printf', '%s\\n', 'a "b"'], ['tr', 'a', 'b']]);
  expect(simpleCommands("echo 'open")).toEqual([['echo', 'open']]); // never throws: the shell refuses such a line itself
});

test('a line with one root command runs as root as a whole (sudo -n sh -c)', () => {
  const line = `${command('cat', `${backend}/cluster.yaml`)} | ${command('echo', 'x')}`;
  expect(runsAsRoot(line)).toBe(true);
  expect(asRunOn({ become: 'sudo' }, line)).toBe(`sudo -n sh -c '${line}'`);
});

test('every family says why; the root list is the families that need root', () => {
  for (const f of COMMAND_FAMILIES) expect(f.why.length).toBeGreaterThan(20);
  expect(ROOT_COMMANDS.map((f) => f.family)).toEqual(COMMAND_FAMILIES.filter((f) => f.root).map((f) => f.family));
  expect(ROOT_COMMANDS.length).toBeGreaterThan(5);
});

test("README's sudo table is exactly the generated one", () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const start = '<!-- sudo-table: generated from COMMAND_FAMILIES in activities/ssh/privilege.ts; test/unit/privilege.test.ts checks it -->';
  const from = readme.indexOf(start);
  expect(from).toBeGreaterThan(0);
  const to = readme.indexOf('<!-- /sudo-table -->', from);
  expect(to).toBeGreaterThan(from);
  const table = readme.slice(from + start.length, to).trim();
  // On a mismatch, paste `privilegeTable()` (the "Expected" side) between the markers.
  expect(table).toBe(privilegeTable());
});
