/**
 * `runbook codec-server`: decrypts payloads for the Temporal Web UI (and `temporal --codec-endpoint`) with the same
 * keys as the worker. Bad flags or a missing key exit 2 before anything listens.
 */
import { LocalFileError, readLocalText } from '../../local/files';
import type { Command } from 'commander';
import { AesGcmPayloadCodec } from '../../codec/encryption';
import { CodecConfigError, loadKeyring } from '../../codec/keys';
import { DEFAULT_ALLOW_ORIGINS, DEFAULT_CODEC_HOST, DEFAULT_CODEC_PORT, startCodecServer, type RunningCodecServer } from '../../codec/server';

const BAD_INPUT = 2;

// What a browser sends as Origin: scheme, host and port only. A path or a trailing slash would never match.
const ORIGIN_PATTERN = /^https?:\/\/[^/\s?#]+$/;

export interface CodecServerFlags {
  port: string;
  host: string;
  allowOrigin?: string[];
  allowHost?: string[];
  authFile?: string;
}

const HOST_NAME = /^[A-Za-z0-9]([-A-Za-z0-9.]{0,251}[A-Za-z0-9])?$/;

/** Whether an address to bind stays on this machine. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function allowedOrigins(flags: CodecServerFlags): readonly string[] {
  return flags.allowOrigin?.length ? flags.allowOrigin : DEFAULT_ALLOW_ORIGINS;
}

/** Validates flags and environment, then listens. Throws CodecConfigError on bad input. */
export async function runCodecServer(flags: CodecServerFlags, env: Record<string, string | undefined> = process.env): Promise<RunningCodecServer> {
  const port = Number(flags.port);
  if (!/^\d+$/.test(flags.port) || port < 0 || port > 65535) {
    throw new CodecConfigError('--port', `"${flags.port}" is not a port; pass a number from 1 to 65535 (0 picks a free one)`);
  }
  const allowOrigins = allowedOrigins(flags);
  for (const origin of allowOrigins) {
    if (origin !== '*' && !ORIGIN_PATTERN.test(origin)) {
      throw new CodecConfigError(
        '--allow-origin',
        `${JSON.stringify(origin)} is not an origin; pass the UI's scheme://host[:port] without a path, e.g. http://localhost:8080, or "*" for any`,
      );
    }
  }
  const keyring = loadKeyring(env);
  if (!keyring) {
    throw new CodecConfigError('RUNBOOK_CODEC_KEY_FILE', 'no key is configured; set RUNBOOK_CODEC_KEY_FILE (or RUNBOOK_CODEC_KEY) to the key the worker uses');
  }
  let authorization: string | undefined;
  if (flags.authFile) {
    try {
      authorization = (await readLocalText(flags.authFile, 'auth file')).trim();
    } catch (e) {
      if (!(e instanceof LocalFileError)) throw e;
      throw new CodecConfigError('--auth-file', `${e.message}; it should be a file holding the exact Authorization header value, e.g. "Bearer <token>"`);
    }
    if (!authorization) throw new CodecConfigError('--auth-file', `${flags.authFile} is empty; put the Authorization header value in it`);
  }
  for (const host of flags.allowHost ?? []) {
    if (!HOST_NAME.test(host)) throw new CodecConfigError('--allow-host', `${JSON.stringify(host)} is not a host name; pass the name clients use, e.g. codec.internal`);
  }
  try {
    return await startCodecServer({
      codec: new AesGcmPayloadCodec(keyring),
      host: flags.host,
      port,
      allowOrigins,
      allowHosts: flags.allowHost,
      authorization,
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      throw new CodecConfigError('--port', `cannot listen on ${flags.host}:${port} (${code}); choose another --port or --host`);
    }
    throw err;
  }
}

export function registerCodecServerCommands(program: Command): void {
  program
    .command('codec-server')
    .description('Serve /decode and /encode so the Temporal Web UI shows encrypted payloads in plain text')
    .option('--port <port>', 'port to listen on', String(DEFAULT_CODEC_PORT))
    .option('--host <address>', 'address to bind; keep it local unless the server is behind authentication', DEFAULT_CODEC_HOST)
    .option(
      '--allow-origin <origin...>',
      `origin of a Web UI allowed to call it from the browser (CORS), repeatable; "*" allows any (default: ${DEFAULT_ALLOW_ORIGINS.join(', ')})`,
    )
    .option('--allow-host <name...>', 'a host name clients may use to reach it (besides localhost and IP addresses), repeatable')
    .option('--auth-file <file>', 'require this exact Authorization header value (read from the file)')
    .addHelpText(
      'after',
      [
        '',
        'Example:',
        '  RUNBOOK_CODEC_KEY_FILE=~/.config/runbook/codec.key runbook codec-server --port 8888',
        '  runbook dev --ui-codec-endpoint http://127.0.0.1:8888     # or: temporal server start-dev --ui-codec-endpoint ...',
        '  runbook codec-server --allow-origin http://localhost:8080  # a UI elsewhere (docker compose: port 8080)',
      ].join('\n'),
    )
    .action(async (flags: CodecServerFlags, cmd: Command) => {
      let running: RunningCodecServer;
      try {
        running = await runCodecServer(flags);
      } catch (err) {
        if (err instanceof CodecConfigError) cmd.error(`runbook codec-server: ${err.message}`, { exitCode: BAD_INPUT });
        throw err;
      }
      process.stdout.write(`codec server listening on ${running.url} (POST /decode, POST /encode)\n`);
      process.stdout.write(`UI: runbook dev --ui-codec-endpoint ${running.url}, or set it under "Data Encoder" in the UI\n`);
      process.stdout.write(`browsers allowed from: ${allowedOrigins(flags).join(', ')} (--allow-origin for a UI elsewhere)\n`);
      if (!isLoopback(flags.host) && !flags.authFile) {
        process.stderr.write(
          `WARNING: the codec server listens on ${flags.host} without --auth-file: anyone who can reach this address can decrypt every ` +
            'runbook payload with your key. Bind to 127.0.0.1, or require a token with --auth-file.\n',
        );
      }
      await new Promise<void>((resolve) => {
        const stop = () => void running.close().then(resolve, resolve);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
