/** Scale: a 50-node lab comes up and every node answers over SSH (timings: bench/lab-up.ts). */
import { useLab } from '../support/lab';

const lab = useLab({ controlPlanes: 3, workers: 47, formed: true });

it('50 nodes start and each answers over SSH', async () => {
  expect(lab().nodes).toHaveLength(50);
  const answers: string[] = [];
  const queue = [...lab().nodes];
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let n = queue.shift(); n; n = queue.shift()) {
        const r = await lab().exec(n.name, 'sudo -n microk8s version');
        answers.push(`${n.name} ${r.code} ${r.stdout.trim()}`);
      }
    }),
  );
  expect(answers.filter((a) => / 0 MicroK8s v1\.28\.\d+ revision \d+$/.test(a))).toHaveLength(50);
  const st = await lab().status();
  expect(st.nodes.filter((n) => n.ready)).toHaveLength(50);
  expect(st.cluster).toMatchObject({ ha: true, quorum: true });
}, 180_000);
