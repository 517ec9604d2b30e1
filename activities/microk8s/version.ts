/** `microk8s version` (behaviour reference §5): `MicroK8s v1.32.8 revision 8355`. */
import { NodeSpec, nodePaths } from '../../common/inventory';
import { command } from '../../common/shell';
import { KubeVersion, tryParseKubeVersion } from '../../common/versions';
import { UnexpectedOutputError, nonBlankLines } from './unexpected-output';

export function versionCommand(node: NodeSpec): string {
  return command(nodePaths(node).microk8s, 'version');
}

export interface MicroK8sVersion {
  /** As printed, e.g. `v1.32.8`. */
  version: string;
  kube: KubeVersion;
  /** Snap revision, a string (`x1` for sideloaded snaps). */
  revision: string;
}

export function parseMicrok8sVersion(stdout: string): MicroK8sVersion {
  for (const line of nonBlankLines(stdout)) {
    const m = /^MicroK8s (\S+) revision (x?\d+)$/.exec(line.trim());
    const kube = m && tryParseKubeVersion(m[1]);
    if (m && kube) return { version: m[1], kube, revision: m[2] };
  }
  throw new UnexpectedOutputError('microk8s version', stdout);
}
