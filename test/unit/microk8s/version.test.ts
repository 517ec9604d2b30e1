import { parseMicrok8sVersion, versionCommand } from '../../../activities/microk8s/version';
import { labNode, node } from './node-fixture';

test('versionCommand calls microk8s by full path', () => {
  expect(versionCommand(node)).toBe('/snap/bin/microk8s version');
  expect(versionCommand(labNode)).toBe('/tmp/lab/root/snap/bin/microk8s version');
});

test('parses the observed sample', () => {
  expect(parseMicrok8sVersion('MicroK8s v1.32.8 revision 8355\n')).toEqual({
    version: 'v1.32.8',
    kube: { major: 1, minor: 32, patch: 8, raw: 'v1.32.8' },
    revision: '8355',
  });
});

test('old build suffix and pre-releases', () => {
  expect(parseMicrok8sVersion('MicroK8s v1.22.3-3+9ec7c40ec93c73 revision 2645').kube.minor).toBe(22);
  expect(parseMicrok8sVersion('MicroK8s v1.23.0-rc.0 revision 2349').kube.pre).toBe('rc.0');
});

test('anything else is UnexpectedOutput', () => {
  expect(() => parseMicrok8sVersion("'version' is not a valid MicroK8s subcommand.")).toThrow(/unexpected output from microk8s version/);
  expect(() => parseMicrok8sVersion('MicroK8s banana revision 1')).toThrow(/unexpected output/);
});
