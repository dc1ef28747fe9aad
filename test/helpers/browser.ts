import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

type Teardown = { teardown(fn: () => unknown): void };

export const CHROMIUM = '/usr/bin/chromium';

/** For `t.test(name, { skip: chromiumSkip }, ...)`: false, or why the browser tests cannot run here. */
export const chromiumSkip: false | string = existsSync(CHROMIUM) ? false : `Chromium not installed at ${CHROMIUM} (apt-get install chromium)`;

const ACTION_TIMEOUT_MS = 15_000;
export const BRAND_RED = 'rgb(184, 17, 29)'; // --brand in src/interactions/assets/app.css
export const INTERACTION_PATH = /^\/interaction\/[^/]+$/;

/**
 * Launches Chromium and closes it on teardown. Teardowns run last-registered first, so launch after
 * starting the servers: the browser then closes before the servers and database go.
 */
export async function launchChromium(t: Teardown): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    timeout: 30_000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  t.teardown(() => browser.close());
  return browser;
}

/**
 * Screenshots go to E2E_SCREENSHOT_DIR when set (and are kept there for a person to look at); otherwise
 * to a fresh temporary directory that is removed afterwards. Never into the repository.
 */
export function screenshotDir(t: Teardown, prefix = 'idp-e2e-'): string {
  const wanted = process.env.E2E_SCREENSHOT_DIR;
  if (wanted) {
    mkdirSync(wanted, { recursive: true });
    return wanted;
  }
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export async function newContext(browser: Browser, viewport: { width: number; height: number }): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport });
  context.setDefaultTimeout(ACTION_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(ACTION_TIMEOUT_MS);
  return context;
}

/**
 * Collects console errors and warnings, uncaught page errors and (with `responses`) failed loads of the page.
 * With `locations`, console messages carry their source URL: a favicon 404 shows up only as a console
 * message, and only message.location() says which URL failed.
 */
export function watchPageProblems(page: Page, { responses = false, locations = false } = {}): string[] {
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() !== 'error' && message.type() !== 'warning') return;
    problems.push(locations ? `${message.text()} (${message.location().url || page.url()})` : message.text());
  });
  page.on('pageerror', (error) => problems.push(String(error)));
  if (responses) page.on('response', (response) => { if (response.status() >= 400) problems.push(`HTTP ${response.status()} ${response.url()}`); });
  return problems;
}

/** Visible form controls (not hidden inputs) that have no label with text. */
export async function unlabelledInputs(page: Page): Promise<string[]> {
  return page.locator('input:not([type=hidden]), select, textarea').evaluateAll((inputs) => inputs
    .filter((input) => !Array.from((input as HTMLInputElement).labels ?? []).some((label) => (label.textContent ?? '').trim() !== ''))
    .map((input) => input.getAttribute('name') ?? input.outerHTML));
}

/** What a person would read on the page, for failure messages. */
export async function visibleText(page: Page): Promise<string> {
  return (await page.locator('body').innerText({ timeout: 2_000 }).catch(() => '(no page)')).replace(/\s+/g, ' ').slice(0, 500);
}
