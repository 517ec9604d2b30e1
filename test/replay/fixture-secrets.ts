/**
 * The secret scan every replay fixture passes before it is written: join tokens (the lab issues 32 hex
 * characters), private-key markers, and any exact secret the caller knows (the lab's issued tokens and key body).
 * Payload bytes are base64 in history JSON, so the scan reads them decoded as well as raw.
 */

/** A join token as the lab (and MicroK8s) issues them: 32 hex characters standing alone. 64-hex sha256 sums do not match. */
const TOKEN = /(?<![0-9A-Fa-f])[0-9a-f]{32}(?![0-9A-Fa-f])/;
const KEY_MARKER = /PRIVATE KEY/;

/** Every payload `data` field of a history JSON, decoded as UTF-8. */
export function decodedPayloads(historyJson: string): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'data' && typeof x === 'string') out.push(Buffer.from(x, 'base64').toString('utf8'));
        else walk(x);
      }
    }
  };
  walk(JSON.parse(historyJson));
  return out;
}

/** What in this history JSON looks like a secret; empty when it is clean. Each finding says what and where. */
export function findSecrets(historyJson: string, known: string[] = []): string[] {
  const findings: string[] = [];
  const texts = [['history', historyJson], ...decodedPayloads(historyJson).map((t, i) => [`payload #${i}`, t])];
  for (const [where, text] of texts) {
    const token = TOKEN.exec(text);
    if (token) findings.push(`${where}: a 32-hex token (${token[0].slice(0, 6)}…)`);
    if (KEY_MARKER.test(text)) findings.push(`${where}: a private-key marker`);
    for (const secret of known) {
      if (secret.length >= 8 && text.includes(secret)) findings.push(`${where}: a known secret (${secret.slice(0, 6)}…)`);
    }
  }
  return findings;
}
