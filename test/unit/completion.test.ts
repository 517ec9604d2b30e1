/** Shell completion generated from the commander program, and an example in every command's --help. */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Command } from 'commander';
import { bashScript, commandTree, zshScript } from '../../cli/commands/completion';
import { buildProgram } from '../../cli/program';

const { program } = buildProgram();
let dir: string;
let bashFile: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'completion-'));
  bashFile = path.join(dir, 'runbook.bash');
  fs.writeFileSync(bashFile, bashScript(program));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** What bash offers for `words`, the last one being completed. */
function complete(...words: string[]): string[] {
  const quoted = words.map((w) => `'${w}'`).join(' ');
  const out = execFileSync('bash', ['-c', `source "$1"; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _runbook_complete; printf '%s\\n' "\${COMPREPLY[@]}"`, 'x', bashFile], {
    encoding: 'utf8',
    cwd: dir,
  });
  return out.split('\n').filter(Boolean);
}

test('the bash script is valid bash and registers itself', () => {
  execFileSync('bash', ['-n', bashFile]);
  expect(bashScript(program)).toMatch(/^complete -o default -F _runbook_complete runbook$/m);
});

test('bash completes commands, subcommands, options (global ones too) and option values from the program', () => {
  const top = complete('runbook', '');
  for (const c of ['check', 'upgrade', 'watch', 'list', 'status', 'approve', 'lab', 'worker', 'completion', 'history']) expect(top).toContain(c);
  expect(complete('runbook', 'wa')).toEqual(['watch']);
  expect(complete('runbook', 'lab', '')).toEqual(expect.arrayContaining(['up', 'down', 'status', 'fault', 'heal']));
  expect(complete('runbook', '--address', 'x:1', 'lab', 'up', '--con')).toEqual(['--control-planes', '--config-file']);
  expect(complete('runbook', 'list', '--status', 't')).toEqual(['terminated', 'timed-out']);
  expect(complete('runbook', 'watch', '--')).toEqual(expect.arrayContaining(['--json', '--help', '--namespace', '--task-queue']));
  expect(complete('runbook', 'completion', '')).toEqual(['bash', 'zsh']);
  // A value is never taken for a command: "lab" after --task-queue is the queue's name.
  expect(complete('runbook', '--task-queue', 'lab', '')).toContain('check');
});

test('the zsh script covers the same tree and hands itself to compdef', () => {
  const z = zshScript(program);
  expect(z.startsWith('#compdef runbook\n')).toBe(true);
  expect(z).toContain("'watch:Follow a runbook until it ends");
  expect(z).toMatch(/compdef _runbook runbook/);
  // zsh is not installed here: at least the shared table functions must be valid POSIX-ish shell for bash.
  const tables = z.slice(z.indexOf('_runbook_subcommands() {'), z.indexOf('\n_runbook() {'));
  execFileSync('bash', ['-n', '-c', tables]);
  for (const spec of commandTree(program)) if (spec.path) expect(z).toContain(`'${spec.path}')`);
});


function helpOf(cmd: Command): string {
  let text = '';
  cmd.configureOutput({ writeOut: (t) => (text += t), writeErr: (t) => (text += t) });
  cmd.outputHelp();
  return text;
}

test('--help on every command shows an example', () => {
  const missing = commandTree(program)
    .filter((t) => t.path)
    .filter((t) => !/\nExamples?:\n {2}\S/.test(helpOf(t.path.split(' ').reduce<Command>((c, n) => c.commands.find((s) => s.name() === n)!, program))));
  expect(missing.map((t) => t.path)).toEqual([]);
  expect(helpOf(program)).toMatch(/\nExamples:\n {2}runbook dev/);
});
