/**
 * A real headless Chromium for page tests and bench:startup: Debian's `chromium` package driven through playwright-core (which
 * never downloads a browser). Each launch gets a new, empty user data directory, removed by `close()`.
 *
 * The flags matter on a machine without internet access: background networking, component updates, sync and
 * QUIC would otherwise make Chromium open connections that are refused, and the first-run UI would get in the
 * way. Set SWITCHYARD_CHROMIUM to use another binary.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.SWITCHYARD_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
] as const;

export interface BrowserHandle {
  context: BrowserContext;
  /** a new tab */
  newPage(): Promise<Page>;
  /** closes the browser and removes its profile; safe to call twice */
  close(): Promise<void>;
}

/** Throws a clear error when the binary is missing: browser tests must fail, not skip, without it. */
export function assertChromium(): void {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}: install Debian's chromium ` +
      '(`apt-get install -y chromium`, or `SWITCHYARD_BROWSER=1 bash infra/setup.sh`), or set SWITCHYARD_CHROMIUM');
  }
}

export async function launchBrowser(opts: {
  viewport?: { width: number; height: number };
  /** flags beyond CHROMIUM_ARGS (e.g. `--autoplay-policy=no-user-gesture-required` for the watch page) */
  args?: readonly string[];
} = {}): Promise<BrowserHandle> {
  assertChromium();
  const profile = mkdtempSync(join(tmpdir(), 'sy-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: [...CHROMIUM_ARGS, ...(opts.args ?? [])],
      viewport: opts.viewport ?? { width: 1440, height: 900 },
      timeout: 30_000,
    });
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
  let closed: Promise<void> | null = null;
  return {
    context,
    newPage: () => context.newPage(),
    close() {
      closed ??= context.close().catch(() => {}).finally(() => rmSync(profile, { recursive: true, force: true }));
      return closed;
    },
  };
}
