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

/**
 * What real zsh offers for `words` (the last one being completed): the script is sourced with zsh's completion
 * builtins (compadd, _describe, _files, compdef) replaced by functions that print what they were given.
 */
function zshOffers(...words: string[]): string {
  const harness = [
    'compdef() { :; }',
    'compadd() { [[ "$1" == "--" ]] && shift; print -r -- "ADD ${(j: :)@}"; }',
    '_describe() { print -r -- "DESCRIBE ${(j: :)${(@)${(P)4}%%:*}}"; }',
    '_files() { print -r -- "FILES"; }',
    `source ${zshFile}`,
    'words=("$@"); CURRENT=${#words}',
    '_runbook',
  ].join('\n');
  return execFileSync('zsh', ['-f', '-c', harness, 'zsh', ...words], { encoding: 'utf8' }).trim();
}

let zshFile: string;
test('the zsh script, run by zsh, offers commands, subcommands, options and values', () => {
  // zsh comes from .ci/run (apt-get install zsh); a machine without it fails here rather than skipping.
  zshFile = path.join(dir, '_runbook');
  const z = zshScript(program);
  fs.writeFileSync(zshFile, z);
  expect(z.startsWith('#compdef runbook\n')).toBe(true);
  expect(z).toMatch(/compdef _runbook runbook/);
  for (const spec of commandTree(program)) if (spec.path) expect(z).toContain(`'${spec.path}')`);
  execFileSync('zsh', ['-n', zshFile]);
  expect(zshOffers('runbook', '')).toMatch(/^DESCRIBE check form remove-node upgrade .*\bwatch\b.*\bcompletion help$/);
  expect(zshOffers('runbook', 'lab', '')).toBe('DESCRIBE up down status journal list fault heal rebuild');
  expect(zshOffers('runbook', 'list', '--status', 't')).toBe('ADD running failed completed cancelled terminated timed-out');
  expect(zshOffers('runbook', 'watch', '--')).toMatch(/^ADD --json --help .*--namespace.*--task-queue/);
  // A value is never taken for a command: "lab" after --task-queue is the queue's name.
  expect(zshOffers('runbook', '--task-queue', 'lab', '')).toMatch(/^DESCRIBE check form /);
  expect(zshOffers('runbook', 'upgrade', '--inventory', '')).toBe('FILES');
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
