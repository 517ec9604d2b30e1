/**
 * `runbook lab up|down|status|journal|list|fault|heal`. Bad input exits 2 naming the flag and the fix.
 * The lead wires registerLabCommands into the `runbook` program; lab/main.ts runs them standalone.
 */
import { Command, InvalidArgumentError } from 'commander';
import { FAULT_KINDS, type FaultKind, Lab, LabInputError, type LabStatus, defaultStateDir } from './index';
import { CliExit } from '../local/exit';
import { ExitCode } from '../common/constants';
import { CERT_NAMES } from './sim/certs';

function int(flag: string) {
  return (v: string) => {
    if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`${flag} must be a whole number, e.g. ${flag} 3`);
    return Number(v);
  };
}

/** The one error convention of the CLI: a CliExit (bad input: 2) reaches main, which prints it and exits. */
function fail(e: unknown): never {
  const message = `error: ${e instanceof Error ? e.message : String(e)}`;
  throw new CliExit(e instanceof CliExit ? e.code : ExitCode.RUNBOOK_FAILED, message);
}

/** --name, or the only lab there is. */
function pick(name: string | undefined, stateDir: string): Lab {
  if (name) return Lab.open(name, stateDir);
  const labs = Lab.list(stateDir);
  if (labs.length === 1) return Lab.open(labs[0].name, stateDir);
  throw new LabInputError('--name', labs.length ? `several labs exist (${labs.map((l) => l.name).join(', ')}); say which with --name` : 'no lab exists; start one with `runbook lab up --name demo`');
}

/** `lab status`: one line per cluster, one table row per node, then each node's pods and dqlite errors. */
export function formatStatus(st: LabStatus): string {
  const lines = [`lab ${st.name} (${st.profile})`];
  for (const c of st.clusters) {
    const list = (xs: string[]) => xs.join(' ') || 'none';
    lines.push(
      `cluster ${c.id}: ${c.available ? 'available' : 'UNAVAILABLE'}, leader ${c.leader ?? 'none'}, HA ${c.ha ? 'yes' : 'no'}, ` +
        `voters ${list(c.voters)}, stand-bys ${list(c.standbys)}, spares ${list(c.spares)}; nodes ${list(c.nodes)}`,
    );
  }
  const rows = [['NODE', 'CLUSTER', 'AS', 'ADDRESS', 'MACHINE', 'SERVICES', 'K8S', 'CORDONED', 'VERSION', 'REV', 'CHANNEL', 'HELD', 'DQLITE', 'PODS']];
  for (const n of st.nodes) {
    const dq = n.dqlite ? `${n.dqlite.role}${n.leader ? ' (leader)' : ''}${n.dqlite.up ? '' : ' (down)'}` : '-';
    rows.push([
      n.name,
      n.cluster || '-',
      n.joinedAs === 'worker' ? 'worker' : 'cp',
      n.address,
      n.power,
      n.services,
      n.kubernetes === false ? 'absent' : n.ready ? 'Ready' : 'NotReady',
      n.cordoned ? 'yes' : '-',
      n.version,
      String(n.revision),
      n.channel,
      n.held ? 'yes' : '-',
      dq,
      String(n.pods.length),
    ]);
  }
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  lines.push(...rows.map((r) => r.map((c, i) => c.padEnd(w[i] + 2)).join('').trimEnd()));
  for (const n of st.nodes) if (n.pods.length) lines.push(`pods on ${n.name}: ${n.pods.join(', ')}`);
  for (const n of st.nodes) if (n.dqlite?.error) lines.push(`${n.name}: k8s-dqlite: ${n.dqlite.error}`);
  return lines.join('\n');
}

export function registerLabCommands(program: Command): void {
  const lab = program.command('lab').description('a simulated MicroK8s cluster behind real sshd, for rehearsals and tests');
  const stateOpt = (c: Command) => c.option('--state-dir <dir>', 'state directory (default $RUNBOOK_STATE_DIR or ~/.local/state/microk8s-runbooks)');

  stateOpt(
    lab
      .command('up')
      .description('start a lab: one sshd per node, an inventory, known_hosts and a client key')
      .requiredOption('--name <name>', 'lab name (also the inventory cluster name)')
      .option('--control-planes <n>', 'control-plane nodes', int('--control-planes'), 3)
      .option('--workers <n>', 'worker nodes', int('--workers'), 0)
      .option('--channel <channel>', 'snap channel the nodes start on', '1.28/stable')
      .option('--formed', 'start as an HA cluster already formed (default: unclustered, as after snap install)')
      .option('--profile <profile>', 'timing profile: fast (tests) or realistic (demos)', 'fast')
      .option('--time-scale <factor>', 'multiply every simulated duration', (v) => Number(v), 1)
      .option('--user <name>', 'SSH user of the nodes (default: an unprivileged mk8s-lab account when run as root, else you)'),
  ).action(async (o) => {
    try {
      const l = await Lab.up({ name: o.name, controlPlanes: o.controlPlanes, workers: o.workers, channel: o.channel, formed: !!o.formed, profile: o.profile, timeScale: o.timeScale, stateDir: o.stateDir, user: o.user });
      for (const d of l.traversal) process.stderr.write(`lab: let ${l.inventory.nodes[0].user} pass through ${d} (chmod o+x) to reach the lab\n`);
      process.stdout.write(`lab ${l.name} is up: ${l.nodes.length} nodes on ${l.nodes[0].address}..${l.nodes[l.nodes.length - 1].address} port 2222\ninventory: ${l.inventoryPath}\nssh: ssh ${l.sshOptions().join(' ')} ${l.inventory.nodes[0].user}@${l.nodes[0].address}\n`);
    } catch (e) {
      fail(e);
    }
  });

  stateOpt(lab.command('down').description('stop every node of a lab and delete it').option('--name <name>', 'lab name')).action(async (o) => {
    try {
      const l = pick(o.name, o.stateDir ?? defaultStateDir());
      await l.down();
      process.stdout.write(`lab ${l.name} is down\n`);
    } catch (e) {
      fail(e);
    }
  });

  stateOpt(lab.command('status').description('the simulated truth: membership, dqlite roles, versions, cordons, pods').option('--name <name>', 'lab name').option('--json', 'print JSON')).action(async (o) => {
    try {
      const st = await pick(o.name, o.stateDir ?? defaultStateDir()).status();
      process.stdout.write(o.json ? `${JSON.stringify(st, null, 2)}\n` : `${formatStatus(st)}\n`);
    } catch (e) {
      fail(e);
    }
  });

  stateOpt(lab.command('journal').description('every command run on every node, and every simulated state change').option('--name <name>', 'lab name').option('--json', 'one JSON object per line')).action((o) => {
    try {
      for (const e of pick(o.name, o.stateDir ?? defaultStateDir()).journal()) {
        if (o.json) process.stdout.write(`${JSON.stringify(e)}\n`);
        else if (e.argv) process.stdout.write(`${e.t} ${e.node.padEnd(8)} $ ${e.argv.join(' ')}  → ${e.exit ?? 'dropped'} (${e.ms} ms)\n`);
        else {
          const { t, node, event, ...rest } = e;
          process.stdout.write(`${t} ${node.padEnd(8)} * ${event} ${Object.keys(rest).length ? JSON.stringify(rest) : ''}\n`);
        }
      }
    } catch (e) {
      fail(e);
    }
  });

  stateOpt(lab.command('list').description('labs in the state directory')).action((o) => {
    const labs = Lab.list(o.stateDir ?? defaultStateDir());
    if (!labs.length) process.stdout.write('no labs\n');
    for (const l of labs) process.stdout.write(`${l.name}\t${l.nodes} nodes\t127.0.${l.slot}.x\t${l.createdAt}\t${l.dir}\n`);
  });

  stateOpt(
    lab
      .command('fault <node> <kind>')
      .description(`inject a fault: ${FAULT_KINDS.join(', ')}`)
      .option('--name <name>', 'lab name')
      .option('--to <minor>', 'fail-upgrade: the minor whose refresh fails, e.g. 1.29')
      .option('--ms <ms>', 'slow: extra milliseconds per command', int('--ms'))
      .option('--when <when>', 'drop-ssh: before|after the command acts (default after); slow: the delay before (default) or after the command acts')
      .option('--port <port>', 'block-port: the TCP port of NODE to block, e.g. 25000', int('--port'))
      .option('--cluster-of <node>', "stale-member: plant the entry in this node's cluster (default: the biggest cluster NODE is not in)")
      .option('--cert <file>', 'cert-expired: ca.crt, server.crt (default) or front-proxy-client.crt')
      .option('--pkgs <list>', 'reboot-required: comma-separated packages that asked for the reboot (default a kernel)'),
  ).action(async (node: string, kind: string, o) => {
    try {
      if (!(FAULT_KINDS as readonly string[]).includes(kind)) throw new LabInputError('KIND', `unknown fault "${kind}"; use one of ${FAULT_KINDS.join(', ')}`);
      if (kind === 'fail-upgrade' && !/^1\.\d+$/.test(o.to ?? '')) throw new LabInputError('--to', 'fail-upgrade needs the minor that fails, e.g. --to 1.29');
      if (o.when && !['before', 'after'].includes(o.when)) throw new LabInputError('--when', 'must be "before" or "after"');
      if (o.cert !== undefined && !(CERT_NAMES as readonly string[]).includes(o.cert)) throw new LabInputError('--cert', `must be one of ${CERT_NAMES.join(', ')}`);
      const pkgs = o.pkgs === undefined ? undefined : String(o.pkgs).split(',').filter(Boolean);
      if (pkgs && (pkgs.length === 0 || pkgs.some((p) => !/^[a-z0-9][a-z0-9+.-]*$/.test(p)))) throw new LabInputError('--pkgs', 'must be package names separated by commas, e.g. --pkgs linux-image-6.8.0-49-generic,libc6');
      const opts = { to: o.to, ms: o.ms, when: o.when, port: o.port, clusterOf: o.clusterOf, cert: o.cert, pkgs };
      // Leave unset options out: the fault's journal line records exactly what was asked.
      const given = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined));
      await pick(o.name, o.stateDir ?? defaultStateDir()).fault(node, kind as FaultKind, given);
      process.stdout.write(`${kind} injected on ${node}\n`);
    } catch (e) {
      fail(e);
    }
  });

  stateOpt(lab.command('heal [node]').description('clear faults (all nodes when none is given); destroyed nodes stay gone').option('--name <name>', 'lab name')).action(async (node: string | undefined, o) => {
    try {
      await pick(o.name, o.stateDir ?? defaultStateDir()).heal(node);
      process.stdout.write(`healed ${node ?? 'all nodes'}\n`);
    } catch (e) {
      fail(e);
    }
  });

  stateOpt(
    lab
      .command('rebuild <node>')
      .description("replace a node's machine: same address, fresh OS and microk8s, new host key, unclustered (its old dqlite member stays behind)")
      .option('--name <name>', 'lab name')
      .option('--channel <channel>', "snap channel to install (default the lab's)"),
  ).action(async (node: string, o) => {
    try {
      await pick(o.name, o.stateDir ?? defaultStateDir()).rebuild(node, { channel: o.channel });
      process.stdout.write(`rebuilt ${node}: fresh install, new host key in the lab's known_hosts\n`);
    } catch (e) {
      fail(e);
    }
  });
}

export { formatStatus as formatLabStatus };
