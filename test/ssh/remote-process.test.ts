/** Builders and the PID-report parser behind ending remote commands (no sshd needed). */
import { execFileSync } from 'child_process';
import { PidReportParser, signalGroupLine, withSudo, wrapForKill } from '../../activities/ssh/remote-process';

test('the wrapper reports the shell PID on stderr, then runs the line unchanged', () => {
  const out = execFileSync('sh', ['-c', `{ ${wrapForKill('echo "it\'s" "$0" | tr a-z A-Z')}; } 2>&1`], { encoding: 'utf8' });
  expect(out).toMatch(/^__runbook_pgid=\d+\nIT'S SH\n$/);
});

test('the parser strips the report wherever startup output puts it, across chunk boundaries', () => {
  const p = new PidReportParser();
  let seen = '';
  for (const chunk of ['motd line\n__run', 'book_pgid=4', '242\nreal err', 'or\n']) seen += p.push(chunk);
  seen += p.flush();
  expect(p.pgid).toBe(4242);
  expect(seen).toBe('motd line\nreal error\n');
});

test('the parser passes output through when no report comes', () => {
  const p = new PidReportParser();
  expect(p.push('no report here\npartial') + p.flush()).toBe('no report here\npartial');
  expect(p.pgid).toBeUndefined();
});

test('signal lines target the group and refuse nonsense PIDs', () => {
  expect(signalGroupLine(1234, 'TERM')).toBe('kill -TERM -- -1234 2>/dev/null || kill -TERM 1234 2>/dev/null; exit 0');
  expect(() => signalGroupLine(1, 'KILL')).toThrow();
  expect(() => signalGroupLine(0, 'KILL')).toThrow();
  expect(() => signalGroupLine(12.5, 'KILL')).toThrow();
});

test('sudo prefixes a simple command and wraps anything compound in sh -c', () => {
  expect(withSudo("snap refresh microk8s '--channel=1.29/stable'")).toBe("sudo -n snap refresh microk8s '--channel=1.29/stable'");
  expect(withSudo("echo 'a|b;c'")).toBe("sudo -n echo 'a|b;c'");
  expect(withSudo('cat /x | sha256sum')).toBe("sudo -n sh -c 'cat /x | sha256sum'");
  expect(withSudo('a && b')).toBe("sudo -n sh -c 'a && b'");
  expect(withSudo('tar -cf - . > /tmp/x')).toBe("sudo -n sh -c 'tar -cf - . > /tmp/x'");
  expect(withSudo('echo $HOME')).toBe("sudo -n sh -c 'echo $HOME'");
});
