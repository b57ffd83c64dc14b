/**
 * Issue 10's acceptance in its own words: during a run of the README's first command (`switchyard demo`, a real
 * child process with its own stack and CLI clients), headless Chromium on the gateway's `/inspector` page sees
 * a download in `p2p` and later in `resumeServer`, read from the page's DOM; the screenshot is kept under
 * test-artifacts/. The demo's clients publish their machines' transitions by default, like any CLI download.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { launchBrowser, type BrowserHandle } from '../helpers/browser.js';
import { startCli } from '../helpers/cli.js';
import { readInspector } from './inspector-page.js';

const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test-artifacts');

test('switchyard demo: the inspector page shows a download in p2p, later in resumeServer', async () => {
  // capacity 1 and five clients: four wait, and each waiter resumes from the origin when the slot frees
  const demo = startCli(['demo', '--clients', '5', '--capacity', '1', '--seconds', '20', '--policy', 'server-first'],
    { timeoutMs: 240_000 });
  let browser: BrowserHandle | null = null;
  try {
    const until = Date.now() + 90_000;
    let url = '';
    while (!url) {
      url = /inspector (http:\/\/127\.0\.0\.1:\d+\/inspector)/.exec(demo.stdout())?.[1] ?? '';
      if (!url && (Date.now() > until || demo.child.exitCode !== null)) throw new Error(`no inspector URL: ${demo.stdout()} ${demo.stderr()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    browser = await launchBrowser();
    const page = await browser.newPage();
    await page.goto(url);
    await page.waitForSelector('body[data-ready="1"]', { timeout: 10_000 });
    const history = new Map<string, string[]>();
    let resumedPeer = '';
    while (!resumedPeer) {
      if (demo.child.exitCode !== null) break;
      if (Date.now() > until + 60_000) break;
      for (const c of (await readInspector(page)).clients) {
        const h = history.get(c.peer) ?? [];
        if (c.state && h.at(-1) !== c.state) h.push(c.state);
        history.set(c.peer, h);
        if (c.state === 'resumeServer' && h.includes('p2p')) resumedPeer = c.peer;
      }
      await new Promise((r) => setTimeout(r, 150));
    }
    const seen = [...history].map(([p, h]) => `${p}: ${h.join(' → ')}`).join('; ');
    assert.ok(resumedPeer, `a download seen in p2p, then resumeServer: ${seen}`);
    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = join(ARTIFACTS, 'inspector-demo.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`  screenshot: ${shot}\n  seen: ${seen}`);
    assert.ok(history.size >= 2, 'several demo clients are listed');
    assert.is(await demo.exited, 0, demo.stdout() + demo.stderr());
    assert.match(demo.stdout(), /all 5 downloads are byte-identical/);
  } finally {
    await browser?.close();
    if (demo.child.exitCode === null) demo.child.kill('SIGINT');
    await demo.exited;
  }
});

test.run();
