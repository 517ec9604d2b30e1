/** Smaller hostile-input fixes (issue 11, "weaker"): advice that is safe to paste, and UI links that name the right port. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { HostKeyVerifier } from '../../activities/ssh/host-key';
import { knownHostLine } from '../../activities/ssh/known-hosts';
import { devUiFile, devUiUrl } from '../../cli/dev-server';

/** An ed25519 public key blob (SSH wire format) with 32 given bytes. */
function blob(fill: number): Buffer {
  const type = Buffer.from('ssh-ed25519');
  const key = Buffer.alloc(32, fill);
  const len = (n: number) => Buffer.from([0, 0, 0, n]);
  return Buffer.concat([len(type.length), type, len(32), key]);
}

test('a changed host key: the ssh-keygen -R advice quotes [host]:port, so a shell does not glob it', () => {
  const recorded = knownHostLine('[127.0.9.1]:2222', blob(1));
  const v = new HostKeyVerifier({ label: 'k8s-1', address: '127.0.9.1', port: 2222, knownHostsFile: '/tmp/kh', policy: 'strict' }, `${recorded}\n`);
  let ok: boolean | undefined;
  v.verify(blob(2), (r) => (ok = r));
  expect(ok).toBe(false);
  expect(v.failure?.message).toContain("(ssh-keygen -R '[127.0.9.1]:2222' -f /tmp/kh)");
});

test('UI links follow the --ui-port of the runbook dev serving this address, and only that address', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dev-ui-'));
  try {
    fs.mkdirSync(path.dirname(devUiFile(dir)), { recursive: true });
    fs.writeFileSync(devUiFile(dir), JSON.stringify({ address: '127.0.0.1:7243', ui: 'http://localhost:8243' }));
    expect(devUiUrl(dir, 'localhost:7243')).toBe('http://localhost:8243');
    expect(devUiUrl(dir, '127.0.0.1:7233')).toBeUndefined();
    fs.writeFileSync(devUiFile(dir), JSON.stringify({ address: '127.0.0.1:7243', ui: 'javascript:alert(1)' }));
    expect(devUiUrl(dir, '127.0.0.1:7243')).toBeUndefined();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
