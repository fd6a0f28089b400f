/**
 * Headless Chromium from Debian (`/usr/bin/chromium`, never a downloaded
 * browser) driven by playwright-core, for the website's end-to-end tests. Each
 * launch gets a fresh profile, and every request the page makes is checked:
 * anything not to loopback is refused and recorded, so a test can assert the
 * site reached for nothing outside the coordinator.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Whether a URL the page asked for stays on this machine (data: and blob: never leave the page). */
export function isLoopbackUrl(url: string): boolean {
  const parsed = new URL(url);
  if (parsed.protocol === 'data:' || parsed.protocol === 'blob:' || parsed.protocol === 'about:') return true;
  return LOOPBACK_HOSTS.has(parsed.hostname);
}

export interface TestBrowser {
  context: BrowserContext;
  page: Page;
  /** Every URL the page tried that was not loopback (HTTP requests refused, WebSockets seen). */
  offLoopback: string[];
  /** Errors thrown in the page and console errors, for a test to assert there are none. */
  pageErrors: string[];
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  const profile = await mkdtemp(join(tmpdir(), 'sg-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1300, height: 1000 },
    acceptDownloads: true,
  });
  const offLoopback: string[] = [];
  const pageErrors: string[] = [];
  await context.route('**/*', async (route) => {
    const url = route.request().url();
    if (isLoopbackUrl(url)) return route.continue();
    offLoopback.push(url);
    return route.abort('blockedbyclient');
  });
  const watched = new WeakSet<Page>();
  const watchOnce = (page: Page): void => {
    if (watched.has(page)) return;
    watched.add(page);
    watch(page, offLoopback, pageErrors);
  };
  context.on('page', watchOnce);
  const page = context.pages()[0] ?? (await context.newPage());
  watchOnce(page);
  return {
    context,
    page,
    offLoopback,
    pageErrors,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

function watch(page: Page, offLoopback: string[], pageErrors: string[]): void {
  page.on('websocket', (ws) => {
    if (!isLoopbackUrl(ws.url())) offLoopback.push(ws.url());
  });
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    // A refused request (401 before the token, an aborted off-loopback one) is logged by Chromium itself; those are not the site's errors.
    if (message.type() === 'error' && !/Failed to load resource/.test(message.text())) pageErrors.push(message.text());
  });
}
