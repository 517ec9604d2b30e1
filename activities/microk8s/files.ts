/**
 * Files on a node as the engine touches them: the dqlite backend, its own markers, transfers (§7). Builders only:
 * tar, cp, mv, rm and the shell stay real, and every path passes through the one quoting function.
 */
import { command } from '../../common/shell';

/** Read a file that may be missing: empty output then. */
export function readFileCommand(file: string): string {
  return `${command('cat', '--', file)} 2>/dev/null`;
}

/** Stream a file out (a transfer: a missing file is an error). */
export function catCommand(file: string): string {
  return command('cat', file);
}

export function fileExistsCommand(path: string): string {
  return command('test', '-e', path);
}

export function dirExistsCommand(path: string): string {
  return command('test', '-d', path);
}

export function makeDirCommand(dir: string): string {
  return command('mkdir', '-p', dir);
}

export function removeTreeCommand(path: string): string {
  return command('rm', '-rf', path);
}

export function removeFilesCommand(...paths: string[]): string {
  return command('rm', '-f', ...paths);
}

export function moveCommand(from: string, to: string): string {
  return command('mv', '-f', from, to);
}

/** A copy that keeps owner, mode and times (`cp -p`). */
export function copyKeepingCommand(from: string, to: string): string {
  return command('cp', '-p', from, to);
}

export function sha256Command(path: string): string {
  return command('sha256sum', path);
}

/** Write stdin to a file atomically: into a temp file beside it, then `mv`. The path is a positional argument. */
export function writeFileCommand(path: string): string {
  return command('sh', '-c', 'cat > "$1.runbook-tmp" && mv -f "$1.runbook-tmp" "$1"', 'sh', path);
}

/** Write stdin to exactly this path (a transfer's temp file: the caller verifies and moves it). */
export function receiveFileCommand(path: string): string {
  return command('sh', '-c', 'cat > "$1"', 'sh', path);
}

/** The backend directory as a tar stream on stdout (the dqlite socket left out). */
export function tarDirectoryCommand(dir: string): string {
  return command('tar', '-C', dir, '--exclude=./kine.sock', '-cf', '-', '.');
}

/** Unpack a tar stream from stdin into `dir`, keeping permissions. */
export function untarIntoCommand(dir: string): string {
  return command('tar', '-C', dir, '-xpf', '-');
}

/** Does the node answer at all (a command that does nothing)? */
export const TRUE_COMMAND = command('true');
