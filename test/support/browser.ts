import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

/**
 * Headless Chromium for the browser tests, driven by puppeteer-core. The executable is TIDEMARK_CHROMIUM, else
 * `chromium` on PATH (scripts/install-chromium.sh installs Debian's package; .ci/run calls it).
 */

const INSTALL_HINT = 'run scripts/install-chromium.sh, or set TIDEMARK_CHROMIUM to a Chromium or Chrome executable';

/** The Chromium executable the tests launch; throws, naming the fix, when there is none. */
export function chromiumPath(): string {
  const configured = process.env.TIDEMARK_CHROMIUM;
  if (configured) {
    try {
      accessSync(configured, constants.X_OK);
    } catch {
      throw new Error(`TIDEMARK_CHROMIUM=${configured} is not an executable file; ${INSTALL_HINT}`);
    }
    return configured;
  }
  try {
    return execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(`no chromium on PATH; ${INSTALL_HINT}`);
  }
}

/** A launched browser; `close()` never throws and kills the process if it does not exit. */
export interface TestBrowser {
  readonly browser: Browser;
  /** Opens a page that records console errors and uncaught exceptions in `problems`. */
  open(url: string, options?: { width?: number; height?: number }): Promise<WatchedPage>;
  close(): Promise<void>;
}

export interface WatchedPage {
  readonly page: Page;
  /** Console errors (Chromium's "Failed to load resource" for an HTTP error among them) and uncaught exceptions. */
  readonly problems: string[];
}

/** Launches headless Chromium (`--no-sandbox`: CI runs as root, where Chromium's sandbox refuses to start). */
export async function launchBrowser(): Promise<TestBrowser> {
  const browser = await puppeteer.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--no-first-run', '--no-default-browser-check'],
    // The tests decide how long they wait; puppeteer's own 30 s default would outlive a vitest timeout.
    protocolTimeout: 20_000,
  });
  const pages: Page[] = [];
  return {
    browser,
    async open(url, options = {}) {
      const page = await browser.newPage();
      pages.push(page);
      await page.setViewport({ width: options.width ?? 1280, height: options.height ?? 900 });
      page.setDefaultTimeout(10_000);
      const problems: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(`console: ${message.text()}`);
      });
      page.on('pageerror', (error) =>
        problems.push(`uncaught: ${error instanceof Error ? error.message : String(error)}`),
      );
      await page.goto(url, { waitUntil: 'domcontentloaded' });
      return { page, problems };
    },
    async close() {
      const process = browser.process();
      try {
        await Promise.race([browser.close(), new Promise((resolve) => setTimeout(resolve, 5_000))]);
      } catch {
        // Closing a browser that already died: nothing to do but make sure the process is gone.
      }
      if (process && process.exitCode === null && process.signalCode === null) process.kill('SIGKILL');
    },
  };
}

/** The selector of the element with this `data-testid`. */
export function byTestId(id: string): string {
  return `[data-testid="${id.replace(/["\\]/g, '\\$&')}"]`;
}

/** The text of the element with this `data-testid` (fails when there is none). */
export function textOf(page: Page, id: string): Promise<string> {
  return page.$eval(byTestId(id), (node) => node.textContent ?? '');
}

/** Waits until the element with this `data-testid` exists and its text matches; the failure says what it read. */
export async function waitForText(
  page: Page,
  id: string,
  expected: RegExp | string,
  timeout = 10_000,
): Promise<string> {
  const pattern = typeof expected === 'string' ? new RegExp(expected.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : expected;
  const selector = JSON.stringify(byTestId(id));
  const test = `new RegExp(${JSON.stringify(pattern.source)}, ${JSON.stringify(pattern.flags)})`;
  try {
    await page.waitForFunction(
      `(() => { const node = document.querySelector(${selector}); return !!node && ${test}.test(node.textContent || ''); })()`,
      { timeout },
    );
  } catch (error) {
    const seen = await page.$(byTestId(id)).then((node) => (node ? textOf(page, id) : null));
    throw new Error(
      `${id} did not come to match ${String(pattern)} within ${timeout} ms; it ${seen === null ? 'does not exist' : `reads "${seen}"`}`,
      { cause: error },
    );
  }
  return textOf(page, id);
}
