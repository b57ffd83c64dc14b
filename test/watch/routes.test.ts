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
import { watchRoutes } from '../../gateway/routes/watch.js';
import { createLogger } from '../../lib/logger.js';

async function app(opts: { natsWsUrl?: string; bundleDir: string }) {
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

test.run();
