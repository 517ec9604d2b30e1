/** `runbook dev`: the local Temporal dev server (persistent, UI on 8233) and a worker beside it. Ctrl-C stops both. */
import type { Command } from 'commander';
import { defaultStateDir } from '../../local/state-dir';
import * as fs from 'fs';
import { devDbFile, devUiFile, startDevServer } from '../dev-server';
import type { ProgramContext } from '../context';
import { parsePort } from '../flags';
import { uiLink } from '../ui-link';
import { runbookEnv, setRunbookEnv } from '../../local/environment';

export function registerDevCommand(program: Command, ctx: ProgramContext): void {
  program
    .command('dev')
    .description(`Start a local Temporal dev server (SQLite at ${devDbFile('<state-dir>')}, UI on 8233) and a worker`)
    .option('--state-dir <dir>', 'engine state directory (env RUNBOOK_STATE_DIR)', defaultStateDir())
    .option('--port <port>', 'gRPC port', '7233')
    .option('--ui-port <port>', 'Web UI port', '8233')
    .option('--ui-codec-endpoint <url>', 'runbook codec-server URL, so the Web UI decrypts payloads (optional encryption)')
    .action(async (o: { stateDir: string; port: string; uiPort: string; uiCodecEndpoint?: string }) => {
      const port = parsePort('--port', o.port, (m) => ctx.badInput(m));
      const uiPort = parsePort('--ui-port', o.uiPort, (m) => ctx.badInput(m));
      if (o.uiCodecEndpoint !== undefined && !/^https?:\/\/[^\s]+$/.test(o.uiCodecEndpoint)) {
        ctx.badInput(`--ui-codec-endpoint: ${JSON.stringify(o.uiCodecEndpoint)} is not an http(s) URL, e.g. http://127.0.0.1:8888`);
      }
      const [{ installRuntime }, { runWorker }] = await Promise.all([import('../../worker/runtime'), import('../../worker/run')]);
      installRuntime({ level: 'WARN' });
      const say = (l: string) => process.stdout.write(`${l}\n`);
      const env = await startDevServer({ stateDir: o.stateDir, port, uiPort, uiCodecEndpoint: o.uiCodecEndpoint, say });
      if (runbookEnv('RUNBOOK_UI_URL') === undefined) setRunbookEnv('RUNBOOK_UI_URL', `http://localhost:${uiPort}`);
      // Other runbook commands against this server link to this UI port, not the default 8233.
      fs.writeFileSync(devUiFile(o.stateDir), JSON.stringify({ address: `127.0.0.1:${port}`, ui: `http://localhost:${uiPort}` }));
      try {
        await runWorker({
          connection: env.nativeConnection,
          namespace: env.namespace ?? 'default',
          taskQueue: ctx.flags.taskQueue,
          stateDir: o.stateDir,
          onReady: () => {
            say(`Temporal is up at 127.0.0.1:${port}; Web UI: ${uiLink(env.namespace ?? 'default', '').replace(/\/workflows\/$/, '/workflows')}`);
            say(`worker polling task queue "${ctx.flags.taskQueue}". Ctrl-C stops both.`);
          },
        });
      } finally {
        fs.rmSync(devUiFile(o.stateDir), { force: true });
        await env.teardown();
        say('dev server and worker stopped');
      }
    });
}
