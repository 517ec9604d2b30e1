/**
 * snapd's refresh control as the behaviour reference §14 gives it: the `--hold`/`--unhold` texts per snap and
 * system-wide, Go duration grammar, how holds read back (`snap info` hold line after refresh-date, `snap list`
 * Notes `held`, `snap refresh --time`, `snap get system refresh.hold`), `snap set system` validation, and what a
 * hold blocks: auto-refresh and a bare `snap refresh`, not `snap refresh microk8s`.
 */
import { execEach, useLab } from '../support/lab';

const lab = useLab({ controlPlanes: 1, workers: 2 });
const run = (node: string, cmds: string[]) => execEach(lab(), node, cmds);
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

describe('snap refresh holds (§14)', () => {
  it('per-snap hold: texts, info hold line after refresh-date, list Notes held, unhold', async () => {
    const [hold, info, list, until, info2, unhold, list2] = await run('k8s-w1', [
      'sudo -n snap refresh --hold microk8s',
      'snap info microk8s',
      'snap list microk8s',
      'sudo -n snap refresh --hold=72h microk8s',
      'snap info --abs-time microk8s',
      'sudo -n snap refresh --unhold microk8s',
      'snap list microk8s',
    ]);
    expect([hold.code, hold.stdout]).toEqual([0, 'General refreshes of "microk8s" held indefinitely\n']);
    const lines = info.stdout.split('\n');
    const at = lines.findIndex((l) => l.startsWith('refresh-date: '));
    expect(lines[at + 1]).toBe('hold:         forever');
    expect(list.stdout.split('\n')[1]).toMatch(/\sclassic,held$/);
    const m = /^General refreshes of "microk8s" held until (\S+)\n$/.exec(until.stdout)!;
    expect(m[1]).toMatch(RFC3339);
    expect(Math.abs(Date.parse(m[1]) - (Date.now() + 72 * 3_600_000))).toBeLessThan(60_000);
    expect(info2.stdout).toContain(`\nhold:         ${m[1]}\n`);
    expect([unhold.code, unhold.stdout]).toEqual([0, 'Removed general refresh hold of "microk8s"\n']);
    expect(list2.stdout.split('\n')[1]).toMatch(/\sclassic$/);
  });

  it('refuses days, sub-second holds and mixed flags with snap’s texts; nothing is held', async () => {
    const [days, tiny, mixed, mixed2, list] = await run('k8s-w1', [
      'sudo -n snap refresh --hold=2d microk8s',
      'sudo -n snap refresh --hold=500ms microk8s',
      'sudo -n snap refresh --hold --channel=1.29/stable microk8s',
      'sudo -n snap refresh --unhold --channel=1.29/stable microk8s',
      'snap list microk8s',
    ]);
    expect([days.code, days.stderr]).toEqual([1, 'error: hold value must be a number of hours, minutes or seconds, or "forever": time: unknown unit "d" in duration "2d"\n']);
    expect([tiny.code, tiny.stderr]).toEqual([1, 'error: cannot hold refreshes for less than a second: 500ms\n']);
    expect([mixed.code, mixed.stderr]).toEqual([1, 'error: cannot use --hold with other flags\n']);
    expect([mixed2.code, mixed2.stderr]).toEqual([1, 'error: cannot use --unhold with other flags\n']);
    expect(list.stdout).not.toContain('held');
  });

  it('system-wide hold: its texts, refresh --time, snap get; it blocks auto-refresh only', async () => {
    const [hold, time, get, before] = await run('k8s-w2', [
      'sudo -n snap refresh --hold=24h',
      'snap refresh --time',
      'snap get system refresh.hold',
      'snap list microk8s',
    ]);
    const m = /^Auto-refresh of all snaps held until (\S+)\n$/.exec(hold.stdout)!;
    expect(m[1]).toMatch(RFC3339);
    expect(time.stdout).toMatch(/^timer: 00:00~24:00\/4\nlast: n\/a\nhold: (today|tomorrow) at \d\d:\d\d UTC\nnext: .+ \(but held\)\n$/);
    expect([get.code, get.stdout]).toEqual([0, `${m[1]}\n`]);
    const version = before.stdout.split('\n')[1].split(/\s+/)[1];
    await lab().fault('k8s-w2', 'auto-refresh');
    expect((await lab().status()).nodes.find((n) => n.name === 'k8s-w2')!.version).toBe(version);
    expect(lab().journal().some((e) => e.event === 'auto-refresh-held' && e.node === 'k8s-w2' && e.hold === m[1])).toBe(true);
    // The system hold does not stop a bare `snap refresh`.
    const [bare, unhold, get2] = await run('k8s-w2', ['sudo -n snap refresh', 'sudo -n snap refresh --unhold', 'snap get system refresh.hold']);
    expect(bare.code).toBe(0);
    expect(bare.stdout).toMatch(/^microk8s \(1\.28\/stable\) v1\.28\.\d+ from Canonical✓ refreshed\n$/);
    expect([unhold.code, unhold.stdout]).toEqual([0, 'Removed auto-refresh hold on all snaps\n']);
    expect([get2.code, get2.stderr]).toEqual([1, 'error: snap "core" has no "refresh.hold" configuration option\n']);
  });

  it('a snap hold blocks a bare snap refresh, not snap refresh microk8s', async () => {
    const [, bare, named] = await run('k8s-1', ['sudo -n snap refresh --hold microk8s', 'sudo -n snap refresh', 'sudo -n snap refresh microk8s']);
    expect([bare.code, bare.stdout, bare.stderr]).toEqual([0, '', 'All snaps up to date.\n']);
    expect([named.code, named.stdout]).toEqual([0, expect.stringMatching(/ refreshed\n$/)]);
  });

  it('snap set system validates refresh.metered and refresh.hold; refresh.timer reads back in --time', async () => {
    const [metered, badHold, timer, time, setAsUser] = await run('k8s-1', [
      'sudo -n snap set system refresh.metered=maybe',
      'sudo -n snap set system refresh.hold=2050-13-45',
      'sudo -n snap set system refresh.timer=fri5,22:00-23:00',
      'snap refresh --time',
      'snap set system refresh.timer=mon',
    ]);
    expect([metered.code, metered.stderr]).toEqual([1, 'error: cannot perform the following tasks:\n- Run configure hook of "core" snap (refresh.metered value "maybe" is invalid)\n']);
    expect(badHold.code).toBe(1);
    expect(badHold.stderr).toContain('refresh.hold cannot be parsed');
    expect(timer.code).toBe(0);
    expect(time.stdout.split('\n')[0]).toBe('timer: fri5,22:00-23:00');
    expect([setAsUser.code, setAsUser.stderr]).toEqual([1, 'error: access denied (try with sudo)\n']);
  });
});
