import {
  isSnapNotInstalled,
  parseRefreshOutput,
  parseRevertOutput,
  parseSnapInfo,
  parseSnapList,
  refreshCommand,
  revertCommand,
  snapInfoCommand,
  snapListCommand,
} from '../../../activities/microk8s/snap';

describe('snap list', () => {
  test('builders', () => {
    expect(snapListCommand()).toBe('snap list microk8s');
    expect(snapListCommand({ all: true })).toBe('snap list --all microk8s');
  });
  test('observed sample', () => {
    const stdout = `Name      Version  Rev   Tracking     Publisher   Notes
microk8s  v1.23.3  2948  1.23/stable  canonical✓  classic
`;
    expect(parseSnapList(stdout)).toEqual({
      version: 'v1.23.3',
      revision: '2948',
      tracking: '1.23/stable',
      publisher: 'canonical',
      notes: ['classic'],
      disabled: false,
      rows: [{ version: 'v1.23.3', revision: '2948', tracking: '1.23/stable', publisher: 'canonical', notes: ['classic'], disabled: false }],
    });
  });
  test('non-UTF-8 locale marks the publisher with *', () => {
    const stdout = 'Name      Version  Rev   Tracking     Publisher   Notes\nmicrok8s  v1.23.3  2948  1.23/stable  canonical*  classic\n';
    expect(parseSnapList(stdout).publisher).toBe('canonical');
  });
  test('--all: the enabled row wins over retained disabled revisions with Tracking "-"', () => {
    const stdout = `Name      Version  Rev   Tracking     Publisher   Notes
microk8s  v1.28.5  6364  -            canonical✓  disabled,classic
microk8s  v1.29.1  6541  1.29/stable  canonical✓  classic
`;
    const l = parseSnapList(stdout);
    expect(l).toMatchObject({ version: 'v1.29.1', revision: '6541', tracking: '1.29/stable', disabled: false });
    expect(l.rows).toHaveLength(2);
    expect(l.rows[0]).toEqual({ version: 'v1.28.5', revision: '6364', publisher: 'canonical', notes: ['disabled', 'classic'], disabled: true });
  });
  test('during an auto-refresh the only row shows disabled,classic (#2891)', () => {
    const stdout = 'Name      Version  Rev   Tracking     Publisher   Notes\nmicrok8s  v1.23.3  2948  1.23/stable  canonical✓  disabled,classic\n';
    expect(parseSnapList(stdout)).toMatchObject({ revision: '2948', disabled: true, notes: ['disabled', 'classic'] });
  });
  test('not installed', () => {
    expect(() => parseSnapList('')).toThrow(/microk8s is not installed/);
    expect(isSnapNotInstalled('error: no matching snaps installed')).toBe(true);
  });
});

describe('snap info', () => {
  test('builder', () => {
    expect(snapInfoCommand()).toBe('snap info microk8s');
  });
  test('reference sample (#2476 + an installed line)', () => {
    const stdout = `name:      microk8s
summary:   Kubernetes for workstations and appliances
publisher: Canonical✓
snap-id:      EaXqgt1lyCaxKaQCU349mlodBkDCXRcg
tracking:     1.20/stable
refresh-date: 7 days ago, at 11:37 UTC
services:
  microk8s.daemon-cluster-agent:      simple, enabled, active
  microk8s.daemon-containerd:         simple, enabled, inactive
channels:
  1.21/stable:      v1.21.3         2021-07-27 (2346) 191MB classic
  1.22/stable:      –
  1.22/candidate:   v1.22.0-rc.0    2021-07-21 (2349) 197MB classic
  1.20/stable:      v1.20.9         2021-08-01 (2361) 221MB classic
installed:          v1.20.2             (2035) 217MB classic
`;
    expect(parseSnapInfo(stdout)).toEqual({
      tracking: '1.20/stable',
      installed: { version: 'v1.20.2', revision: '2035' },
      channels: {
        '1.21/stable': { version: 'v1.21.3', revision: '2346' },
        '1.22/stable': 'closed',
        '1.22/candidate': { version: 'v1.22.0-rc.0', revision: '2349' },
        '1.20/stable': { version: 'v1.20.9', revision: '2361' },
      },
    });
  });
  test('other installed padding, ↑ follows the channel above, latest and branches', () => {
    const stdout = `name:      microk8s
tracking:     latest/stable
channels:
  latest/stable:    v1.32.3         2025-04-01 (7964) 172MB classic
  latest/candidate: ↑
  latest/beta:      ^
  latest/edge:      --
  1.30/stable/hotfix: v1.30.6     2025-01-01 (7500) 170MB classic
installed:          v1.22.3                    (2645) 194MB classic
`;
    expect(parseSnapInfo(stdout)).toEqual({
      tracking: 'latest/stable',
      installed: { version: 'v1.22.3', revision: '2645' },
      channels: {
        'latest/stable': { version: 'v1.32.3', revision: '7964' },
        'latest/candidate': { version: 'v1.32.3', revision: '7964' },
        'latest/beta': { version: 'v1.32.3', revision: '7964' },
        'latest/edge': 'closed',
        '1.30/stable/hotfix': { version: 'v1.30.6', revision: '7500' },
      },
    });
  });
  test('not installed: no installed/tracking', () => {
    const info = parseSnapInfo('name:      microk8s\nchannels:\n  1.32/stable:      v1.32.3  2025-04-01 (7964) 172MB classic\n');
    expect(info.installed).toBeUndefined();
    expect(info.tracking).toBeUndefined();
  });
});

describe('refresh', () => {
  test('builder normalises and validates the channel', () => {
    expect(refreshCommand('1.29')).toBe('snap refresh microk8s --channel=1.29/stable');
    expect(refreshCommand('1.23/candidate')).toBe('snap refresh microk8s --channel=1.23/candidate');
    expect(() => refreshCommand('1.29/stable; reboot')).toThrow(/^channel: .* is not a MicroK8s snap channel/);
  });
  test('observed refresh (#4796), with the INFO line', () => {
    const stdout = `2024-12-20T22:59:40-05:00 INFO Waiting for "snap.microk8s.daemon-kubelite.service" to stop.
microk8s (1.32/stable) v1.32.0 from Canonical✓ refreshed
`;
    expect(parseRefreshOutput(stdout, '', 0)).toEqual({ outcome: 'refreshed', channel: '1.32/stable', version: 'v1.32.0' });
  });
  test('upgrade guide refresh to a candidate; non-UTF-8 publisher mark', () => {
    expect(parseRefreshOutput('microk8s (1.23/candidate) v1.23.0-rc.0 from Canonical✓ refreshed\n', '', 0)).toEqual({
      outcome: 'refreshed',
      channel: '1.23/candidate',
      version: 'v1.23.0-rc.0',
    });
    expect(parseRefreshOutput('microk8s (1.23/candidate) v1.23.0-rc.0 from Canonical* refreshed\n', '', 0).outcome).toBe('refreshed');
  });
  test('no updates', () => {
    expect(parseRefreshOutput('', 'snap "microk8s" has no updates available\n', 0)).toEqual({ outcome: 'no-updates' });
  });
  test('auto-refresh in progress (#2891)', () => {
    expect(parseRefreshOutput('', 'error: snap "microk8s" has "auto-refresh" change in progress\n', 1)).toEqual({
      outcome: 'change-in-progress',
      change: 'auto-refresh',
    });
  });
  test('only the channel changed', () => {
    expect(parseRefreshOutput('microk8s switched to the 1.29/candidate channel\n', '', 0)).toEqual({ outcome: 'switched', channel: '1.29/candidate' });
  });
  test('other errors fail with the error line; exit 0 with nothing recognisable throws', () => {
    expect(parseRefreshOutput('', 'error: requested channel "1.99/stable" is not available\n', 1)).toEqual({
      outcome: 'failed',
      message: 'error: requested channel "1.99/stable" is not available',
    });
    expect(() => parseRefreshOutput('', '', 0)).toThrow(/unexpected output from snap refresh/);
  });
});

describe('revert', () => {
  test('builder', () => {
    expect(revertCommand()).toBe('snap revert microk8s');
    expect(revertCommand({ revision: '6364' })).toBe('snap revert microk8s --revision=6364');
    expect(() => revertCommand({ revision: '63 64' })).toThrow(/^revision: "63 64" is not a snap revision/);
  });
  test.each([
    ['microk8s reverted to v1.28.5\n', 'v1.28.5'],
    ['microk8s reverted to v1.22.3\n', 'v1.22.3'],
  ])('%s', (stdout, version) => {
    expect(parseRevertOutput(stdout, '', 0)).toEqual({ outcome: 'reverted', version });
  });
  test('change in progress and failures', () => {
    expect(parseRevertOutput('', 'error: snap "microk8s" has "auto-refresh" change in progress\n', 1)).toEqual({
      outcome: 'change-in-progress',
      change: 'auto-refresh',
    });
    expect(parseRevertOutput('', 'error: no revision to revert to\n', 1)).toEqual({ outcome: 'failed', message: 'error: no revision to revert to' });
  });
});
