import { createHash } from 'crypto';
import { OUTPUT_TAIL_BYTES, tail } from '../../common/audit';
import { SECRET_PATTERNS } from '../support/history-scan';

const sha = (i: number) => createHash('sha256').update(String(i)).digest('hex');

describe('tail', () => {
  test('short output is kept whole', () => {
    expect(tail('a\nb\n')).toBe('a\nb\n');
  });

  test('long output keeps whole lines only: a sha256sum listing never yields half a hash', () => {
    const joinToken = SECRET_PATTERNS.find((p) => p.id === 'join-token')!.regex;
    // Every offset of the cut: one of them lands 32 characters before a line's end, which used to read as a token.
    for (let pad = 0; pad < 90; pad++) {
      const listing = 'x'.repeat(pad) + '\n' + Array.from({ length: 40 }, (_, i) => `${sha(i)}  /var/snap/microk8s/current/var/kubernetes/backend/000${i}-000${i + 1}`).join('\n') + '\n';
      const t = tail(listing);
      expect(t.startsWith('…')).toBe(true);
      expect(t.length).toBeLessThanOrEqual(OUTPUT_TAIL_BYTES + 1);
      const lines = t.slice(1).split('\n').filter(Boolean);
      for (const line of lines) expect(line).toMatch(/^[0-9a-f]{64} {2}\/var\/snap\//);
      expect(joinToken.test(t)).toBe(false);
      expect(listing.endsWith(t.slice(1))).toBe(true);
    }
  });

  test('a window that begins exactly at a line start keeps that line', () => {
    const text = 'head\n' + 'y'.repeat(OUTPUT_TAIL_BYTES - 2) + '\nz';
    expect(tail(text)).toBe(`…${'y'.repeat(OUTPUT_TAIL_BYTES - 2)}\nz`);
  });

  test('a window that begins at a line break drops only the break', () => {
    const text = 'head\n' + 'y'.repeat(OUTPUT_TAIL_BYTES - 3) + '\nz';
    expect(tail(text)).toBe(`…${'y'.repeat(OUTPUT_TAIL_BYTES - 3)}\nz`);
  });

  test('one long line without breaks is cut by characters', () => {
    const text = 'q'.repeat(OUTPUT_TAIL_BYTES * 2);
    expect(tail(text)).toBe(`…${'q'.repeat(OUTPUT_TAIL_BYTES)}`);
  });
});
