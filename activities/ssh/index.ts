// Placeholder until the SSH layer lands: the real SshPool replaces this file.
import type { NodeSpec } from '../../common/inventory';
import type { NodeSession, SshPoolOptions, TrustSettings } from './types';
export * from './types';

export class SshPool {
  constructor(readonly options: SshPoolOptions = {}) {}
  session(_node: NodeSpec, _trust: TrustSettings): NodeSession {
    throw new Error('SshPool not implemented yet');
  }
  async close(): Promise<void> {}
}
