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
import { describeHolder, lockMessage } from './cluster-lock';
import { connectClient, CONNECTION_OPTIONS, resolveConnectConfig, type ConnectConfig, type ConnectionFlags } from './connection';
import type { CliContext, StartSpec } from './context';
import { badInput, CliExit, EXIT_CODES_HELP } from './exit';
import { followRunbook } from './follow';
import { readInventoryFile } from './inventory-file';
import { runbookStartOptions } from './start-options';
import { registerCheckCommand } from './commands/check';
import { registerCodecServerCommands } from './commands/codec-server';
import { registerHistoryCommands } from './commands/history';
import { registerControlCommands } from './commands/control';
import { registerDemoCommand } from './commands/demo';
import { registerDevCommand } from './commands/dev';
import { registerFormCommands } from './commands/form';
import { registerRecoveryCommands } from './commands/recovery';
import { registerTemporalCliCommand } from './commands/temporal-cli';
import { registerUpgradeCommands } from './commands/upgrade';
import { registerWorkerCommand } from './commands/worker';
import { registerLabCommands } from '../lab/commands';

export interface GlobalFlags extends ConnectionFlags {
  taskQueue: string;
}

export function defaultIdentity(): string {
  let user = process.env.USER || 'unknown';
  try {
    user = os.userInfo().username;
  } catch {
    /* no passwd entry (containers): keep $USER */
  }
  return `${user}@${os.hostname()}`;
}

/** `http://localhost:8233/namespaces/<ns>/workflows/<id>/<runId>/history`; RUNBOOK_UI_URL overrides the base. */
export function uiLink(namespace: string, workflowId: string, runId?: string): string {
  const base = (process.env.RUNBOOK_UI_URL || 'http://localhost:8233').replace(/\/+$/, '');
  const wf = `${base}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId ? `${wf}/${encodeURIComponent(runId)}/history` : wf;
}

export class RunbookCli implements CliContext {
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

  loadInventory(file: string): Inventory {
    try {
      return readInventoryFile(file);
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

  async startRunbook(spec: StartSpec): Promise<number> {
    const say = this.say(spec.json);
    const client = await this.client();
    const options = runbookStartOptions(spec, { taskQueue: this.flags.taskQueue, identity: this.identity });
    let handle;
    try {
      handle = await client.workflow.start(spec.workflowType, options);
    } catch (e) {
      if (!(e instanceof WorkflowExecutionAlreadyStartedError)) throw e;
      const holder = await describeHolder(client, options.workflowId);
      process.stderr.write(`${lockMessage(spec.inventory.cluster, holder, uiLink(client.options.namespace, holder.workflowId, holder.runId))}\n`);
      return ExitCode.RUNBOOK_FAILED;
    }
    say(`started ${spec.kind} on cluster ${spec.inventory.cluster}: ${handle.workflowId}`);
    say(`  UI: ${uiLink(client.options.namespace, handle.workflowId, handle.firstExecutionRunId)}`);
    return this.follow(handle.workflowId, spec);
  }

  /** Follow until the end; Ctrl-C detaches and leaves the runbook running. */
  async follow(workflowId: string, spec: Pick<StartSpec, 'json' | 'formatResult' | 'resultOk'>): Promise<number> {
    const say = this.say(spec.json);
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
      const outcome = await followRunbook(handle, {
        say,
        identity: this.identity,
        interactive: !!process.stdin.isTTY && !!process.stdout.isTTY && !spec.json,
      });
      if (!outcome.ok) {
        process.stderr.write(`runbook failed: ${outcome.message}\n`);
        return ExitCode.RUNBOOK_FAILED;
      }
      if (spec.json) process.stdout.write(`${JSON.stringify(outcome.result, null, 2)}\n`);
      else process.stdout.write(`${spec.formatResult ? spec.formatResult(outcome.result) : JSON.stringify(outcome.result, null, 2)}\n`);
      return (spec.resultOk?.(outcome.result) ?? true) ? ExitCode.OK : ExitCode.RUNBOOK_FAILED;
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

export function buildProgram(): { program: Command; ctx: RunbookCli } {
  const program = new Command('runbook')
    .description('Durable MicroK8s cluster runbooks on Temporal, over SSH')
    .showHelpAfterError()
    .addHelpText('after', EXAMPLES)
    // Set before any command is added: subcommands copy it. Usage errors are bad input (2); --help is 0.
    .exitOverride((err) => {
      throw new CliExit(err.exitCode === 0 ? ExitCode.OK : ExitCode.BAD_INPUT);
    });
  for (const [flags, description] of CONNECTION_OPTIONS) program.option(flags, description);
  program.option(
    '--task-queue <name>',
    'task queue of the runbook workers (env RUNBOOK_TASK_QUEUE)',
    process.env.RUNBOOK_TASK_QUEUE || DEFAULT_TASK_QUEUE,
  );
  const ctx = new RunbookCli(program);
  registerCheckCommand(program, ctx);
  registerFormCommands(program, ctx);
  registerUpgradeCommands(program, ctx);
  registerRecoveryCommands(program, ctx);
  registerControlCommands(program, ctx);
  registerHistoryCommands(program, ctx);
  registerCodecServerCommands(program);
  registerDevCommand(program, ctx);
  registerWorkerCommand(program, ctx);
  registerDemoCommand(program, ctx);
  registerTemporalCliCommand(program);
  registerLabCommands(program);
  return { program, ctx };
}
