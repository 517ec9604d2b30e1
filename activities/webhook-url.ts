/**
 * Where a webhook's URL comes from: the worker's environment (`urlEnv`) or a file on the worker (`urlFile`), read at
 * each delivery, so a rotated URL is used without restarting anything. The URL usually carries the webhook's token,
 * so no message here holds it or any part of it (not even its scheme): only the reference and what is wrong.
 */
import type { NotificationTarget } from '../common/inventory';
import { LocalFileError, readLocalText } from '../local/files';

export type WebhookUrl = { url: URL } | { problem: string };

/** The target's URL, or why there is none; a problem is the operator's to fix, so it is never retried. */
export async function resolveWebhookUrl(target: NotificationTarget, env: NodeJS.ProcessEnv = process.env): Promise<WebhookUrl> {
  if (target.urlEnv !== undefined) {
    const value = env[target.urlEnv];
    if (value === undefined || value.trim() === '') {
      return { problem: `${target.urlEnv} is not set in the worker's environment; set it to the webhook URL where the worker runs` };
    }
    return parseWebhookUrl(value, `$${target.urlEnv}`);
  }
  if (target.urlFile !== undefined) {
    let text: string;
    try {
      text = await readLocalText(target.urlFile, 'webhook URL file');
    } catch (e) {
      if (!(e instanceof LocalFileError)) throw e;
      return { problem: `${e.message} (read on the worker)` };
    }
    return parseWebhookUrl(text, `file ${target.urlFile}`);
  }
  return { problem: 'names neither urlEnv nor urlFile' };
}

/** `text` as a webhook URL: one http(s) URL, surrounding whitespace (a file's last newline) ignored. */
export function parseWebhookUrl(text: string, source: string): WebhookUrl {
  const trimmed = text.trim();
  if (!trimmed) return { problem: `${source} is empty; it must hold the webhook URL` };
  if (/\s/.test(trimmed)) return { problem: `${source} must hold the webhook URL alone, on one line` };
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    return { problem: `${source} does not hold a URL; it must hold the webhook URL (https://…)` };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { problem: `${source} does not hold an http or https URL; a webhook is one` };
  // fetch refuses user info, and a credential there would be sent in the clear to any proxy: the service's own URL has none.
  if (url.username || url.password) return { problem: `${source} holds a URL with a user name or password (user:pass@host); use the URL the service issued` };
  return { url };
}
