/** The UI server is up when its page is HTML and its API answers through to the frontend. */

/** `check` throws when the UI process has exited. */
export async function waitForUi(uiUrl: string, deadline: number, check: () => void): Promise<void> {
  let last = '';
  while (Date.now() < deadline) {
    try {
      const page = await fetch(`${uiUrl}/`, { signal: AbortSignal.timeout(2000) });
      const body = await page.text();
      if (page.ok && /<html/i.test(body)) {
        const api = await fetch(`${uiUrl}/api/v1/namespaces`, { signal: AbortSignal.timeout(2000) });
        if (api.ok) return;
        last = `/api/v1/namespaces answered ${api.status}`;
      } else {
        last = `/ answered ${page.status}`;
      }
    } catch (e) {
      last = (e as Error).message;
    }
    check();
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`the UI at ${uiUrl} did not answer in time (${last})`);
}
