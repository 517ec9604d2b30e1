/** Reading a failure chain (workflow-safe): a Temporal failure wraps the useful one in `cause`s. */

type Chain = { message?: string; type?: unknown; cause?: unknown } | undefined;

/** The innermost message ("k8s-2: host key mismatch …"), or the error as text. */
export function innermostMessage(err: unknown): string {
  let e = err as Chain;
  while (e?.cause) e = e.cause as Chain;
  return e?.message ?? String(err);
}

/** The innermost failure type along the chain (an ApplicationFailure's `type`), if any. */
export function innermostType(err: unknown): string | undefined {
  let type: string | undefined;
  for (let e = err as Chain; e; e = e.cause as Chain) if (typeof e.type === 'string') type = e.type;
  return type;
}
