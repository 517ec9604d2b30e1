/**
 * Delivering a notice to a webhook (README "Notifications"): one POST of the target's format, with the URL resolved
 * here on the worker (activities/webhook-url.ts). What may heal (no answer, HTTP 5xx, 429) is thrown retryable and
 * the workflow's retry policy tries again a few times; what cannot (no URL, a refused request) is returned as
 * `delivered: false`. Either way the runbook goes on: the workflow only notes it (workflows/notifications.ts).
 * The activity's summary names the target (its reference); messages never hold the URL, the response's text or a
 * network error's text, any of which may echo the URL's token.
 */
import { log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../common/constants';
import { describeTarget, renderBody, type DeliverNotificationInput, type DeliveryResult } from '../common/notifications';
import { resolveWebhookUrl } from './webhook-url';

/** One attempt's bound; the workflow's startToCloseTimeout is a little longer. */
export const DELIVERY_TIMEOUT_MS = 10_000;

export interface NotificationDeps {
  /** Where `urlEnv` is looked up (default the worker's own environment). */
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

export function createNotificationActivities(deps: NotificationDeps = {}) {
  const timeoutMs = deps.timeoutMs ?? DELIVERY_TIMEOUT_MS;
  return {
    async deliverNotification(input: DeliverNotificationInput): Promise<DeliveryResult> {
      const name = describeTarget(input.target, input.index);
      const resolved = await resolveWebhookUrl(input.target, deps.env ?? process.env);
      if ('problem' in resolved) return notDelivered(name, input, resolved.problem);
      let status: number;
      try {
        const res = await fetch(resolved.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'microk8s-runbooks' },
          body: JSON.stringify(renderBody(input.target.format, input.notice)),
          // A webhook answers where it is; following a redirect would send the notice somewhere nobody configured.
          redirect: 'manual',
          signal: AbortSignal.timeout(timeoutMs),
        });
        status = res.status;
        await res.body?.cancel().catch(() => undefined); // the answer's text is not read: it may echo the URL
      } catch (e) {
        throw ApplicationFailure.retryable(networkProblem(e, timeoutMs), FailureType.NotificationNotDelivered);
      }
      if (status >= 200 && status < 300) return { delivered: true, status };
      if (status >= 500 || status === 429 || status === 408) {
        throw ApplicationFailure.retryable(`the webhook answered HTTP ${status}`, FailureType.NotificationNotDelivered);
      }
      if (status >= 300 && status < 400) return notDelivered(name, input, `the webhook answered HTTP ${status}, a redirect (not followed); use the URL it redirects to`);
      return notDelivered(name, input, `the webhook refused the notice: HTTP ${status}; check the URL and its format (${input.target.format})`);
    },
  };
}

function notDelivered(name: string, input: DeliverNotificationInput, problem: string): DeliveryResult {
  log.warn(`${name}: the ${input.notice.event} notice of ${input.notice.workflowId} was not delivered: ${problem}`);
  return { delivered: false, problem };
}

const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: 'the connection was refused',
  ECONNRESET: 'the connection was reset',
  ENOTFOUND: 'its host name does not resolve',
  EAI_AGAIN: 'its host name does not resolve (yet)',
  ETIMEDOUT: 'the connection timed out',
  EHOSTUNREACH: 'its host is unreachable',
  ENETUNREACH: 'its network is unreachable',
  UND_ERR_SOCKET: 'the connection closed mid-request',
};

/** A network failure in words of our own: undici's messages name the host and port, some servers' the path. */
function networkProblem(e: unknown, timeoutMs: number): string {
  const err = e as { name?: string; cause?: { code?: unknown; name?: unknown } };
  if (err?.name === 'TimeoutError' || err?.cause?.name === 'TimeoutError') return `no answer within ${timeoutMs >= 1000 ? `${Math.round(timeoutMs / 1000)} s` : `${timeoutMs} ms`}`;
  const code = typeof err?.cause?.code === 'string' && /^[A-Z0-9_]{2,40}$/.test(err.cause.code) ? err.cause.code : undefined;
  if (!code) return 'the request failed';
  return `${NETWORK_CODES[code] ?? 'the request failed'} (${code})`;
}
