/** `runbook worker`: a production worker, connected like the Temporal CLI (flags > env > temporal.toml). */
import type { Command } from 'commander';
import { defaultStateDir } from '../../local/state-dir';
import { connectNative } from '../../local/connection';
import type { ProgramContext } from '../context';
import { runbookEnv } from '../../local/environment';

export function registerWorkerCommand(program: Command, ctx: ProgramContext): void {
  program
    .command('worker')
    .description('Run a worker for all runbooks (structured JSON logs on stderr; Ctrl-C/SIGTERM stop it gracefully)')
    .option('--state-dir <dir>', 'engine state directory (env RUNBOOK_STATE_DIR)', defaultStateDir())
    .option('--shutdown-grace <duration>', 'time in-flight SSH steps get to finish on shutdown', '30s')
    .option('--log-level <level>', 'TRACE, DEBUG, INFO, WARN or ERROR', 'INFO')
    .option('--metrics <address>', 'serve Prometheus metrics on /metrics, e.g. :9464 (env RUNBOOK_METRICS)', runbookEnv('RUNBOOK_METRICS') || undefined)
    .action(async (o: { stateDir: string; shutdownGrace: string; logLevel: string; metrics?: string }) => {
      const level = o.logLevel.toUpperCase();
      if (!['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'].includes(level)) {
        ctx.badInput(`--log-level: ${JSON.stringify(o.logLevel)} is not one of TRACE, DEBUG, INFO, WARN, ERROR`);
      }
      if (!/^\d+(ms|s|m|h)$/.test(o.shutdownGrace)) ctx.badInput(`--shutdown-grace: ${JSON.stringify(o.shutdownGrace)} is not a duration like 30s or 2m`);
      if (o.metrics && !/^([A-Za-z0-9.-]*:)?\d{1,5}$/.test(o.metrics)) ctx.badInput(`--metrics: ${JSON.stringify(o.metrics)} is not an address like :9464`);
      const cfg = ctx.connectConfig();
      const [{ installRuntime }, { runWorker }] = await Promise.all([import('../../worker/runtime'), import('../../worker/run')]);
      installRuntime({ json: true, level: level as 'INFO', metricsAddress: o.metrics });
      const connection = await connectNative(cfg);
      try {
        await runWorker({
          connection,
          namespace: cfg.namespace,
          taskQueue: ctx.flags.taskQueue,
          stateDir: o.stateDir,
          shutdownGraceTime: o.shutdownGrace as '30s',
        });
      } finally {
        await connection.close();
      }
    });
}
