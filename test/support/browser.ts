/**
 * A headless Chromium for UI tests: Debian's /usr/bin/chromium driven by playwright-core (never a browser
 * download), a throwaway profile, and artifacts (screenshots, page HTML) saved under test-artifacts/ui/<name>/,
 * which is emptied when the browser opens so it only ever holds the latest run of that test file.
 *
 *   const ui = await openBrowser('workflow-ui');
 *   try {
 *     await ui.check('workflow-list', async (page) => { await page.goto(url); await expectText(page, 'Running', 'list'); });
 *   } finally { await ui.close(); }
 */
import { promises as fs } from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';

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

/** How long a UI assertion waits for the page (the UI fetches, decodes and renders asynchronously). */
export const UI_TIMEOUT = 15_000;

export interface UiBrowser {
  page: Page;
  /** Save `<name>.png` (full page) and `<name>.html`; returns the screenshot path. Never throws. */
  snapshot(name: string): Promise<string>;
  /** Run one UI check; keep `<name>` artifacts when it passes, `failure-<name>` ones when it throws. */
  check(name: string, fn: (page: Page) => Promise<void>): Promise<void>;
  close(): Promise<void>;
}

/** A port free on 127.0.0.1 right now (for a server started next). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export async function expectVisible(locator: Locator, where: string): Promise<void> {
  try {
    await locator.first().waitFor({ state: 'visible', timeout: UI_TIMEOUT });
  } catch {
    throw new Error(`${where}: nothing visible matches ${String(locator)}`);
  }
}

/** The page's visible text, whitespace folded (for error messages and negative assertions). */
export async function pageText(page: Page): Promise<string> {
  return (await page.locator('body').innerText().catch(() => '')).replace(/\s+/g, ' ');
}

/** Visible text somewhere on the page, with the page's own text in the error when it is not there. */
export async function expectText(page: Page, text: string | RegExp, where: string): Promise<void> {
  try {
    await page.getByText(text).first().waitFor({ state: 'visible', timeout: UI_TIMEOUT });
  } catch {
    const body = (await pageText(page)).slice(0, 1500);
    throw new Error(`${where}: ${String(text)} is not visible at ${page.url()}\npage text: ${body}`);
  }
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
  async function snapshot(name: string): Promise<string> {
    const base = path.join(artifactsDir, name);
    try {
      await page.screenshot({ path: `${base}.png`, fullPage: true, timeout: 10_000 });
      await fs.writeFile(`${base}.html`, await page.content());
    } catch (e) {
      console.warn(`could not save UI artifact ${base}: ${(e as Error).message}`);
    }
    return `${base}.png`;
  }
  return {
    page,
    snapshot,
    async check(name, fn) {
      try {
        await fn(page);
        await snapshot(name);
      } catch (e) {
        await snapshot(`failure-${name}`);
        throw e;
      }
    },
    async close() {
      await context.close().catch(() => undefined);
      await fs.rm(profile, { recursive: true, force: true });
    },
  };
}
