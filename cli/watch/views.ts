/**
 * Three ways to show the same watch: a screen redrawn in place (a terminal), plain appending lines (pipes, logs,
 * CI), and JSON lines (`--json`, one event per change). The follow loop feeds all three the same way.
 */
import { eventLines, type WatchEvent } from './events';
import { fitFrame, renderFrame, type FrameInput } from './frame';
import { durationOf, summaryLines, type Ending } from './summary';

export interface WatchView {
  /** Every poll: the latest state and what changed since the last call. */
  update(frame: FrameInput, events: WatchEvent[]): void;
  /** A line for the operator ("approved by ..."). */
  message(line: string): void;
  /** Stop drawing over the last frame (something else, a prompt, writes below it). */
  release(): void;
  /** The end: the summary (or the final event). */
  end(ending: Ending, result?: unknown): void;
}

export type Write = (text: string) => void;

export interface TerminalSize {
  columns?: number;
  rows?: number;
}

// ANSI: cursor to the start of the line N lines up, then clear to the end of the screen.
const up = (n: number) => `\x1b[${n}F\x1b[J`;

/** Redraws the frame in place: moves up over the previous frame and writes the new one. */
export class TerminalView implements WatchView {
  private height = 0;

  constructor(
    private readonly write: Write,
    private readonly size: () => TerminalSize,
  ) {}

  update(frame: FrameInput): void {
    const { columns = 100, rows = 40 } = this.size();
    const lines = fitFrame(renderFrame(frame), columns, rows);
    this.write(`${this.height ? up(this.height) : ''}${lines.join('\n')}\n`);
    this.height = lines.length;
  }

  message(line: string): void {
    // Above the next frame: the message stays, the frame is drawn again below it.
    this.write(`${this.height ? up(this.height) : ''}${line}\n`);
    this.height = 0;
  }

  release(): void {
    this.height = 0;
  }

  end(ending: Ending): void {
    this.height = 0;
    this.write(`\n${summaryLines(ending).join('\n')}\n`);
  }
}

/** One line per change; the same lines whatever the terminal. */
export class LineView implements WatchView {
  constructor(private readonly write: Write) {}

  update(_frame: FrameInput, events: WatchEvent[]): void {
    const lines = events.flatMap(eventLines);
    if (lines.length) this.write(`${lines.join('\n')}\n`);
  }

  message(line: string): void {
    this.write(`${line}\n`);
  }

  release(): void {}

  end(ending: Ending): void {
    this.write(`${summaryLines(ending).join('\n')}\n`);
  }
}

/** One JSON object per line and per event, ending with a `final` event that carries the result. */
export class JsonLinesView implements WatchView {
  constructor(
    private readonly workflowId: string,
    private readonly write: Write,
    private readonly say: Write,
    private readonly now: () => number = Date.now,
  ) {}

  private emit(e: WatchEvent): void {
    this.write(`${JSON.stringify({ time: new Date(this.now()).toISOString(), workflowId: this.workflowId, ...e })}\n`);
  }

  update(_frame: FrameInput, events: WatchEvent[]): void {
    for (const e of events) this.emit(e);
  }

  message(line: string): void {
    this.say(`${line}\n`);
  }

  release(): void {}

  end(ending: Ending, result?: unknown): void {
    const durationMs = durationOf(ending);
    this.emit({
      type: 'final',
      status: ending.status,
      exitCode: ending.exitCode,
      ...(durationMs !== undefined ? { durationMs } : {}),
      ...(ending.message ? { message: ending.message } : {}),
      ...(result !== undefined ? { result } : {}),
    });
  }
}

export interface ViewChoice {
  /** `watch --json`: JSON lines on stdout. */
  jsonLines?: boolean;
  /** A start with `--json`: stdout is kept for the result, so progress goes to stderr. */
  json?: boolean;
}

type Stream = NodeJS.WriteStream;

function onStream(s: Stream): WatchView {
  // TERM=dumb (Emacs shells, some CI) cannot move the cursor: append lines there.
  const ansi = s.isTTY && process.env.TERM !== 'dumb';
  const write = (t: string) => void s.write(t);
  return ansi ? new TerminalView(write, () => ({ columns: s.columns, rows: s.rows })) : new LineView(write);
}

/** The view for this process: redraw on a terminal, lines elsewhere, JSON lines when asked. */
export function chooseView(workflowId: string, c: ViewChoice, out: Stream = process.stdout, err: Stream = process.stderr): WatchView {
  if (c.jsonLines) return new JsonLinesView(workflowId, (t) => void out.write(t), (t) => void err.write(t));
  return onStream(c.json ? err : out);
}
