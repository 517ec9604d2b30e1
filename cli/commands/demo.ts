/**
 * `runbook demo` (`npm run demo`): everything on one machine, from a fresh clone. Starts the Temporal dev server
 * (or uses the one `runbook dev` runs), a formed lab of 3 control planes and 1 worker behind real sshd, a worker,
 * then runs the runbooks that exist (check) and prints the UI link. The lead extends the list as runbooks land.
 */
import type { Command } from 'commander';
import { NativeConnection } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Lab } from '../../lab';
import { createWorker } from '../../worker/create-worker';
import { defaultStateDir } from '../../worker/run';
import { installRuntime } from '../../worker/runtime';
import { formatCheck } from './check';
import type { CheckResult } from '../../workflows/check';
import { portInUse, startDevServer } from '../dev-server';
import { parsePort } from './dev';
import type { RunbookCli } from '../program';

const LAB_NAME = 'demo';

async function freshLab(stateDir: string, say: (l: string) => void): Promise<Lab> {
  if (Lab.list(stateDir).some((l) => l.name === LAB_NAME)) {
    say(`removing the previous "${LAB_NAME}" lab`);
    await Lab.open(LAB_NAME, stateDir).down();
  }
  say('starting a formed lab: k8s-1..3 (control plane) and k8s-w1 (worker), MicroK8s 1.28/stable, behind real sshd');
  return Lab.up({ name: LAB_NAME, controlPlanes: 3, workers: 1, channel: '1.28/stable', formed: true, profile: 'fast', stateDir });
}

export function registerDemoCommand(program: Command, ctx: RunbookCli): void {
  program
    .command('demo')
    .description('Dev server + lab + worker, then run the runbooks against the lab and print the UI link')
    .option('--state-dir <dir>', 'engine state directory (env RUNBOOK_STATE_DIR)', defaultStateDir())
    .option('--port <port>', 'Temporal gRPC port', '7233')
    .option('--ui-port <port>', 'Web UI port', '8233')
    .option('--exit', 'tear everything down when the runbooks end (default on a TTY: keep the UI up until Ctrl-C)')
    .action(async (o: { stateDir: string; port: string; uiPort: string; exit?: boolean }) => {
      const port = parsePort('--port', o.port, (m) => ctx.badInput(m));
      const uiPort = parsePort('--ui-port', o.uiPort, (m) => ctx.badInput(m));
      const say = (l: string) => process.stdout.write(`${l}\n`);
      installRuntime({ level: 'WARN' });
      process.env.RUNBOOK_UI_URL ??= `http://localhost:${uiPort}`;

      let env: TestWorkflowEnvironment | undefined;
      let connection: NativeConnection;
      if (await portInUse(port)) {
        say(`using the Temporal server already on 127.0.0.1:${port} (runbook dev?)`);
        connection = await NativeConnection.connect({ address: `127.0.0.1:${port}` });
      } else {
        env = await startDevServer({ stateDir: o.stateDir, port, uiPort, say });
        connection = env.nativeConnection;
      }
      process.env.TEMPORAL_ADDRESS = `127.0.0.1:${port}`;
      const taskQueue = `demo-${process.pid}`;
      ctx.program.setOptionValue('taskQueue', taskQueue);

      const lab = await freshLab(o.stateDir, say);
      const worker = await createWorker({ connection, namespace: 'default', taskQueue, stateDir: o.stateDir });
      const running = worker.run();
      let code = 0;
      try {
        say(`\n== runbook check -i ${lab.inventoryPath}`);
        code = await ctx.startRunbook({
          kind: 'check',
          workflowType: 'check',
          inventory: lab.inventory,
          input: {},
          summary: `check ${lab.inventory.cluster} (demo lab)`,
          yes: true,
          formatResult: (r) => formatCheck(r as CheckResult),
          resultOk: (r) => (r as CheckResult).healthy,
        });
        say(`\nWeb UI: http://localhost:${uiPort}/namespaces/default/workflows`);
        say(`Try: node dist/cli/main.js check -i ${lab.inventoryPath} --task-queue ${taskQueue}   (while the demo runs)`);
        if (!o.exit && process.stdin.isTTY) {
          say('Everything stays up for you to look around. Ctrl-C stops the worker, the lab and the dev server.');
          await running; // the Runtime ends the worker on SIGINT/SIGTERM
        }
      } finally {
        worker.shutdown();
        await running;
        await lab.down();
        if (env) await env.teardown();
        else await connection.close();
        say('demo stopped');
      }
      process.exitCode = code;
    });
}
