import { DEFAULT_PATHS, NodeSpec } from '../../../common/inventory';

/** A control-plane node with the default snap paths. */
export const node: NodeSpec = {
  name: 'k8s-1',
  address: '10.0.0.1',
  port: 22,
  user: 'root',
  role: 'controlplane',
  become: 'sudo',
  paths: { ...DEFAULT_PATHS },
};

/** A lab-style node whose snap lives under a directory with no special characters. */
export const labNode: NodeSpec = {
  ...node,
  name: 'k8s-2',
  paths: { ...DEFAULT_PATHS, snapBin: '/tmp/lab/root/snap/bin', snap: '/tmp/lab/root/snap/microk8s', snapData: '/tmp/lab/root/var/snap/microk8s' },
};
