/**
 * Property tests (fast-check) for the two defences against shell injection: `shellQuote` keeps any string one
 * literal word, and the schemas keep shell metacharacters out of every inventory field that reaches a shell.
 */
import { execFileSync } from 'child_process';
import fc from 'fast-check';
import { InventoryInput } from '../../common/inventory';
import { command, SHELL_META, shellQuote } from '../../common/shell';
import { formatChannel, tryParseChannel } from '../../common/versions';
import { normaliseChannel } from '../../common/upgrade';

const META = [...' \t\n\r;&|`$(){}<>\\\'"*?[]!#~='];
/** Strings rich in shell syntax, plus arbitrary Unicode (no NUL: no shell argument can hold one). */
const shellish = fc
  .oneof(
    fc.string({ unit: fc.constantFrom(...META, 'a', 'Z', '0', '-', '/', '.', 'é', '😀'), maxLength: 24 }),
    fc.string({ unit: 'binary', maxLength: 24 }),
    fc.string({ unit: 'grapheme-ascii', maxLength: 24 }),
  )
  .filter((s) => !s.includes('\0'));

/** The POSIX grammar of shellQuote's output: a bare word of safe characters, or only '…' and \' pieces. */
const ONE_WORD = /^(?:[A-Za-z0-9_./:=@%+,-]+|(?:'[^']*'|\\')+)$/;

test('every quoted string is a single word of the POSIX shell grammar', () => {
  fc.assert(
    fc.property(shellish, (s) => {
      expect(shellQuote(s)).toMatch(ONE_WORD);
    }),
    { numRuns: 2000 },
  );
});

test('sh gets back exactly the bytes that were quoted, one argument each (a sample run through sh -c)', () => {
  const samples = fc.sample(shellish, { numRuns: 300, seed: 8 });
  samples.push('', "'", "''", "a'b", '$(id)', '`id`', 'a b', '\n', '\\', '-n', '*', '~root', 'x;reboot');
  // One sh for the whole sample: printf prints each argument followed by a NUL, so word splits would show.
  const script = `printf '%s\\0' ${samples.map(shellQuote).join(' ')}`;
  const out = execFileSync('sh', ['-c', script]);
  const expected = Buffer.concat(samples.map((s) => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])])));
  expect(out.equals(expected)).toBe(true);
});

test('command() quotes every argument: an injected argument stays data', () => {
  const out = execFileSync('sh', ['-c', command('printf', '%s|', 'a;echo pwned', '$(echo pwned)', '`echo pwned`', "'; echo pwned; '")]);
  expect(out.toString()).toBe("a;echo pwned|$(echo pwned)|`echo pwned`|'; echo pwned; '|");
});

test('NUL is refused rather than truncated', () => {
  expect(() => shellQuote('a\0b')).toThrow(/NUL/);
});

/** Any string that contains at least one shell metacharacter somewhere. */
const withMeta = fc
  .tuple(fc.string({ maxLength: 8 }), fc.constantFrom(...META.filter((c) => SHELL_META.test(c))), fc.string({ maxLength: 8 }))
  .map(([a, m, b]) => `${a}${m}${b}`);

const base = () => ({
  cluster: 'prod',
  defaults: { user: 'ops' },
  nodes: [
    { name: 'k8s-1', address: '10.0.0.1' },
    { name: 'k8s-2', address: '10.0.0.2', role: 'worker' },
  ],
});
type Raw = ReturnType<typeof base> & Record<string, unknown>;

const FIELDS: Array<[string, (inv: Raw, v: string) => void]> = [
  ['cluster', (i, v) => (i.cluster = v)],
  ['nodes[].name', (i, v) => (i.nodes[0].name = v)],
  ['nodes[].address', (i, v) => (i.nodes[1].address = v)],
  ['nodes[].user', (i, v) => ((i.nodes[0] as Record<string, unknown>).user = v)],
  ['defaults.user', (i, v) => (i.defaults.user = v)],
  ['nodes[].jump.address', (i, v) => ((i.nodes[0] as Record<string, unknown>).jump = { address: v })],
  ['nodes[].paths.snapBin', (i, v) => ((i.nodes[0] as Record<string, unknown>).paths = { snapBin: `/snap/${v}` })],
  ['nodes[].paths.snap', (i, v) => ((i.nodes[0] as Record<string, unknown>).paths = { snap: `/${v}` })],
  ['defaults.paths.snapData', (i, v) => ((i.defaults as Record<string, unknown>).paths = { snapData: `/var/snap/${v}` })],
  ['defaults.identityFile', (i, v) => ((i.defaults as Record<string, unknown>).identityFile = `~/.ssh/${v}`)],
  ['knownHosts', (i, v) => (i.knownHosts = `/etc/ssh/${v}`)],
];

test('the base inventory is valid (so a rejection below is the injected value)', () => {
  expect(InventoryInput.safeParse(base()).success).toBe(true);
});

test.each(FIELDS)('no value with a shell metacharacter passes the schema in %s', (_field, put) => {
  fc.assert(
    fc.property(withMeta, (v) => {
      const inv = base() as Raw;
      put(inv, v);
      expect(InventoryInput.safeParse(inv).success).toBe(false);
    }),
    { numRuns: 300 },
  );
});

test('a channel with a shell metacharacter is refused, or normalised to a form without any', () => {
  fc.assert(
    fc.property(
      fc.oneof(withMeta, withMeta.map((v) => `1.29/${v}`), withMeta.map((v) => `1.${v}`), withMeta.map((v) => `${v}1.29/stable`)),
      (v) => {
        const parsed = tryParseChannel(v);
        if (parsed) expect(formatChannel(parsed)).not.toMatch(SHELL_META);
        let normalised: string | undefined;
        try {
          normalised = normaliseChannel(v);
        } catch {
          normalised = undefined;
        }
        if (normalised !== undefined) expect(normalised).not.toMatch(SHELL_META);
      },
    ),
    { numRuns: 2000 },
  );
  // Surrounding blanks are trimmed by snapd's own parser rules, never passed on.
  expect(formatChannel(tryParseChannel(' 1.29/stable\n')!)).toBe('1.29/stable');
});
