/**
 * A headless Chromium for UI tests: Debian's /usr/bin/chromium driven by playwright-core (never a browser
 * download), a throwaway profile, and artifacts (screenshots, page HTML) saved under test-artifacts/ui/<name>/,
 * which is emptied when the browser opens so it only ever holds the latest run of that test file.
 *
 *   const ui = await openBrowser('workflow-ui');
 *   try { await ui.page.goto(url); await ui.snapshot('workflow-list'); }
 *   catch (e) { await ui.snapshot('failure'); throw e; }
 *   finally { await ui.close(); }
 */
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.RUNBOOK_CHROMIUM ?? '/usr/bin/chromium';
export const UI_ARTIFACTS_DIR = path.resolve(__dirname, '../../test-artifacts/ui');

// Quiet, offline, no GPU: the box is a 2-core container without a display or internet.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface UiBrowser {
  page: Page;
  /** Save `<name>.png` (full page) and `<name>.html`; returns the screenshot path. Never throws. */
  snapshot(name: string): Promise<string>;
  close(): Promise<void>;
}

/** Fails with the fix when Chromium is missing, rather than a Playwright stack trace. */
export async function assertChromiumInstalled(): Promise<void> {
  try {
    await fs.access(CHROMIUM_PATH, fs.constants.X_OK);
  } catch {
    throw new Error(`no Chromium at ${CHROMIUM_PATH}: install it with \`apt-get install -y chromium\` (or set RUNBOOK_CHROMIUM)`);
  }
}

export async function openBrowser(name: string, opts: { viewport?: { width: number; height: number } } = {}): Promise<UiBrowser> {
  await assertChromiumInstalled();
  const artifactsDir = path.join(UI_ARTIFACTS_DIR, name);
  await fs.rm(artifactsDir, { recursive: true, force: true });
  await fs.mkdir(artifactsDir, { recursive: true });
  const profile = await fs.mkdtemp(path.join(os.tmpdir(), 'runbook-chromium-'));
  const context: BrowserContext = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: opts.viewport ?? { width: 1440, height: 1000 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    page,
    async snapshot(name) {
      const base = path.join(artifactsDir, name);
      try {
        await page.screenshot({ path: `${base}.png`, fullPage: true, timeout: 10_000 });
        await fs.writeFile(`${base}.html`, await page.content());
      } catch (e) {
        console.warn(`could not save UI artifact ${base}: ${(e as Error).message}`);
      }
      return `${base}.png`;
    },
    async close() {
      await context.close().catch(() => undefined);
      await fs.rm(profile, { recursive: true, force: true });
    },
  };
}
