/**
 * Least privilege: which remote commands run as root (`sudo -n`, when the node's `become` is `sudo`) and which run
 * as the SSH user. This list is the one place that decides it: the session classifies every command line it runs
 * (`runsAsRoot`), so no call site chooses sudo. A line runs as root when any simple command in it belongs to a root
 * family; a command no family lists runs as the user. README's sudo table is generated from this list and
 * test/unit/privilege.test.ts keeps the two (and every command builder) in step. Section numbers refer to the
 * MicroK8s behaviour reference.
 */
export interface CommandFamily {
  /** How the README names it (markdown). */
  family: string;
  root: boolean;
  /** One line: why it needs root, or why the user suffices. */
  why: string;
  matches(argv: string[]): boolean;
}

const program = (argv: string[]) => (argv[0] ?? '').split('/').pop() ?? '';
/** The subcommand: the first word after the program that is not a flag. */
const sub = (argv: string[]) => argv.slice(1).find((a) => !a.startsWith('-'));
const operands = (argv: string[]) => argv.slice(1).filter((a) => !a.startsWith('-'));
const is =
  (prog: string, ...subs: string[]) =>
  (argv: string[]) =>
    program(argv) === prog && (subs.length === 0 || subs.includes(sub(argv) ?? ''));
const oneOf =
  (...progs: string[]) =>
  (argv: string[]) =>
    progs.includes(program(argv));
/** `snap refresh --time`: reads the refresh timer and holds, changes nothing. */
const refreshTimeQuery = (argv: string[]) => is('snap', 'refresh')(argv) && argv.includes('--time');
const inLockDir = (p: string) => /\/var\/lock(\/[^/]+)?$/.test(p);
/** The machine's boot id and Ubuntu's reboot sentinel (§12), wherever the inventory puts them. */
const isHostFile = (p: string) => /\/(boot_id|reboot-required(\.pkgs)?)$/.test(p);

/** Files the engine touches as root: the dqlite backend, `args/`, its own markers beside them (§7). */
const FILE_TOOLS = ['cat', 'tee', 'cp', 'mv', 'rm', 'mkdir', 'test', 'ls', 'find', 'sha256sum', 'tar'];

/** In order: the first family that matches a simple command decides for it. */
export const COMMAND_FAMILIES: readonly CommandFamily[] = [
  {
    family: '`microk8s status`',
    root: true,
    why: 'reads `credentials/client.config`, which only root and the `microk8s` group may read ("Insufficient permissions to access MicroK8s", §0)',
    matches: is('microk8s', 'status'),
  },
  {
    family: '`microk8s kubectl`',
    root: true,
    why: 'the same client credentials as `status`',
    matches: is('microk8s', 'kubectl'),
  },
  {
    family: '`microk8s add-node`',
    root: true,
    why: 'writes the join token to `credentials/cluster-tokens.txt` (§1)',
    matches: is('microk8s', 'add-node'),
  },
  {
    family: '`microk8s join`, `leave`, `remove-node`',
    root: true,
    why: 'rewrite certificates, service arguments and the dqlite membership, and restart services (§2, §4)',
    matches: is('microk8s', 'join', 'leave', 'remove-node'),
  },
  {
    family: '`microk8s refresh-certs`',
    root: true,
    why: 'reads and rewrites `$SNAP_DATA/certs` and restarts services; refused without root, `--check` included ("Elevated permissions is needed", exit 50, §11)',
    matches: is('microk8s', 'refresh-certs'),
  },
  {
    family: '`microk8s start`, `stop`',
    root: true,
    why: 'start and stop the snap\'s systemd services (§5)',
    matches: is('microk8s', 'start', 'stop'),
  },
  {
    family: '`snap refresh`, `revert`, `start`, `stop`',
    root: true,
    why: 'snapd changes (refresh, revert, `--hold`, services) need root (§6)',
    matches: (argv) => is('snap', 'refresh', 'revert', 'start', 'stop')(argv) && !refreshTimeQuery(argv),
  },
  {
    family: '`systemctl reboot`',
    root: true,
    why: 'reboots the machine (`runbook reboot`, §12); systemd refuses it to other users ("Interactive authentication required")',
    matches: is('systemctl', 'reboot'),
  },
  {
    family: '`cat` of the boot id, `test`/`cat` of the reboot sentinel',
    root: false,
    why: '`/proc/sys/kernel/random/boot_id` and `/var/run/reboot-required[.pkgs]` are world-readable (§12)',
    matches: (argv) => oneOf('cat', 'test')(argv) && operands(argv).length > 0 && operands(argv).every(isHostFile),
  },
  {
    family: '`dqlite` (`/snap/microk8s/current/bin/dqlite`)',
    root: true,
    why: 'opens `backend/cluster.key` and `cluster.yaml`, root:microk8s 0660 ("permission denied" otherwise, §3, §7)',
    matches: oneOf('dqlite'),
  },
  {
    family: '`ls`, `test` in `$SNAP_DATA/var/lock`',
    root: false,
    why: 'the lock files (`ha-cluster`, `clustered.lock`, `stopped.lock`) are readable by every user (§0)',
    matches: (argv) => oneOf('ls', 'test')(argv) && operands(argv).length > 0 && operands(argv).every(inLockDir),
  },
  {
    family: `${FILE_TOOLS.map((t) => `\`${t}\``).join(', ')} on MicroK8s' data`,
    root: true,
    why: 'the dqlite backend and `args/` are root:microk8s 0660 (§7): backups, restores, recovery and `ha-conf` read and write them, keeping owners',
    matches: oneOf(...FILE_TOOLS),
  },
  {
    family: "`sh -c` writing a file (`cat > tmp && mv`), or the operator's `--command`",
    root: true,
    why: "writes `cluster.yaml`, the recovery marker and transferred backend files atomically in root-owned directories; `runbook reboot --command` patches the machine (apt needs root)",
    matches: (argv) => program(argv) === 'sh' && argv[1] === '-c',
  },
  {
    family: '`microk8s version`',
    root: true,
    why: 'its wrapper calls `exit_if_no_permissions` like `status` since 1.25 (canonical/microk8s#3078), so a user outside the `microk8s` group is refused',
    matches: is('microk8s', 'version'),
  },
  {
    family: '`snap list`, `snap info`, `snap refresh --time`',
    root: false,
    why: 'public snapd queries (§6, §14)',
    matches: (argv) => is('snap', 'list', 'info')(argv) || refreshTimeQuery(argv),
  },
  {
    family: '`sudo -n true`',
    root: false,
    why: 'the sudo probe itself: proves passwordless sudo without running anything as root',
    matches: oneOf('sudo'),
  },
  {
    family: '`timeout N bash -c ": </dev/tcp/IP/PORT"`',
    root: false,
    why: 'the port probe on a node without nc: a TCP connect, nothing read or written',
    matches: (argv) => program(argv) === 'timeout' && argv[2] === 'bash' && argv[3] === '-c' && /^: <\/dev\/tcp\/[\d.]+\/\d+$/.test(argv[4] ?? '') && argv.length === 5,
  },
  {
    family: '`pgrep -f`',
    root: false,
    why: 'is a join still running (a stale `join-in-progress` lock otherwise): reads the process list',
    matches: oneOf('pgrep'),
  },
  {
    family: '`date`, `df`, `nc -z`, `true`, `echo`',
    root: false,
    why: 'pre-flight probes (clock, free disk, ports, reachability) and output separators',
    matches: oneOf('date', 'df', 'nc', 'true', 'echo'),
  },
];

/**
 * The simple commands of a line built with common/shell.ts (`command`, `pipeline`, `andThen`, redirections such as
 * `2>/dev/null`): each one's argv, quotes removed, redirections left out.
 */
export function simpleCommands(line: string): string[][] {
  const commands: string[][] = [];
  let argv: string[] = [];
  let word: string | undefined;
  let redirect = false;
  const endWord = () => {
    if (word === undefined) return;
    if (redirect) redirect = false;
    else argv.push(word);
    word = undefined;
  };
  const endCommand = () => {
    endWord();
    if (argv.length) commands.push(argv);
    argv = [];
  };
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (ch === "'") {
      // Single quotes: literal up to the next one (an unterminated quote takes the rest; the shell will refuse it).
      const close = line.indexOf("'", i + 1);
      const end = close < 0 ? line.length : close;
      word = (word ?? '') + line.slice(i + 1, end);
      i = end;
    } else if (ch === '"') {
      let j = i + 1;
      let text = '';
      // Double quotes: a backslash escapes only $ ` " \ and newline, as in sh.
      for (; j < line.length && line[j] !== '"'; j++) text += line[j] === '\\' && '$`"\\\n'.includes(line[j + 1] ?? 'x') ? line[++j] : line[j];
      word = (word ?? '') + text;
      i = j;
    } else if (ch === '\\') {
      word = (word ?? '') + (line[i + 1] ?? '');
      i++;
    } else if (ch === ' ' || ch === '\t') {
      endWord();
    } else if (ch === '|' || ch === ';' || ch === '&' || ch === '\n') {
      endCommand();
      if ((ch === '|' || ch === '&') && line[i + 1] === ch) i++;
    } else if (ch === '>' || ch === '<') {
      // `2>/dev/null`, `>/dev/null`, `> file`: the descriptor digit and the target are not arguments.
      if (word !== undefined && /^\d+$/.test(word)) word = undefined;
      endWord();
      if (line[i + 1] === '&' || line[i + 1] === '>') i++;
      redirect = true;
    } else {
      word = (word ?? '') + ch;
    }
  }
  endCommand();
  return commands;
}

/** The family that decides for one simple command, or undefined when none lists it (it then runs as the user). */
export function familyOf(argv: string[]): CommandFamily | undefined {
  return COMMAND_FAMILIES.find((f) => f.matches(argv));
}

/** Does this command line need root? True when any of its simple commands belongs to a root family. */
export function runsAsRoot(line: string): boolean {
  return simpleCommands(line).some((argv) => familyOf(argv)?.root === true);
}

/** The families that need root, as the README lists them. */
export const ROOT_COMMANDS: readonly CommandFamily[] = COMMAND_FAMILIES.filter((f) => f.root);

/** README's sudo table, generated from COMMAND_FAMILIES (test/unit/privilege.test.ts checks the README holds exactly this). */
export function privilegeTable(): string {
  const rows = COMMAND_FAMILIES.map((f) => `| ${f.family} | ${f.root ? 'root (`sudo -n`)' : 'the SSH user'} | ${f.why} |`);
  return ['| command | runs as | why |', '|---|---|---|', ...rows].join('\n');
}
