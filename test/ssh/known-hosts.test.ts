/** The known_hosts parser and matcher (no sshd needed). */
import { createHmac, randomBytes } from 'crypto';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  checkKnownHosts,
  entryMatchesHost,
  fingerprint,
  hostName,
  knownHostLine,
  knownKeyTypes,
  parseKnownHosts,
  preferredHostKeyAlgorithms,
} from '../../activities/ssh/known-hosts';
import { fingerprintOfPublicKey, generateKey } from '../../lab/sshd';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'known-hosts-test-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A real ed25519 public key: [type, base64, blob]. */
function key(name: string): { type: string; b64: string; blob: Buffer; line: string } {
  const file = path.join(dir, name);
  generateKey(file);
  const line = fs.readFileSync(`${file}.pub`, 'utf8').trim();
  const [type, b64] = line.split(/\s+/);
  return { type, b64, blob: Buffer.from(b64, 'base64'), line };
}

const a = key('a');
const b = key('b');

function hashed(host: string): string {
  const salt = randomBytes(20);
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(host).digest('base64')}`;
}

test('fingerprints agree with OpenSSH', () => {
  expect(fingerprint(a.blob)).toBe(fingerprintOfPublicKey(a.line));
  const keygen = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', path.join(dir, 'a.pub')], { encoding: 'utf8' });
  expect(keygen).toContain(fingerprint(a.blob));
});

test('host names: bare on port 22, [host]:port otherwise', () => {
  expect(hostName('10.0.0.1', 22)).toBe('10.0.0.1');
  expect(hostName('10.0.0.1', 2222)).toBe('[10.0.0.1]:2222');
});

test('parses plain, comma-listed, bracketed and hashed entries; skips comments, junk and mislabelled keys', () => {
  const text = [
    '# comment',
    '',
    `10.0.0.1 ${a.type} ${a.b64} comment here`,
    `10.0.0.2,[10.0.0.3]:2222 ${a.type} ${a.b64}`,
    `${hashed('10.0.0.4')} ${b.type} ${b.b64}`,
    `10.0.0.5 ssh-rsa ${a.b64}`, // the blob says ed25519: never trusted
    'garbage',
    `10.0.0.6 ${a.type} !!!notbase64`,
  ].join('\n');
  const entries = parseKnownHosts(text);
  expect(entries.map((e) => e.line)).toEqual([3, 4, 5]);
  expect(entries[0]).toMatchObject({ hosts: '10.0.0.1', keyType: 'ssh-ed25519' });
  expect(entries[0].key.equals(a.blob)).toBe(true);
});

test('matching: comma lists, [host]:port, wildcards, negation, hashes', () => {
  const [list, hash] = parseKnownHosts(
    [`10.0.0.2,[10.0.0.3]:2222,10.9.*,!10.9.0.7 ${a.type} ${a.b64}`, `${hashed('[10.0.0.4]:2200')} ${a.type} ${a.b64}`].join('\n'),
  );
  expect(entryMatchesHost(list, '10.0.0.2')).toBe(true);
  expect(entryMatchesHost(list, '[10.0.0.3]:2222')).toBe(true);
  expect(entryMatchesHost(list, '10.0.0.3')).toBe(false); // port 22 is a different host entry
  expect(entryMatchesHost(list, '10.0.0.20')).toBe(false);
  expect(entryMatchesHost(list, '10.9.1.1')).toBe(true);
  expect(entryMatchesHost(list, '10.9.0.7')).toBe(false);
  expect(entryMatchesHost(hash, '[10.0.0.4]:2200')).toBe(true);
  expect(entryMatchesHost(hash, '10.0.0.4')).toBe(false);
});

test('hashed lines written by ssh-keygen -H match', () => {
  const file = path.join(dir, 'kh-hash');
  fs.writeFileSync(file, `[10.1.2.3]:2222 ${a.type} ${a.b64}\n10.1.2.4 ${b.type} ${b.b64}\n`);
  execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
  const entries = parseKnownHosts(fs.readFileSync(file, 'utf8'));
  expect(entries.every((e) => e.hosts.startsWith('|1|'))).toBe(true);
  expect(checkKnownHosts(entries, '[10.1.2.3]:2222', a.blob).status).toBe('known');
  expect(checkKnownHosts(entries, '10.1.2.4', b.blob).status).toBe('known');
  expect(checkKnownHosts(entries, '10.1.2.3', a.blob).status).toBe('unknown');
});

test('verdicts: known, changed (with the expected fingerprint), unknown, revoked; cert-authority ignored', () => {
  const entries = parseKnownHosts(
    [
      `10.0.0.1 ${a.type} ${a.b64}`,
      `@cert-authority 10.0.0.9 ${a.type} ${a.b64}`,
      `@revoked * ${b.type} ${b.b64}`,
    ].join('\n'),
  );
  expect(checkKnownHosts(entries, '10.0.0.1', a.blob)).toEqual({ status: 'known', line: 1 });
  expect(checkKnownHosts(entries, '10.0.0.9', a.blob)).toEqual({ status: 'unknown' });
  expect(checkKnownHosts(entries, '10.0.0.2', b.blob)).toEqual({ status: 'revoked', line: 3 });
  const c = key('c');
  expect(checkKnownHosts(entries, '10.0.0.1', c.blob)).toEqual({ status: 'changed', expected: [fingerprint(a.blob)], lines: [1] });
});

test('recorded key types come first in the algorithm offer', () => {
  const entries = parseKnownHosts(`10.0.0.1 ssh-rsa ${rsaBlob()}\n`);
  expect(knownKeyTypes(entries, '10.0.0.1')).toEqual(['ssh-rsa']);
  expect(preferredHostKeyAlgorithms(['ssh-rsa']).slice(0, 3)).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
  expect(preferredHostKeyAlgorithms([])[0]).toBe('ssh-ed25519');
  expect(new Set(preferredHostKeyAlgorithms(['ssh-rsa'])).size).toBe(preferredHostKeyAlgorithms(['ssh-rsa']).length);
});

test('the appended line round-trips through the parser', () => {
  const line = knownHostLine('[10.0.0.1]:2222', a.blob);
  expect(line).toBe(`[10.0.0.1]:2222 ${a.type} ${a.b64}`);
  expect(checkKnownHosts(parseKnownHosts(line), '[10.0.0.1]:2222', a.blob).status).toBe('known');
});

/** A syntactically valid ssh-rsa blob (type name + fake exponent/modulus): only the type matters here. */
function rsaBlob(): string {
  const str = (s: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, s.length]), s]);
  return Buffer.concat([str(Buffer.from('ssh-rsa')), str(Buffer.from([1, 0, 1])), str(randomBytes(64))]).toString('base64');
}
