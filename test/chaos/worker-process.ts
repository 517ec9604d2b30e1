/**
 * The chaos driver's worker: one child process (worker-main.js) at a time, SIGKILLed and restarted on demand.
 * An exit the driver did not ask for (a crash, or the worker giving up on a lost server) is counted and the
 * worker is restarted too, so that the driver reports it instead of hanging.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export interface WorkerEnv {
  address: string;
  taskQueue: string;
  stateDir: string;
  bundlePath: string;
  logDir: string;
  grace?: string;
}

export class ChaosWorker {
  private child?: ChildProcess;
  private seq = 0;
  private stopping = false;
  kills = 0;
  unplannedExits: string[] = [];
  /** Wall time from spawn to `worker ready`, per start. */
  startMs: number[] = [];

  constructor(private readonly env: WorkerEnv) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Spawn and wait for `worker ready`. */
  async start(): Promise<void> {
    const n = ++this.seq;
    const log = fs.openSync(path.join(this.env.logDir, `worker-${n}.log`), 'w');
    const t0 = Date.now();
    const child = spawn(process.execPath, [path.join(__dirname, 'worker-main.js')], {
      stdio: ['ignore', 'pipe', log],
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: this.env.address,
        CHAOS_TASK_QUEUE: this.env.taskQueue,
        CHAOS_STATE_DIR: this.env.stateDir,
        CHAOS_BUNDLE: this.env.bundlePath,
        CHAOS_GRACE: this.env.grace ?? '2s',
      },
    });
    fs.closeSync(log);
    this.child = child;
    child.once('exit', (code, signal) => {
      if (this.child !== child || this.stopping || signal === 'SIGKILL') return;
      this.unplannedExits.push(`worker ${n} (pid ${child.pid}) exited by itself: code ${code}, signal ${signal}`);
      this.child = undefined;
      void this.start().catch(() => undefined);
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker ${n} not ready after 60 s (log: ${this.env.logDir}/worker-${n}.log)`)), 60_000);
      child.stdout!.on('data', (d: Buffer) => {
        if (d.toString().includes('worker ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', () => {
        clearTimeout(timer);
        resolve(); // counted above; the replacement takes over
      });
    });
    this.startMs.push(Date.now() - t0);
  }

  /** SIGKILL the current worker (no grace, no cleanup), then start a new one. */
  async killAndRestart(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await gone;
      this.kills++;
    }
    await this.start();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  }
}
