/** The one quoting function: whatever the value, it reaches the remote shell as exactly one word. */
import { execFileSync } from 'child_process';
import fc from 'fast-check';
import { andThen, command, pipeline, shellQuote } from '../../common/shell';

/** What /bin/sh makes of a command line: its argv, one per line (NUL-separated to be exact). */
function argvOf(line: string): string[] {
  const out = execFileSync('/bin/sh', ['-c', `printf '%s\\0' ${line}`], { encoding: 'utf8' });
  return out.split('\0').slice(0, -1);
}

test('plain words stay bare for readable audit lines', () => {
  expect(command('snap', 'refresh', 'microk8s', '--channel=1.29/stable')).toBe('snap refresh microk8s --channel=1.29/stable');
});

test('metacharacters are single-quoted, and single quotes are escaped', () => {
  expect(shellQuote("it's; rm -rf /")).toBe(`'it'\\''s; rm -rf /'`);
  expect(shellQuote('')).toBe("''");
  expect(shellQuote('$(id)')).toBe("'$(id)'");
});

test('a value shaped like NAME=value stays a word, not an environment assignment, even as the command itself', () => {
  expect(shellQuote('PATH=/tmp/evil')).toBe("'PATH=/tmp/evil'");
  expect(shellQuote('--channel=1.29/stable')).toBe('--channel=1.29/stable');
  // As the first word, sh must try to run a command named "X=1" rather than set X and run `echo`.
  const out = execFileSync('/bin/sh', ['-c', `${command('X=1', 'echo', 'ran')} 2>&1; echo "exit=$?"`], { encoding: 'utf8' });
  expect(out).not.toContain('ran\n');
  expect(out).toMatch(/exit=127/);
});

test('a NUL byte cannot be quoted', () => {
  expect(() => shellQuote('a\0b')).toThrow(/NUL/);
});

test('any string round-trips through a real shell as one argument', () => {
  fc.assert(
    fc.property(fc.array(fc.string({ unit: 'binary' }).filter((s) => !s.includes('\0')), { minLength: 1, maxLength: 4 }), (argv) => {
      expect(argvOf(argv.map(shellQuote).join(' '))).toEqual(argv);
    }),
    { numRuns: 150 },
  );
});

test('pipeline and andThen join already-quoted lines', () => {
  expect(pipeline(command('cat', 'a b'), command('sha256sum'))).toBe("cat 'a b' | sha256sum");
  expect(andThen(command('true'), command('echo', 'x;y'))).toBe("true && echo 'x;y'");
});
