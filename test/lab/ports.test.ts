/**
 * The nodes' MicroK8s ports are real listeners (lab/listeners.ts): 25000, 19001 and 16443 accept while the services
 * run and refuse once they are stopped or the machine crashed, so a probe that is not the lab's `nc` (bash's
 * /dev/tcp, run from another node over SSH) judges for real, and agrees with `nc -z`.
 */
import { useLab, waitFor } from '../support/lab';

const lab = useLab({ controlPlanes: 3, formed: true });
const address = (node: string) => lab().inventory.nodes.find((n) => n.name === node)!.address;
const PORTS = [25000, 19001, 16443];

/** From k8s-1: for each port of `node`, 'open' or 'closed', by bash's /dev/tcp and by nc -z. */
async function probe(node: string): Promise<{ devTcp: string[]; nc: string[] }> {
  const ip = address(node);
  const line = (p: number) =>
    `if timeout 2 bash -c ': </dev/tcp/${ip}/${p}' 2>/dev/null; then echo open; else echo closed; fi; ` +
    `if nc -z -w 2 ${ip} ${p}; then echo open; else echo closed; fi`;
  const r = await lab().exec('k8s-1', PORTS.map(line).join('; '));
  const words = r.stdout.trim().split('\n');
  return { devTcp: words.filter((_, i) => i % 2 === 0), nc: words.filter((_, i) => i % 2 === 1) };
}

const settled = (node: string, want: string) =>
  waitFor(`${node} ports ${want}`, async () => {
    const p = await probe(node);
    return p.devTcp.every((w) => w === want) && p.nc.every((w) => w === want) ? p : undefined;
  }, 10_000, 100);

describe('real listeners on the MicroK8s ports', () => {
  it('listen while the services run, refuse when stopped, listen again after start', async () => {
    expect(await settled('k8s-2', 'open')).toEqual({ devTcp: ['open', 'open', 'open'], nc: ['open', 'open', 'open'] });
    expect((await lab().exec('k8s-2', 'sudo -n microk8s stop')).code).toBe(0);
    expect(await settled('k8s-2', 'closed')).toEqual({ devTcp: ['closed', 'closed', 'closed'], nc: ['closed', 'closed', 'closed'] });
    expect((await lab().exec('k8s-2', 'sudo -n microk8s start')).code).toBe(0);
    await settled('k8s-2', 'open');
  });

  it('a crashed node listens on nothing until it is healed', async () => {
    await lab().fault('k8s-3', 'crash');
    expect((await settled('k8s-3', 'closed')).devTcp).toEqual(['closed', 'closed', 'closed']);
    await lab().heal('k8s-3');
    await settled('k8s-3', 'open');
  });
});
