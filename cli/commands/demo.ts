/**
 * `runbook demo` (`npm run demo`): everything on one machine, from a fresh clone. Starts the Temporal dev server
 * (or uses the one `runbook dev` runs), a lab of freshly installed MicroK8s nodes behind real sshd and a worker,
 * then runs the runbooks through the real `runbook` CLI, as an SRE would type them:
 * check → form → hold auto-refresh → upgrade through an injected failure and its rollback → upgrade again → renew
 * an expired certificate → patch and reboot the nodes that need it → lose quorum → recover → replace the lost nodes
 * → a second site joins and the fleet is upgraded (canary first) → backups on a schedule.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { Command } from 'commander';
import type { NativeConnection } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Lab } from '../../lab';
import { defaultStateDir } from '../../local/state-dir';
import { startDevServer } from '../dev-server';
import { portInUse } from '../../local/ports';
import { parsePort } from '../flags';
import type { ProgramContext } from '../context';

const LAB_NAME = 'demo';
const CLI_MAIN = path.resolve(__dirname, '../main.js');

interface Step {
  title: string;
  /** `runbook` arguments, or a lab action (which may run `runbook` itself and read its output). */
  run: string[] | ((lab: Lab, runbook: (args: string[]) => Promise<string>) => Promise<void>);
  /** The exit code this step is meant to end with (the injected failure ends the first upgrade with 1). */
  expect: number;
}

/** The second site of the fleet steps: made by a step, torn down with the demo. */
interface Fleet {
  stateDir: string;
  file: string;
  labs: Lab[];
}

function scenario(inv: string, fleet: Fleet): Step[] {
  return [
    { title: 'pre-flight of freshly installed nodes (read-only)', run: ['check', '-i', inv], expect: 0 },
    { title: 'form an HA cluster: 3 control planes one at a time, then the workers', run: ['form', '-i', inv, '--yes'], expect: 0 },
    { title: 'hold snap auto-refresh on every node: upgrades happen when we say so', run: ['refresh-policy', '-i', inv, '--hold', '--yes'], expect: 0 },
    {
      title: 'inject a fault: k8s-2 will stay NotReady after refreshing to 1.29',
      run: (lab) => lab.fault('k8s-2', 'fail-upgrade', { to: '1.29' }),
      expect: 0,
    },
    {
      title: 'rolling upgrade to 1.29/stable: k8s-2 fails its health gate and is rolled back, the run stops',
      run: ['upgrade', '-i', inv, '--to', '1.29/stable', '--yes', '--rollback', 'node', '--ready-timeout', '15s'],
      expect: 1,
    },
    { title: 'heal k8s-2, then upgrade again: nodes already on 1.29 are skipped', run: (lab) => lab.heal('k8s-2'), expect: 0 },
    { title: 'rolling upgrade to 1.29/stable, again', run: ['upgrade', '-i', inv, '--to', '1.29/stable', '--yes'], expect: 0 },
    { title: 'every node on 1.29, auto-refresh still held (the upgrade kept our holds)', run: ['refresh-policy', '-i', inv, '--status'], expect: 0 },
    { title: "a year later: k8s-2's front-proxy-client.crt has expired (nothing renews it)", run: (lab) => lab.fault('k8s-2', 'cert-expired', { cert: 'front-proxy-client.crt' }), expect: 0 },
    { title: 'check finds it, names the fix, exits 1', run: ['check', '-i', inv], expect: 1 },
    { title: 'refresh the certificates due within 30 days, node by node with health gates', run: ['refresh-certs', '-i', inv, '--within', '30d', '--yes'], expect: 0 },
    {
      title: 'patch night: an apt kernel upgrade left /var/run/reboot-required on k8s-1 and k8s-w1',
      run: async (lab) => {
        await lab.fault('k8s-1', 'reboot-required');
        await lab.fault('k8s-w1', 'reboot-required');
      },
      expect: 0,
    },
    {
      title: 'rolling reboot of the nodes that need it: drain, patch, reboot, prove the new boot id, Ready, health gates, uncordon',
      run: ['reboot', '-i', inv, '--only-if-required', '--command', 'echo "patched $(hostname) as $(id -un)"', '--yes'],
      expect: 0,
    },
    {
      title: 'disaster: k8s-2 and k8s-3 are destroyed, 2 of 3 voters gone, quorum lost',
      run: async (lab) => {
        await lab.fault('k8s-2', 'destroy');
        await lab.fault('k8s-3', 'destroy');
      },
      expect: 0,
    },
    {
      title: 'recover quorum on the survivor (stop, back up, rewrite cluster.yaml, reconfigure, start)',
      run: ['recover-quorum', '-i', inv, '--lost', 'k8s-2,k8s-3', '--yes'],
      expect: 0,
    },
    {
      title: 'new hardware: k8s-2 and k8s-3 are rebuilt at their old addresses (fresh MicroK8s 1.29, new host keys)',
      run: async (lab) => {
        // On the cluster's channel (§13: a join across minors fails and leaves a stale member).
        await lab.rebuild('k8s-2', { channel: '1.29/stable' });
        await lab.rebuild('k8s-3', { channel: '1.29/stable' });
      },
      expect: 0,
    },
    { title: 'replace k8s-2: it joins again as a control plane (two members: one voter, no HA yet)', run: ['replace-node', '-i', inv, '--node', 'k8s-2', '--yes'], expect: 0 },
    { title: 'replace k8s-3: three voters, high availability back', run: ['replace-node', '-i', inv, '--node', 'k8s-3', '--yes'], expect: 0 },
    {
      title: 'a second site: demo-b (a control plane and a worker, formed on 1.28); fleet.yaml lists both clusters',
      run: async (lab) => {
        const b = await Lab.up({ name: `${LAB_NAME}-b`, controlPlanes: 1, workers: 1, channel: '1.28/stable', formed: true, profile: 'fast', stateDir: fleet.stateDir });
        fleet.labs.push(b);
        fs.writeFileSync(fleet.file, `fleet: demo-sites\ninventories:\n  - ${lab.inventoryPath}\n  - ${b.inventoryPath}\n`);
      },
      expect: 0,
    },
    {
      title: "upgrade the fleet to 1.29: demo first as the canary (its rebuilt nodes to 1.29's latest patch), then demo-b; each under its own lock",
      run: ['fleet', 'upgrade', '-f', fleet.file, '--to', '1.29', '--max-parallel', '2', '--yes'],
      expect: 0,
    },
    { title: "the fleet's table", run: ['fleet', 'status', '-f', fleet.file], expect: 0 },
    { title: 'back up demo every 6 hours, keeping 3 (a Temporal Schedule, in the UI too)', run: ['schedule', 'create', 'backup', '-i', inv, '--every', '6h', '--keep', '3'], expect: 0 },
    { title: 'run it now rather than in 6 hours', run: ['schedule', 'trigger', `runbook-${LAB_NAME}.backup`], expect: 0 },
    {
      title: 'wait for that scheduled backup to end (it took the cluster lock like any runbook)',
      run: async (_lab, runbook) => {
        for (let i = 0; i < 240; i++) {
          const rows = JSON.parse(await runbook(['schedule', 'list', '--json'])) as Array<{ id: string; last?: string }>;
          const last = rows.find((r) => r.id === `runbook-${LAB_NAME}.backup`)?.last;
          if (last && !/ running$/.test(last)) return;
          await new Promise((r) => setTimeout(r, 500));
        }
        throw new Error('the scheduled backup did not end within 2 minutes');
      },
      expect: 0,
    },
    { title: 'the schedules, with how the last run ended', run: ['schedule', 'list'], expect: 0 },
    { title: 'remove the schedule (the demo leaves nothing running)', run: ['schedule', 'delete', `runbook-${LAB_NAME}.backup`], expect: 0 },
    { title: 'what ran on this cluster', run: ['list', '--cluster', LAB_NAME], expect: 0 },
  ];
}

/** `runbook <args>` with its stdout captured (for a step that reads it); stderr shows. */
function captureCli(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const child = spawn(process.execPath, [CLI_MAIN, ...args], { stdio: ['ignore', 'pipe', 'inherit'], env });
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`runbook ${args.join(' ')} exited ${code}`))));
  });
}

function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI_MAIN, ...args], { stdio: ['ignore', 'inherit', 'inherit'], env });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

export function registerDemoCommand(program: Command, ctx: ProgramContext): void {
  program
    .command('demo')
    .description('Dev server + lab + worker, then form, hold auto-refresh, upgrade (with a rollback), renew certificates, patch and reboot, lose and recover quorum, replace the lost nodes, upgrade a fleet, schedule backups; prints the UI link')
    .option('--state-dir <dir>', 'engine state directory (env RUNBOOK_STATE_DIR)', defaultStateDir())
    .option('--port <port>', 'Temporal gRPC port', '7233')
    .option('--ui-port <port>', 'Web UI port', '8233')
    .option('--profile <profile>', 'lab timing: fast (seconds in all) or realistic (joins >= 15 s, refreshes 20-60 s)', 'fast')
    .option('--exit', 'tear everything down when the runbooks end (default on a TTY: keep the UI up until Ctrl-C)')
    .action(async (o: { stateDir: string; port: string; uiPort: string; profile: string; exit?: boolean }) => {
      const port = parsePort('--port', o.port, (m) => ctx.badInput(m));
      const uiPort = parsePort('--ui-port', o.uiPort, (m) => ctx.badInput(m));
      if (o.profile !== 'fast' && o.profile !== 'realistic') ctx.badInput(`--profile: "${o.profile}" is not fast or realistic`);
      const say = (l: string) => process.stdout.write(`${l}\n`);
      // The demo fails an upgrade on purpose: the worker's warning for it would only clutter the story.
      // The worker SDK loads only for the demo itself, not for every `runbook` invocation.
      const [{ NativeConnection }, { createWorker }, { installRuntime }] = await Promise.all([
        import('@temporalio/worker'),
        import('../../worker/create-worker'),
        import('../../worker/runtime'),
      ]);
      installRuntime({ level: 'ERROR' });
      const uiUrl = `http://localhost:${uiPort}`;

      let env: TestWorkflowEnvironment | undefined;
      let connection: NativeConnection;
      if (await portInUse(port)) {
        say(`using the Temporal server already on 127.0.0.1:${port} (runbook dev?)`);
        connection = await NativeConnection.connect({ address: `127.0.0.1:${port}` });
      } else {
        env = await startDevServer({ stateDir: o.stateDir, port, uiPort, say });
        connection = env.nativeConnection;
      }
      const taskQueue = `demo-${process.pid}`;
      const childEnv: NodeJS.ProcessEnv = {
        ...process.env,
        TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
        RUNBOOK_TASK_QUEUE: taskQueue,
        RUNBOOK_STATE_DIR: o.stateDir,
        RUNBOOK_UI_URL: uiUrl,
      };

      if (Lab.list(o.stateDir).some((l) => l.name === LAB_NAME)) {
        say(`removing the previous "${LAB_NAME}" lab`);
        await Lab.open(LAB_NAME, o.stateDir).down();
      }
      say('starting a lab: k8s-1..3 (control plane) and k8s-w1..2 (workers), MicroK8s 1.28/stable, freshly installed, behind real sshd');
      const lab = await Lab.up({
        name: LAB_NAME,
        controlPlanes: 3,
        workers: 2,
        channel: '1.28/stable',
        profile: o.profile as 'fast' | 'realistic',
        timeScale: o.profile === 'realistic' ? 0.1 : undefined,
        stateDir: o.stateDir,
      });
      const worker = await createWorker({ connection, namespace: 'default', taskQueue, stateDir: o.stateDir });
      const running = worker.run();
      let code = 0;
      const fleet: Fleet = { stateDir: o.stateDir, file: path.join(lab.dir, 'fleet.yaml'), labs: [] };
      for (const old of Lab.list(o.stateDir).filter((l) => l.name === `${LAB_NAME}-b`)) await Lab.open(old.name, o.stateDir).down();
      try {
        for (const step of scenario(lab.inventoryPath, fleet)) {
          const shown = Array.isArray(step.run) ? `runbook ${step.run.join(' ')}` : 'lab';
          say(`\n== ${step.title}\n   $ ${shown}`);
          const exit = Array.isArray(step.run) ? await runCli(step.run, childEnv) : await step.run(lab, (args) => captureCli(args, childEnv)).then(() => 0);
          if (exit !== step.expect) {
            say(`\ndemo: "${shown}" exited ${exit}, expected ${step.expect}; stopping here (lab state: runbook lab status --name ${LAB_NAME})`);
            code = 1;
            break;
          }
        }
        say(`\nThe lab's own truth after all this:`);
        await runCli(['lab', 'status', '--name', LAB_NAME], childEnv);
        say(`\nWeb UI: ${uiUrl}/namespaces/default/workflows?query=${encodeURIComponent(`RunbookCluster="${LAB_NAME}"`)}`);
        say(`Audit trail of the last runbook: node dist/cli/main.js history runbook-${LAB_NAME}`);
        if (!o.exit && process.stdin.isTTY) {
          say('Everything stays up for you to look around. Ctrl-C stops the worker, the lab and the dev server.');
          await running; // the Runtime ends the worker on SIGINT/SIGTERM
        }
      } finally {
        worker.shutdown();
        await running;
        await lab.down();
        for (const b of fleet.labs) await b.down();
        if (env) await env.teardown();
        else await connection.close();
        say('demo stopped');
      }
      process.exitCode = code;
    });
}
