/**
 * The `runbook` program: global connection flags, the CliContext every runbook command uses, and the command list.
 */
import * as os from 'os';
import { Client, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { Command } from 'commander';
import { loadDataConverter } from '../codec/data-converter';
import { CodecConfigError } from '../codec/keys';
import { DEFAULT_TASK_QUEUE, ExitCode } from '../common/constants';
import { InventoryError, type Inventory } from '../common/inventory';
import { plainTextProblem, printable } from '../common/text';
import { describeHolder, lockMessage } from './cluster-lock';
import { connectClient, CONNECTION_OPTIONS, resolveConnectConfig, type ConnectConfig } from '../local/connection';
import type { FollowSpec, GlobalFlags, ProgramContext, StartSpec } from './context';
import type { RunbookType, RunbookWorkflow } from '../common/runbooks';
import { badInput, CliExit, EXIT_CODES_HELP } from '../local/exit';
import { followRunbook } from './follow';
import { chooseView } from './watch/views';
import { failedJson } from './watch/summary';
import { uiLink } from './ui-link';
import { readInventoryFile } from './inventory-file';
import { devUiUrl } from './dev-server';
import { defaultStateDir } from '../local/state-dir';
import { runbookStartOptions } from './start-options';
import { registerCheckCommand } from './commands/check';
import { registerCodecServerCommands } from './commands/codec-server';
import { registerCompletionCommand } from './commands/completion';
import { registerHistoryCommands } from './commands/history';
import { registerListCommand } from './commands/list';
import { registerStatusCommand } from './commands/status';
import { registerWatchCommand } from './commands/watch';
import { registerApproveCommand } from './commands/approve';
import { registerRejectCommand } from './commands/reject';
import { registerPauseCommand } from './commands/pause';
import { registerResumeCommand } from './commands/resume';
import { registerDecideCommand } from './commands/decide';
import { registerCancelCommand } from './commands/cancel';
import { registerDemoCommand } from './commands/demo';
import { registerDevCommand } from './commands/dev';
import { registerFormCommand } from './commands/form';
import { registerRemoveNodeCommand } from './commands/remove-node';
import { registerReplaceNodeCommand } from './commands/replace-node';
import { registerScheduleCommand } from './commands/schedule';
import { registerFleetCommand } from './commands/fleet';
import { registerBackupCommand } from './commands/backup';
import { registerBackupsCommand } from './commands/backups';
import { registerRecoverQuorumCommand } from './commands/recover-quorum';
import { registerRestoreBackupCommand } from './commands/restore-backup';
import { registerDrillCommand } from './commands/drill';
import { registerRebootCommand } from './commands/reboot';
import { registerRefreshCertsCommand } from './commands/refresh-certs';
import { registerRefreshPolicyCommand } from './commands/refresh-policy';
import { registerStackCommands } from './commands/stack';
import { registerTemporalCliCommand } from './commands/temporal-cli';
import { registerUpgradeCommands } from './commands/upgrade';
import { registerWorkerCommand } from './commands/worker';
import { registerLabCommands } from '../lab/commands';
import { runbookEnv, setRunbookEnv } from '../local/environment';


export function defaultIdentity(): string {
  let user = process.env.USER || 'unknown';
  try {
    user = os.userInfo().username;
  } catch {
    /* no passwd entry (containers): keep $USER */
  }
  return `${user}@${os.hostname()}`;
}

export class RunbookCli implements ProgramContext {
  readonly identity = defaultIdentity();
  private clientPromise?: Promise<Client>;

  constructor(readonly program: Command) {}

  get flags(): GlobalFlags {
    return this.program.opts<GlobalFlags>();
  }

  connectConfig(): ConnectConfig {
    return resolveConnectConfig(this.flags);
  }

  get namespace(): string {
    return this.connectConfig().namespace;
  }

  async loadInventory(file: string): Promise<Inventory> {
    try {
      return await readInventoryFile(file);
    } catch (e) {
      if (e instanceof InventoryError) throw new CliExit(ExitCode.BAD_INPUT, e.message);
      throw e;
    }
  }

  badInput(message: string): never {
    return badInput(message);
  }

  client(): Promise<Client> {
    this.clientPromise ??= (async () => {
      const cfg = this.connectConfig();
      // A `runbook dev` with another --ui-port: link to its UI, not the default 8233.
      const devUi = runbookEnv('RUNBOOK_UI_URL') ? undefined : devUiUrl(defaultStateDir(), cfg.connectionOptions.address);
      if (devUi) setRunbookEnv('RUNBOOK_UI_URL', devUi);
      let dataConverter;
      try {
        dataConverter = await loadDataConverter();
      } catch (e) {
        if (e instanceof CodecConfigError) badInput(e.message);
        throw e;
      }
      const connection = await connectClient(cfg);
      return new Client({ connection, namespace: cfg.namespace, identity: this.identity, ...(dataConverter ? { dataConverter } : {}) });
    })();
    return this.clientPromise;
  }

  /** Progress goes to stderr when stdout carries JSON. */
  say(json?: boolean): (line: string) => void {
    return json ? (l) => process.stderr.write(`${l}\n`) : (l) => process.stdout.write(`${l}\n`);
  }

  async startRunbook<T extends RunbookType>(spec: StartSpec<T>): Promise<number> {
    const say = this.say(spec.json);
    const client = await this.client();
    const options = runbookStartOptions(spec, { taskQueue: this.flags.taskQueue, identity: this.identity });
    let handle;
    try {
      handle = await client.workflow.start<RunbookWorkflow<T>>(spec.workflowType, options);
    } catch (e) {
      if (!(e instanceof WorkflowExecutionAlreadyStartedError)) throw e;
      const holder = await describeHolder(client, options.workflowId);
      process.stderr.write(`${lockMessage(spec.inventory.cluster, holder, uiLink(client.options.namespace, holder.workflowId, holder.runId))}\n`);
      return ExitCode.RUNBOOK_FAILED;
    }
    say(`started ${spec.kind} on cluster ${spec.inventory.cluster}: ${handle.workflowId}`);
    say(`  UI: ${uiLink(client.options.namespace, handle.workflowId, handle.firstExecutionRunId)}`);
    return this.follow(handle.workflowId, { ...spec, askPlan: true });
  }

  /**
   * Follow until the end with the watch view (cli/watch): redrawn on a terminal, plain lines otherwise, JSON lines
   * with `jsonLines`. Ctrl-C detaches and leaves the runbook running. Resolves with the exit code.
   */
  async follow(
    workflowId: string,
    spec: FollowSpec,
  ): Promise<number> {
    const client = await this.client();
    const handle = client.workflow.getHandle(workflowId);
    const detach = () => {
      process.stderr.write(
        `\ndetached: the runbook keeps running on the worker.\n  watch it again: runbook watch ${workflowId}\n  stop it:        runbook cancel ${workflowId}\n`,
      );
      process.exit(130);
    };
    process.once('SIGINT', detach);
    try {
      const view = chooseView(workflowId, spec);
      const { ending, result } = await followRunbook(handle, {
        view,
        identity: this.identity,
        interactive: !!spec.askPlan && !!process.stdin.isTTY && !!process.stdout.isTTY && !spec.json && !spec.jsonLines,
        resultOk: spec.resultOk,
      });
      view.end(ending, result);
      if (spec.jsonLines) return ending.exitCode;
      if (ending.status !== 'completed') {
        // Scripts read stderr for the reason even when the summary went to stdout; --json readers get it on stdout.
        if (!spec.json) process.stderr.write(`runbook ${ending.status}: ${ending.message ?? 'see runbook history ' + workflowId}\n`);
        else process.stdout.write(`${JSON.stringify(failedJson(ending), null, 2)}\n`);
        return ending.exitCode;
      }
      if (spec.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      else process.stdout.write(`${spec.formatResult ? spec.formatResult(result) : JSON.stringify(result, null, 2)}\n`);
      return ending.exitCode;
    } finally {
      process.removeListener('SIGINT', detach);
    }
  }
}

const EXAMPLES = `
Examples:
  runbook dev                                   # local Temporal (UI on http://localhost:8233) and a worker
  runbook check -i inventory.yaml               # read-only health report of a cluster
  runbook check -i inventory.yaml --json | jq .healthy
  runbook list --cluster prod --status Running
  runbook watch runbook-prod || page-oncall     # exits with the runbook's outcome
  runbook approve runbook-prod --reason "change CHG-42"
  TEMPORAL_ADDRESS=temporal.internal:7233 runbook worker --task-queue microk8s-runbooks

${EXIT_CODES_HELP}
`;

/**
 * Examples for the engine and lab commands, whose files carry none (runbook commands keep their own, beside their
 * flags). Keyed by command path; `--help` prints them after the options.
 */
const COMMAND_EXAMPLES: Record<string, string[]> = {
  dev: ['runbook dev', 'runbook dev --port 7243 --ui-port 8243     # beside another dev server'],
  worker: [
    'TEMPORAL_ADDRESS=temporal.internal:7233 runbook worker --metrics :9464',
    'runbook --profile prod worker --task-queue microk8s-runbooks --shutdown-grace 2m',
  ],
  demo: ['runbook demo', 'runbook demo --exit      # tear down when the runbooks end'],
  'temporal-cli': ['runbook temporal-cli', 'runbook temporal-cli --install'],
  stack: ['runbook stack up', 'runbook stack status', 'runbook stack down --purge'],
  'stack up': ['runbook stack up', 'runbook stack up --port 7333 --ui-port 8180 --pg-port 5533   # beside another stack'],
  'stack down': ['runbook stack down', 'runbook stack down --purge   # and remove the database'],
  'stack status': ['runbook stack status', 'runbook stack status --json | jq -r \'.[] | select(.up | not) | .component\''],
  'stack binaries': ['runbook stack binaries', 'runbook stack binaries --install   # go install the missing ones (CI)'],
  lab: ['runbook lab up --name rehearsal --workers 1 --formed', 'runbook lab fault k8s-2 crash --name rehearsal'],
  'lab up': [
    'runbook lab up --name rehearsal --control-planes 3 --workers 1 --formed',
    'runbook check -i ~/.local/state/microk8s-runbooks/labs/rehearsal/inventory.yaml',
  ],
  'lab down': ['runbook lab down --name rehearsal'],
  'lab status': ['runbook lab status --name rehearsal', 'runbook lab status --name rehearsal --json | jq .cluster.leader'],
  'lab journal': ['runbook lab journal --name rehearsal --json | tail -5'],
  'lab list': ['runbook lab list'],
  'lab fault': ['runbook lab fault k8s-2 crash --name rehearsal', 'runbook lab fault k8s-3 fail-upgrade --to 1.29 --name rehearsal'],
  'lab heal': ['runbook lab heal --name rehearsal', 'runbook lab heal k8s-2 --name rehearsal'],
  'lab rebuild': ['runbook lab fault k8s-3 destroy --name rehearsal && runbook lab rebuild k8s-3 --name rehearsal'],
  form: ['runbook form -i inventory.yaml --plan', 'runbook form -i inventory.yaml --yes --worker-concurrency 10'],
  'remove-node': ['runbook remove-node -i inventory.yaml --node k8s-w3', 'runbook remove-node -i inventory.yaml --node k8s-2 --force-lost'],
  upgrade: [
    'runbook upgrade -i inventory.yaml --to 1.29/stable --plan',
    'runbook upgrade -i inventory.yaml --to 1.30 --approve each --on-failure pause --worker-batch 5',
  ],
  backup: ['runbook backup -i inventory.yaml --node k8s-1 --keep 10', 'runbook backup -i inventory.yaml --stopped --label before-CHG-42'],
  backups: ['runbook backups list --cluster prod'],
  'backups list': ['runbook backups list --cluster prod --node k8s-1', 'runbook backups list -i inventory.yaml --json'],
  'restore-backup': ['runbook restore-backup -i inventory.yaml --node k8s-1 --backup <id from backups list>'],
  'recover-quorum': [
    'runbook recover-quorum -i inventory.yaml --lost k8s-2,k8s-3 --plan',
    'runbook recover-quorum -i inventory.yaml --lost k8s-2,k8s-3 --template k8s-1',
  ],
};

function addCommandExamples(program: Command): void {
  const byPath = (path: string) => path.split(' ').reduce<Command | undefined>((c, name) => c?.commands.find((s) => s.name() === name), program);
  for (const [path, lines] of Object.entries(COMMAND_EXAMPLES)) {
    byPath(path)?.addHelpText('after', `\nExample${lines.length > 1 ? 's' : ''}:\n${lines.map((l) => `  ${l}`).join('\n')}\n`);
  }
}

export function buildProgram(): { program: Command; ctx: RunbookCli } {
  const program = new Command('runbook')
    .description('Durable MicroK8s cluster runbooks on Temporal, over SSH')
    .showHelpAfterError()
    .addHelpText('after', EXAMPLES)
    // Set before any command is added: subcommands copy it. Usage errors are bad input (2); --help is 0.
    .exitOverride((err) => {
      throw new CliExit(err.exitCode === 0 ? ExitCode.OK : ExitCode.BAD_INPUT);
    })
    // commander quotes what was typed ("unknown option '...'"): escape control characters there too.
    .configureOutput({ writeErr: (s) => process.stderr.write(printable(s)) });
  for (const [flags, description] of CONNECTION_OPTIONS) program.option(flags, description);
  program.option(
    '--task-queue <name>',
    'task queue of the runbook workers (env RUNBOOK_TASK_QUEUE)',
    runbookEnv('RUNBOOK_TASK_QUEUE') || DEFAULT_TASK_QUEUE,
  );
  // Global flags are checked before any command runs: a bad one is exit 2 whatever the command.
  program.hook('preAction', () => {
    const queue = program.opts<GlobalFlags>().taskQueue;
    if (!queue || queue.length > 200 || plainTextProblem(queue) || /\s/.test(queue)) {
      badInput(`--task-queue: ${printable(JSON.stringify(queue ?? ''))} is not a task queue name; give the workers' queue, e.g. --task-queue ${DEFAULT_TASK_QUEUE} (or unset RUNBOOK_TASK_QUEUE)`);
    }
  });
  const ctx = new RunbookCli(program);
  registerCheckCommand(program, ctx);
  registerFormCommand(program, ctx);
  registerRemoveNodeCommand(program, ctx);
  registerUpgradeCommands(program, ctx);
  registerBackupCommand(program, ctx);
  registerBackupsCommand(program, ctx);
  registerRestoreBackupCommand(program, ctx);
  registerDrillCommand(program, ctx);
  registerRecoverQuorumCommand(program, ctx);
  registerRefreshPolicyCommand(program, ctx);
  registerRefreshCertsCommand(program, ctx);
  registerRebootCommand(program, ctx);
  registerReplaceNodeCommand(program, ctx);
  registerScheduleCommand(program, ctx);
  registerFleetCommand(program, ctx);
  registerListCommand(program, ctx);
  registerStatusCommand(program, ctx);
  registerWatchCommand(program, ctx);
  registerApproveCommand(program, ctx);
  registerRejectCommand(program, ctx);
  registerPauseCommand(program, ctx);
  registerResumeCommand(program, ctx);
  registerDecideCommand(program, ctx);
  registerCancelCommand(program, ctx);
  registerHistoryCommands(program, ctx);
  registerCodecServerCommands(program);
  registerDevCommand(program, ctx);
  registerWorkerCommand(program, ctx);
  registerDemoCommand(program, ctx);
  registerTemporalCliCommand(program);
  registerStackCommands(program);
  registerLabCommands(program);
  registerCompletionCommand(program);
  addCommandExamples(program);
  return { program, ctx };
}
