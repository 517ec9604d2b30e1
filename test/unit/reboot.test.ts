/** The reboot runbook's pure parts: the order of the waves, the boot id and sentinel parsers, the option schema, windows, selectors. */
import { parseBootId, parseRebootPkgs } from '../../activities/microk8s/reboot';
import { matchesSelector, parseSelector, RebootOptions, rebootOrder } from '../../common/reboot';
import { type MaintenanceWindow, msUntilFits, parseWindow } from '../../common/window';

test('control planes one at a time with the dqlite leader last, then workers in batches', () => {
  expect(rebootOrder(['k8s-1', 'k8s-2', 'k8s-3'], 'k8s-1', ['w1', 'w2', 'w3', 'w4', 'w5'], 2)).toEqual([['k8s-2'], ['k8s-3'], ['k8s-1'], ['w1', 'w2'], ['w3', 'w4'], ['w5']]);
  expect(rebootOrder(['k8s-1', 'k8s-2'], undefined, [], 3)).toEqual([['k8s-1'], ['k8s-2']]);
  expect(rebootOrder(['k8s-2'], 'k8s-1', ['w1'], 1)).toEqual([['k8s-2'], ['w1']]); // the leader needs none: not planned
});

test('a boot id is one UUID; anything else is unexpected output, not a boot id', () => {
  expect(parseBootId('4F2A9C1E-0B7D-4E55-9A3C-1D2E3F405162\n')).toBe('4f2a9c1e-0b7d-4e55-9a3c-1d2e3f405162');
  for (const bad of ['', 'cat: /proc/sys/kernel/random/boot_id: No such file or directory', '4f2a9c1e-0b7d-4e55-9a3c-1d2e3f405162 extra']) {
    expect(() => parseBootId(bad)).toThrow(/unexpected output from cat boot_id \(not a UUID\)/);
  }
});

test('the packages that asked for a reboot: one per line, each once', () => {
  expect(parseRebootPkgs('linux-image-6.8.0-49-generic\nlinux-base\nlinux-base\n\n')).toEqual(['linux-image-6.8.0-49-generic', 'linux-base']);
  expect(parseRebootPkgs('')).toEqual([]);
});

test('the option schema refuses what would hang, bloat or forge: multi-line, control characters, overlong commands', () => {
  expect(RebootOptions.safeParse({ maintenanceCommand: 'apt-get update && apt-get -y full-upgrade', workerBatch: 3 }).success).toBe(true);
  const problems = (o: Record<string, unknown>) => {
    const r = RebootOptions.safeParse(o);
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };
  expect(problems({ maintenanceCommand: 'a\nb' })).toEqual([expect.stringMatching(/^maintenanceCommand: must be one line of printable text/)]);
  expect(problems({ gateCommand: 'curl \u001b[2J' })).toEqual([expect.stringMatching(/^gateCommand: must be one line/)]);
  expect(problems({ gateCommand: 'x'.repeat(1001) })).toEqual([expect.stringMatching(/^gateCommand: is longer than 1000 characters/)]);
  expect(problems({ workerBatch: 0 })).toHaveLength(1);
  expect(problems({ bootTimeoutSeconds: 1 })).toHaveLength(1);
});

describe('maintenance windows', () => {
  const at = (iso: string) => Date.parse(iso);
  const min = 60_000;
  const w = parseWindow('Mon-Fri 02:00-05:00 UTC') as MaintenanceWindow;

  test('parse: days, times, zone; a bad window says how to write one', () => {
    expect(w).toMatchObject({ days: [1, 2, 3, 4, 5], startMin: 120, endMin: 300, offsetMin: 0 });
    expect(parseWindow('Sat,Sun 22:00-04:00 +02:00')).toMatchObject({ days: [0, 6], startMin: 1320, endMin: 240, offsetMin: 120 });
    expect(parseWindow('daily 01:00-03:00 UTC')).toMatchObject({ days: [0, 1, 2, 3, 4, 5, 6] });
    expect(parseWindow('Fri-Mon 01:00-03:00 UTC')).toMatchObject({ days: [0, 1, 5, 6] });
    expect(parseWindow('weekdays 02:00-05:00')).toMatch(/is not a window; use DAYS HH:MM-HH:MM ZONE, e\.g\. 'Mon-Fri 02:00-05:00 UTC'/);
    expect(parseWindow('Mon-Fri 02:00-25:00 UTC')).toMatch(/times are HH:MM from 00:00 to 23:59/);
    expect(parseWindow('Mo-Fr 02:00-05:00 UTC')).toMatch(/is not a list of days/);
    expect(parseWindow('Mon 02:00-02:00 UTC')).toMatch(/opens and closes at the same time/);
  });

  test('inside the window with room for the turn: go now; too close to the end or outside: wait for the next opening', () => {
    // 2026-12-03 is a Thursday.
    expect(msUntilFits(w, at('2026-12-03T02:30:00Z'), 30 * min)).toBe(0);
    expect(msUntilFits(w, at('2026-12-03T04:45:00Z'), 30 * min)).toBe(at('2026-12-04T02:00:00Z') - at('2026-12-03T04:45:00Z'));
    expect(msUntilFits(w, at('2026-12-03T12:00:00Z'), 30 * min)).toBe(at('2026-12-04T02:00:00Z') - at('2026-12-03T12:00:00Z'));
    // Friday after the window: Monday 02:00.
    expect(msUntilFits(w, at('2026-12-04T06:00:00Z'), 30 * min)).toBe(at('2026-12-07T02:00:00Z') - at('2026-12-04T06:00:00Z'));
    expect(msUntilFits(w, at('2026-12-03T02:30:00Z'), 4 * 60 * min)).toBeUndefined(); // never fits
  });

  test('a window across midnight in another zone opens on its day and is still open after midnight', () => {
    const night = parseWindow('Sat 22:00-04:00 +02:00') as MaintenanceWindow; // 20:00-02:00 UTC, opening Saturdays
    expect(msUntilFits(night, at('2026-12-05T23:30:00Z'), 60 * min)).toBe(0); // Sat 23:30 UTC = Sun 01:30 local: open
    expect(msUntilFits(night, at('2026-12-06T01:30:00Z'), 60 * min)).toBe(at('2026-12-12T20:00:00Z') - at('2026-12-06T01:30:00Z'));
  });
});

test('label selectors as kured takes them: equality and inequality, comma meaning and', () => {
  expect(matchesSelector({ app: 'backup', tier: 'db' }, 'app=backup')).toBe(true);
  expect(matchesSelector({ app: 'backup', tier: 'db' }, 'app=backup,tier!=db')).toBe(false);
  expect(matchesSelector({}, 'app!=backup')).toBe(true);
  expect(parseSelector('app in (a,b)')).toBeUndefined();
});
