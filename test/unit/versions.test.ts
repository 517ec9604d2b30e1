import {
  compareMinor,
  compareVersions,
  formatChannel,
  minorOf,
  normalizeChannel,
  parseChannel,
  parseKubeVersion,
  sameMinor,
  tryParseChannel,
  tryParseKubeVersion,
} from '../../common/versions';

describe('parseKubeVersion', () => {
  test.each([
    ['v1.32.3', { major: 1, minor: 32, patch: 3 }],
    ['v1.30.6', { major: 1, minor: 30, patch: 6 }],
    ['v1.22.3-3+9ec7c40ec93c73', { major: 1, minor: 22, patch: 3, build: '3+9ec7c40ec93c73' }],
    ['v1.20.1-34+e7db93d188d0d1', { major: 1, minor: 20, patch: 1, build: '34+e7db93d188d0d1' }],
    ['v1.24.0-2+59bbb3530b6769', { major: 1, minor: 24, patch: 0, build: '2+59bbb3530b6769' }],
    ['v1.22.0-rc.0', { major: 1, minor: 22, patch: 0, pre: 'rc.0' }],
    ['v1.23.0-beta.2', { major: 1, minor: 23, patch: 0, pre: 'beta.2' }],
    ['v1.23.0-alpha.3', { major: 1, minor: 23, patch: 0, pre: 'alpha.3' }],
    ['1.28.5', { major: 1, minor: 28, patch: 5 }],
  ])('%s', (raw, expected) => {
    const v = parseKubeVersion(raw);
    expect(v).toEqual({ ...expected, raw });
  });

  test('reads the pre-release-plus-build string kubectl showed after a refresh to 1.23/candidate', () => {
    // Upgrade guide step 4: outside the §8 regex, but a real kubeletVersion.
    expect(parseKubeVersion('v1.23.0-rc.0.2+f4d3c97c512f07')).toEqual({
      major: 1, minor: 23, patch: 0, pre: 'rc.0', build: '2+f4d3c97c512f07', raw: 'v1.23.0-rc.0.2+f4d3c97c512f07',
    });
    expect(minorOf('v1.23.0-rc.0.2+f4d3c97c512f07')).toEqual({ major: 1, minor: 23 });
    expect(compareVersions(parseKubeVersion('v1.23.0-rc.0.2+f4d3c97c512f07'), parseKubeVersion('v1.23.0-rc.0'))).toBe(0);
  });

  test.each(['', '1.28', 'v1.28', 'latest', 'v1.28.x', 'v1.28.3-foo', 'v1.28.3+abc', 'v1.28.3-rc.0.2'])('rejects %j naming the field', (raw) => {
    expect(tryParseKubeVersion(raw)).toBeUndefined();
    expect(() => parseKubeVersion(raw, 'nodes[0].version')).toThrow(/^nodes\[0\]\.version: .* is not a Kubernetes version/);
  });

  test('orders releases, patches and pre-releases; build suffixes do not count', () => {
    const sorted = ['v1.23.0', 'v1.22.3-3+9ec7c40ec93c73', 'v1.23.0-rc.0', 'v1.23.0-alpha.3', 'v1.23.0-beta.2', 'v1.22.10', 'v1.23.0-rc.1']
      .map((s) => parseKubeVersion(s))
      .sort(compareVersions)
      .map((v) => v.raw);
    expect(sorted).toEqual(['v1.22.3-3+9ec7c40ec93c73', 'v1.22.10', 'v1.23.0-alpha.3', 'v1.23.0-beta.2', 'v1.23.0-rc.0', 'v1.23.0-rc.1', 'v1.23.0']);
    expect(compareVersions(parseKubeVersion('v1.22.3-3+9ec7c40ec93c73'), parseKubeVersion('v1.22.3'))).toBe(0);
  });
});

describe('channels', () => {
  test.each([
    ['1.29', '1.29/stable', { major: 1, minor: 29 }, false],
    ['1.29/stable', '1.29/stable', { major: 1, minor: 29 }, false],
    ['1.23/candidate', '1.23/candidate', { major: 1, minor: 23 }, false],
    ['1.28-strict/stable', '1.28-strict/stable', { major: 1, minor: 28 }, true],
    ['1.28-strict', '1.28-strict/stable', { major: 1, minor: 28 }, true],
    ['latest/edge', 'latest/edge', undefined, false],
    ['latest', 'latest/stable', undefined, false],
    ['1.30/beta/hotfix-1', '1.30/beta/hotfix-1', { major: 1, minor: 30 }, false],
  ])('%s → %s', (raw, canonical, minor, strict) => {
    const ch = parseChannel(raw);
    expect(formatChannel(ch)).toBe(canonical);
    expect(normalizeChannel(raw)).toBe(canonical);
    expect(ch.minor).toEqual(minor);
    expect(ch.strict).toBe(strict);
  });

  test.each(['', '1.29/', '1.29/stabel', 'stable', '1.29/stable/a/b', 'v1.29/stable', '1.29/stable/x y', '1.29;rm -rf /', 'latest-strict/stable'])(
    'rejects %j with the field and the expected form',
    (raw) => {
      expect(tryParseChannel(raw)).toBeUndefined();
      expect(() => parseChannel(raw, 'upgrade.channel')).toThrow(/^upgrade\.channel: .* is not a MicroK8s snap channel; use <track>\/<risk>/);
    },
  );

  test('the error is a non-retryable InvalidInput failure, safe to throw from a workflow', () => {
    try {
      parseChannel('nope');
      throw new Error('expected a failure');
    } catch (e) {
      expect(e).toMatchObject({ type: 'InvalidInput', nonRetryable: true });
    }
  });
});

describe('minorOf / compareMinor / sameMinor', () => {
  test.each([
    ['1.28/stable', '1.28'],
    ['1.28-strict/edge', '1.28'],
    ['v1.28.5', '1.28'],
    ['v1.22.3-3+9ec7c40ec93c73', '1.22'],
    ['1.28', '1.28'],
  ])('%s → %s', (raw, minor) => {
    const m = minorOf(raw)!;
    expect(`${m.major}.${m.minor}`).toBe(minor);
  });
  test('latest and garbage have no minor', () => {
    expect(minorOf('latest/stable')).toBeUndefined();
    expect(minorOf('banana')).toBeUndefined();
  });
  test('compares numerically, not as strings', () => {
    expect(compareMinor({ major: 1, minor: 9 }, { major: 1, minor: 10 })).toBeLessThan(0);
    expect(sameMinor('v1.28.5', '1.28/candidate')).toBe(true);
    expect(sameMinor('v1.28.5', '1.29/stable')).toBe(false);
    expect(sameMinor('latest/stable', '1.29/stable')).toBe(false);
  });
});

