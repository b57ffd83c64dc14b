/**
 * The gateway's watch routes on their own (fastify inject, no network): the page names only this gateway's
 * script and style, its CSP allows the NATS WebSocket and nothing foreign, `/watch/config` tells the WebSocket URL,
 * a bad id is refused, and a missing bundle is a 503 `unavailable`, not a crash.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createErrorHandler, notFoundHandler } from '../../gateway/errors.js';
import { START_GRANT_DEFAULTS, watchRoutes, type WatchRoutesOptions } from '../../gateway/routes/watch.js';
import type { Clock } from '../../lib/clock.js';
import { verifyGrant } from '../../lib/hash.js';
import { createLogger } from '../../lib/logger.js';
import {
  chunkLength, firstFrameChunks, startChunkPath, startWindow, type Manifest, type WatchBoot,
} from '../../protocol/mod.js';

async function app(opts: WatchRoutesOptions) {
  const a = Fastify({ logger: false });
  a.setErrorHandler(createErrorHandler(createLogger('test', 'silent')));
  a.setNotFoundHandler(notFoundHandler);
  await a.register(watchRoutes, opts);
  await a.ready();
  return a;
}

test('the page, its script and its config come from the gateway; the CSP admits only it and the NATS WebSocket', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sy-watch-routes-'));
  try {
    writeFileSync(join(dir, 'watch.js'), 'console.log("bundle")');
    const a = await app({ natsWsUrl: 'ws://127.0.0.1:4223', bundleDir: dir });
    const page = await a.inject({ method: 'GET', url: '/watch/vabc123' });
    assert.is(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /text\/html/);
    assert.match(page.body, /<script type="module" src="\/watch\/assets\/watch.js">/);
    assert.not.match(page.body, /https?:\/\/(?!127\.0\.0\.1)/, 'no external URL in the page');
    const csp = String(page.headers['content-security-policy']);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /connect-src 'self' ws:\/\/127\.0\.0\.1:4223/);
    const js = await a.inject({ method: 'GET', url: '/watch/assets/watch.js' });
    assert.is(js.statusCode, 200);
    assert.match(String(js.headers['content-type']), /javascript/);
    assert.is(js.body, 'console.log("bundle")');
    // revalidated, not re-sent: the same ETag answers 304 without a body
    const etag = String(js.headers.etag);
    assert.match(etag, /^"[A-Za-z0-9_-]{27}"$/);
    const again = await a.inject({ method: 'GET', url: '/watch/assets/watch.js', headers: { 'if-none-match': etag } });
    assert.is(again.statusCode, 304);
    assert.is(again.body, '');
    const other = await a.inject({ method: 'GET', url: '/watch/assets/watch.js', headers: { 'if-none-match': '"x"' } });
    assert.is(other.statusCode, 200);
    const cfg = await a.inject({ method: 'GET', url: '/watch/config' });
    assert.equal(cfg.json(), { natsWsUrl: 'ws://127.0.0.1:4223' });
    const css = await a.inject({ method: 'GET', url: '/watch/assets/watch.css' });
    assert.match(String(css.headers['content-type']), /text\/css/);
    await a.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a bad video id is a 400; a missing bundle a 503 (unavailable); no WebSocket URL an empty config', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sy-watch-routes-'));
  try {
    const a = await app({ bundleDir: dir });
    const bad = await a.inject({ method: 'GET', url: `/watch/${encodeURIComponent('a.b*>')}` });
    assert.is(bad.statusCode, 400);
    const js = await a.inject({ method: 'GET', url: '/watch/assets/watch.js' });
    assert.is(js.statusCode, 503);
    assert.is(js.json().error?.code, 'unavailable');
    const cfg = await a.inject({ method: 'GET', url: '/watch/config' });
    assert.equal(cfg.json(), {});
    await a.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** a streamable manifest as the catalog would hold it (the route does not check it: the page does) */
function streamManifest(): Manifest {
  const seg = (i: number) => ({ offset: 1000 + i * 100_000, length: 100_000, durationSec: 2 });
  const size = 1000 + 10 * 100_000;
  const chunks = Array.from({ length: Math.ceil(size / 65536) }, (_, i) => i.toString(16).padStart(64, '0'));
  return { videoId: 'vabc123', size, chunkSize: 65536, chunks, rootHash: '0'.repeat(64), name: 'x.mp4',
    stream: { init: { offset: 0, length: 1000 }, segments: Array.from({ length: 10 }, (_, i) => seg(i)), targetDurationSec: 2 },
  } as unknown as Manifest;
}

function bootOf(html: string): WatchBoot {
  const m = /<script type="application\/json" id="sy-boot">(.*?)<\/script>/s.exec(html);
  assert.ok(m, 'the page has its boot data');
  return JSON.parse(m![1]!) as WatchBoot;
}

test('the page carries the manifest and a start grant for the first seconds; it is never stored', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sy-watch-routes-'));
  try {
    const m = streamManifest();
    const a = await app({ natsWsUrl: 'ws://127.0.0.1:4223', bundleDir: dir,
      manifests: { get: async (id) => {
        if (id !== m.videoId) throw new Error('unknown video');
        return m;
      } },
      start: { grantSecret: 'secret', clock: { now: () => 1_000_000 } as Clock } });
    const page = await a.inject({ method: 'GET', url: `/watch/${m.videoId}` });
    assert.is(page.headers['cache-control'], 'no-store');
    const boot = bootOf(page.body);
    assert.is(boot.natsWsUrl, 'ws://127.0.0.1:4223');
    assert.equal(boot.manifest, JSON.parse(JSON.stringify(m)));
    const window = startWindow(m.stream!, m.chunkSize, START_GRANT_DEFAULTS.seconds, START_GRANT_DEFAULTS.maxChunks);
    assert.equal(boot.start?.chunks, window);
    assert.is(boot.start?.expiresAt, 1_000_000 + START_GRANT_DEFAULTS.ttlMs);
    // an urgent grant for exactly those chunks and their bytes, for this video
    const claims = verifyGrant(boot.start!.grant, 'secret', { now: 1_000_000, videoId: m.videoId, kind: 'urgent' });
    assert.equal(claims.c, window);
    assert.is(claims.b, window.reduce((n, i) => n + chunkLength(m, i), 0));
    assert.throws(() => verifyGrant(boot.start!.grant, 'secret', { now: 1_000_000, videoId: m.videoId, kind: 'slot' }));
    // each page view has a budget of its own
    const again = bootOf((await a.inject({ method: 'GET', url: `/watch/${m.videoId}` })).body);
    assert.is.not(again.start?.grant, boot.start?.grant);
    // the first frame's chunks are preloaded from exactly the URLs the page fetches
    for (const i of firstFrameChunks(m.stream!, m.chunkSize, window)) {
      assert.ok(page.body.includes(`<link rel="preload" as="fetch" crossorigin href="${startChunkPath(m.videoId, i, boot.start!.grant)}">`));
    }
    // an unknown video: the page without a manifest (it asks the catalog, and says what it finds)
    const unknown = bootOf((await a.inject({ method: 'GET', url: '/watch/vother' })).body);
    assert.equal(unknown, { natsWsUrl: 'ws://127.0.0.1:4223' });
    await a.close();
    // without a start option (no urgent share): the manifest, no grant
    const b = await app({ bundleDir: dir, manifests: { get: async () => m } });
    const plain = bootOf((await b.inject({ method: 'GET', url: `/watch/${m.videoId}` })).body);
    assert.ok(plain.manifest);
    assert.is(plain.start, undefined);
    await b.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('nothing in the boot data can close its script element', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sy-watch-routes-'));
  try {
    const evil = 'ws://127.0.0.1:1/</script><script>alert(1)</script><!--';
    const a = await app({ natsWsUrl: evil, bundleDir: dir });
    const page = await a.inject({ method: 'GET', url: '/watch/vabc123' });
    assert.not.ok(page.body.includes('<script>alert(1)'), 'no script injected');
    assert.not.ok(page.body.includes('<!--'));
    assert.is(bootOf(page.body).natsWsUrl, evil, 'the value survives, escaped');
    await a.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the bundle chunks and the early script are served; chunks are immutable; no other file is', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sy-watch-routes-'));
  try {
    writeFileSync(join(dir, 'watch.js'), 'import "./chunk-ABCD1234.js"');
    writeFileSync(join(dir, 'chunk-ABCD1234.js'), 'export {}');
    writeFileSync(join(dir, 'early.js'), '(()=>{})()');
    writeFileSync(join(dir, 'watch.preload.json'), '["chunk-ABCD1234.js", "../../etc/passwd"]');
    writeFileSync(join(dir, 'secret.js'), 'no');
    const a = await app({ bundleDir: dir });
    const chunk = await a.inject({ method: 'GET', url: '/watch/assets/chunk-ABCD1234.js' });
    assert.is(chunk.statusCode, 200);
    assert.match(String(chunk.headers['cache-control']), /immutable/);
    const early = await a.inject({ method: 'GET', url: '/watch/assets/early.js' });
    assert.is(early.statusCode, 200);
    assert.is(early.headers['cache-control'], 'no-cache');
    assert.is((await a.inject({ method: 'GET', url: '/watch/assets/secret.js' })).statusCode, 400);
    assert.is((await a.inject({ method: 'GET', url: '/watch/assets/..%2Fwatch.js' })).statusCode, 400);
    assert.is((await a.inject({ method: 'GET', url: '/watch/assets/chunk-ZZZZ9999.js' })).statusCode, 404);
    // the page preloads the chunks watch.js imports, and only names of the build's shape
    const page = await a.inject({ method: 'GET', url: '/watch/vabc123' });
    assert.ok(page.body.includes('<link rel="modulepreload" href="/watch/assets/chunk-ABCD1234.js">'));
    assert.not.ok(page.body.includes('passwd'));
    assert.ok(page.body.includes('<script src="/watch/assets/early.js" async></script>'));
    await a.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
