/**
 * The inspector, end to end (real nats-server, gateway, origin of capacity 1, node-datachannel peers, Debian's
 * Chromium): three headless clients and a browser peer (the watch page) download one video while a second tab
 * shows `/inspector`. The test reads the inspector page's DOM only (`.client[data-peer][data-state]`) until it has
 * seen a download in `p2p` that later moved to `resumeServer` (the slot freed when the holder finished), with the
 * diagram's `resumeServer` node highlighted and the causing event in the client's timeline, and the browser
 * peer's download listed with its state. A screenshot of that moment is saved under test-artifacts/.
 *
 * The headless clients do not upload, and the browser peer joins after them (behind them in the wait list, so it has
 * nothing to seed them): a waiting client then gets nothing from peers and must wait for the freed slot, so
 * p2p → resumeServer happens on every run rather than only when the swarm is slower than the origin.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createOriginClient } from '../../actors/origin/client.js';
import { runDownload } from '../../client/download.js';
import { createInspectPublisher, type InspectPublisher } from '../../client/inspect.js';
import { createPeerNode, type PeerNode } from '../../client/p2p/peer.js';
import { partialSource } from '../../client/p2p/sources.js';
import { openPartial, partialDirFor } from '../../client/partial.js';
import { createTokenBucket } from '../../lib/tokenbucket.js';
import type { Manifest } from '../../protocol/mod.js';
import { launchBrowser } from '../helpers/browser.js';
import { readInspector, type Seen } from './inspector-page.js';
import {
  ingest, logger, MiB, openWatchPage, pageStatus, startWatchEnv, stopWatchEnv, WATCH_ARGS, type WatchEnv,
} from '../watch/helpers.js';

// compiled to dist/test/scale/: the repository root is three levels up
const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test-artifacts');

interface Client { peerId: string; node: PeerNode; run: ReturnType<typeof runDownload>; inspector: InspectPublisher }

/** A headless client as the CLI's `get` runs it, publishing its transitions for the inspector. */
async function startClient(env: WatchEnv, manifest: Manifest, peerId: string): Promise<Client> {
  const { nc } = await env.stack.connectPeer({ peerId });
  const partial = await openPartial(partialDirFor(join(env.dir, `${peerId}.out`)), manifest);
  const node = createPeerNode({ peerId, manifest, uploads: false, rechokeMs: 500 },
    { nc, source: partialSource(partial), logger, rtc: env.rtc });
  await node.swarm.start();
  const inspector = createInspectPublisher({ peerId }, { nc, logger });
  // ~3 s per client at this rate: each one holds the slot long enough to be seen, and so does each waiter
  const run = runDownload({ videoId: manifest.videoId, peerId, gateway: env.stack.gatewayUrl, outPath: join(env.dir, `${peerId}.out`) },
    { origin: createOriginClient(nc), partial, logger, swarm: node.swarm, limiter: createTokenBucket(MiB), inspector });
  env.stops.push(async () => {
    run.cancel();
    await Promise.race([run.done.catch(() => {}), new Promise((r) => setTimeout(r, 3000))]);
    inspector.stop();
    await node.stop();
    await partial.close();
  });
  return { peerId, node, run, inspector };
}

const t = suite<{ env: WatchEnv }>('inspector: live machines of headless and browser peers in /inspector');
t.before(async (ctx) => {
  ctx.env = await startWatchEnv({ capacity: 1, leaseTtlMs: 2000 });
});
t.after(async (ctx) => {
  await stopWatchEnv(ctx.env);
});

t('a download seen in p2p, then in resumeServer; the browser peer listed; screenshot saved', async (ctx) => {
  const { env } = ctx;
  const file = join(env.dir, 'video.bin');
  writeFileSync(file, randomBytes(3 * MiB));
  const manifest = await ingest(env, file);

  env.browser = await launchBrowser({ args: WATCH_ARGS });
  const page = await env.browser.newPage();
  page.on('pageerror', (e) => console.log(`  [inspector page error] ${e.message}`));
  await page.goto(`${env.stack.gatewayUrl}/inspector`);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 10_000 });

  // what the page showed, per peer, in order (states as the DOM had them at each read), read from now on
  const history = new Map<string, string[]>();
  let resumed: { peer: string; seen: Seen } | null = null;
  let reading = true;
  const reader = (async () => {
    while (reading) {
      const seen = await readInspector(page);
      for (const c of seen.clients) {
        const h = history.get(c.peer) ?? [];
        if (c.state && h[h.length - 1] !== c.state) h.push(c.state);
        history.set(c.peer, h);
        if (!resumed && c.state === 'resumeServer' && h.includes('p2p')) resumed = { peer: c.peer, seen };
      }
      await new Promise((r) => setTimeout(r, 150));
    }
  })();
  const waitUntil = async (what: string, ok: () => boolean, ms: number) => {
    const until = Date.now() + ms;
    while (!ok()) {
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}: inspector history ${JSON.stringify(Object.fromEntries(history))}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  // the headless clients first, so the browser peer queues behind them: once complete, it would seed the waiting
  // clients (it uploads) and they might finish before the slot frees
  const clients: Client[] = [];
  for (let i = 0; i < 3; i++) clients.push(await startClient(env, manifest, `crowd${i}`));
  await waitUntil('a client in server', () => [...history.values()].some((h) => h.includes('server')), 30_000)
    .catch(async (err) => {
      reading = false;
      await reader;
      throw err;
    });
  const watch = await openWatchPage(env, manifest.videoId, '?play=0&label=browser');
  let browserPeer = '';
  try {
    const until = Date.now() + 30_000;
    while (!browserPeer) {
      browserPeer = (await pageStatus(watch))?.peerId ?? '';
      if (!browserPeer && Date.now() > until) throw new Error('the watch page never started its engine');
      await new Promise((r) => setTimeout(r, 100));
    }
    await waitUntil('a download in p2p, later in resumeServer, and the browser peer listed',
      () => resumed !== null && (history.get(browserPeer)?.length ?? 0) > 0, 90_000);
  } finally {
    reading = false;
    await reader;
  }
  const browserState = history.get(browserPeer)!.at(-1)!;
  mkdirSync(ARTIFACTS, { recursive: true });
  const shot = join(ARTIFACTS, 'inspector.png');
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`  screenshot: ${shot}`);
  console.log(`  seen: ${[...history].map(([p, h]) => `${p}: ${h.join(' → ')}`).join('; ')}`);

  const { peer, seen } = resumed!;
  assert.ok([...history.values()].some((h) => h.includes('server')), 'some client held the slot first (server)');
  assert.ok(seen.on.includes('download.active.resumeServer'), `the diagram highlights resumeServer: ${seen.on.join(', ')}`);
  const entry = seen.timelines[peer]!.find((x) => x.startsWith('active.resumeServer '));
  assert.ok(entry, `${peer}'s timeline shows the transition into resumeServer: ${seen.timelines[peer]!.join(' | ')}`);
  assert.match(entry!, /^active\.resumeServer origin\./, 'caused by an origin event (the freed slot offered)');
  assert.ok(clients.some((c) => c.peerId === peer), 'a headless client resumed');
  assert.ok(browserPeer.startsWith('browser'), browserPeer);
  assert.ok(['opening', 'server', 'p2p', 'resumeServer', 'assembling', 'complete', 'peersOnly', 'releasing'].includes(browserState),
    `the browser peer's download is listed with a download state: ${browserState}`);
  // the headless clients reported every transition they made, none dropped
  for (const c of clients) assert.is(c.inspector.stats().dropped, 0);
});

t.run();
