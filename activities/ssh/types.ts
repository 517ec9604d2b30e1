/**
 * The contract of the one SSH layer. Activities get a NodeSession from the pool and run quoted command
 * lines (built with common/shell.ts) on it. Implementation: activities/ssh/*.ts on ssh2.
 */
import type { ClientChannel } from 'ssh2';
import type { Readable, Writable } from 'stream';
import type { CommandRecord } from '../../common/audit';
import type { HostKeyPolicy, NodeSpec } from '../../common/inventory';
import type { PooledConnection } from './connection';

export interface TrustSettings {
  /** OpenSSH known_hosts file (hashed entries and [host]:port supported). Default ~/.ssh/known_hosts. */
  knownHosts?: string;
  hostKeyPolicy: HostKeyPolicy;
}

/** Whether a command runs as root is not an option: the session decides from the command itself (privilege.ts). */
export interface RunOptions {
  /** Per-command timeout; the remote process is ended when it fires. Default 120 s. */
  timeoutMs?: number;
  stdin?: string | Buffer;
  /** Strings (tokens) replaced by `<redacted>` in records, heartbeats and errors. */
  redact?: string[];
  /**
   * A probe (polling, state reads): recorded without its output, and consecutive identical probes with the same
   * exit code are folded into one record (`repeated`). Default false.
   */
  quiet?: boolean;
}

export interface ExecResult {
  exitCode: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface NodeSession {
  readonly node: NodeSpec;
  /**
   * Run a command line. A non-zero exit is returned, not thrown. Connection problems throw an
   * ApplicationFailure typed from common/constants FailureType (auth and host-key failures non-retryable).
   * Inside an activity it heartbeats progress ({ node, bytes, lastLine }, redacted) and ends the remote
   * process when the activity is cancelled.
   */
  run(commandLine: string, opts?: RunOptions): Promise<ExecResult>;
  /** Like run, but a non-zero exit throws an ApplicationFailure of type CommandFailed naming node, command and stderr tail. */
  check(commandLine: string, opts?: RunOptions): Promise<ExecResult>;
  /** Stream a remote command's stdout into `dest` (e.g. `tar -C dir -cf - .`). */
  download(commandLine: string, dest: Writable, opts?: RunOptions): Promise<ExecResult & { bytes: number }>;
  /** Stream `src` into a remote command's stdin (e.g. `cat > file`). */
  upload(commandLine: string, src: Readable, opts?: RunOptions): Promise<ExecResult>;
  /** The commands run through this session so far, for activity results (the audit trail). */
  readonly records: CommandRecord[];
}

export interface SshPoolOptions {
  /** Close pooled connections idle for this long. Default 60 s. */
  idleTimeoutMs?: number;
  /** SSH handshake and authentication must finish within this. Default 15 s. */
  connectTimeoutMs?: number;
  /** SSH keepalive while a connection is pooled, so a half-open connection is noticed. Default 15 s. */
  keepaliveIntervalMs?: number;
  /** Concurrent commands per connection (OpenSSH's MaxSessions is 10; two are kept for `kill`). Default 8. */
  maxChannelsPerConnection?: number;
}

/** What a session needs from the pool: an exec channel on a live connection to its node. */
export interface ChannelOpener {
  openChannel(node: NodeSpec, trust: TrustSettings, line: string): Promise<{ conn: PooledConnection; channel: ClientChannel }>;
}
