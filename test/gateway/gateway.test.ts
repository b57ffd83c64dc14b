import { randomBytes } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { LightMyRequestResponse } from 'fastify';
import type { Manifest, OpenGranted } from '../../protocol/mod.js';
import { createLeaseChecker, LEASE_CHECKER_DEFAULTS } from '../../actors/origin/mod.js';
import { systemClock } from '../../lib/clock.js';
import { createLogger } from '../../lib/logger.js';
import { granted } from '../helpers/env.js';
import { sha256Hex, signGrant } from '../../lib/hash.js';
import { CHUNK_SIZE, errorCode, startFixture, type Fixture } from './fixture.js';

interface Ctx {
  fx: Fixture;
  bytes: Uint8Array;
  video: Manifest;
  other: Manifest;
  a: OpenGranted;
}
const t = suite<Ctx>('gateway over real origin, leases and store');

t.before(async (ctx) => {
  ctx.fx = await startFixture();
  ctx.bytes = randomBytes(4 * CHUNK_SIZE + 123);
  ctx.video = await ctx.fx.publish(ctx.bytes, { name: 'main.bin' });
  ctx.other = await ctx.fx.publish(randomBytes(CHUNK_SIZE + 7), { name: 'other.bin' });
  ctx.a = granted(await ctx.fx.client.open(ctx.video.videoId, 'peerA'));
});
t.after(async ({ fx }) => fx.close());

const get = (fx: Fixture, url: string, headers: Record<string, string> = {}) =>
  fx.gateway.app.inject({ method: 'GET', url, headers });
const chunk = (ctx: Ctx, index: number | string, headers: Record<string, string> = {}, grant = ctx.a.grant) =>
  get(ctx.fx, `/videos/${ctx.video.videoId}/chunks/${index}`, { authorization: `Bearer ${grant}`, ...headers });

function assertError(res: LightMyRequestResponse, status: number, code: string) {
  assert.is(res.statusCode, status, `status for ${code}: ${res.body}`);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  assert.is(errorCode(res), code);
}

t('GET /videos lists the published videos', async ({ fx, video, other }) => {
  const res = await get(fx, '/videos');
  assert.is(res.statusCode, 200);
  const { videos } = res.json() as { videos: Array<{ videoId: string; chunkCount: number; name: string }> };
  const mine = videos.find((v) => v.videoId === video.videoId);
  assert.ok(mine);
  assert.is(mine.chunkCount, 5);
  assert.is(mine.name, 'main.bin');
  assert.ok(videos.some((v) => v.videoId === other.videoId));
});

t('GET /videos/:id/manifest returns the manifest, immutable, and asks the catalog only once', async ({ fx, video }) => {
  const before = fx.origin.served.get ?? 0;
  const res = await get(fx, `/videos/${video.videoId}/manifest`);
  assert.is(res.statusCode, 200);
  assert.equal(res.json(), video);
  assert.is(res.headers.etag, `"${video.rootHash}"`);
  assert.match(String(res.headers['cache-control']), /immutable/);
  await get(fx, `/videos/${video.videoId}/manifest`);
  assert.is((fx.origin.served.get ?? 0) - before, 1);
});

t('unknown video id → 404 unknown_video', async ({ fx }) => {
  assertError(await get(fx, '/videos/vnothere000000000000000000/manifest'), 404, 'unknown_video');
});

t('chunk 0: 200, the exact bytes, hash and caching headers', async (ctx) => {
  const res = await chunk(ctx, 0);
  assert.is(res.statusCode, 200);
  assert.is(res.rawPayload.byteLength, CHUNK_SIZE);
  assert.is(sha256Hex(res.rawPayload), ctx.video.chunks[0]);
  assert.ok(Buffer.from(ctx.bytes.subarray(0, CHUNK_SIZE)).equals(res.rawPayload));
  assert.is(res.headers['content-type'], 'application/octet-stream');
  assert.is(res.headers.etag, `"${ctx.video.chunks[0]}"`);
  assert.is(res.headers['x-chunk-sha256'], ctx.video.chunks[0]);
  assert.is(res.headers['accept-ranges'], 'bytes');
  assert.is(res.headers['cache-control'], 'private, max-age=31536000, immutable');
  assert.is(res.headers['content-length'], String(CHUNK_SIZE));
});

t('last chunk is short and hashes right; the grant also works as ?grant=', async (ctx) => {
  const res = await get(ctx.fx, `/videos/${ctx.video.videoId}/chunks/4?grant=${encodeURIComponent(ctx.a.grant)}`);
  assert.is(res.statusCode, 200);
  assert.is(res.rawPayload.byteLength, 123);
  assert.is(sha256Hex(res.rawPayload), ctx.video.chunks[4]);
});

t('HEAD answers headers and length without a body and counts no bytes', async (ctx) => {
  const before = ctx.fx.gateway.stats().chunkBytesTotal;
  const res = await ctx.fx.gateway.app.inject({ method: 'HEAD', url: `/videos/${ctx.video.videoId}/chunks/1`,
    headers: { authorization: `Bearer ${ctx.a.grant}` } });
  assert.is(res.statusCode, 200);
  assert.is(res.headers['content-length'], String(CHUNK_SIZE));
  assert.is(res.headers['x-chunk-sha256'], ctx.video.chunks[1]);
  assert.is(res.rawPayload.byteLength, 0);
  assert.is(ctx.fx.gateway.stats().chunkBytesTotal, before);
});

t('Range: 206 with the right slice for bytes=0-99, bytes=100-, bytes=-10', async (ctx) => {
  const full = Buffer.from(ctx.bytes.subarray(CHUNK_SIZE, 2 * CHUNK_SIZE));
  const cases: Array<[string, number, number]> = [
    ['bytes=0-99', 0, 99], ['bytes=100-', 100, CHUNK_SIZE - 1], ['bytes=-10', CHUNK_SIZE - 10, CHUNK_SIZE - 1],
  ];
  for (const [range, start, end] of cases) {
    const res = await chunk(ctx, 1, { range });
    assert.is(res.statusCode, 206, range);
    assert.is(res.headers['content-range'], `bytes ${start}-${end}/${CHUNK_SIZE}`, range);
    assert.is(res.headers['content-length'], String(end - start + 1));
    assert.ok(full.subarray(start, end + 1).equals(res.rawPayload), `bytes of ${range}`);
    assert.is(res.headers.etag, `"${ctx.video.chunks[1]}"`);
  }
});

t('Range on the short last chunk is relative to that chunk', async (ctx) => {
  const res = await chunk(ctx, 4, { range: 'bytes=-10' });
  assert.is(res.statusCode, 206);
  assert.is(res.headers['content-range'], 'bytes 113-122/123');
  assert.ok(Buffer.from(ctx.bytes.subarray(ctx.bytes.byteLength - 10)).equals(res.rawPayload));
});

t('If-Range with another ETag ignores the Range and sends the whole chunk', async (ctx) => {
  const res = await chunk(ctx, 1, { range: 'bytes=0-9', 'if-range': '"stale"' });
  assert.is(res.statusCode, 200);
  assert.is(res.rawPayload.byteLength, CHUNK_SIZE);
  const same = await chunk(ctx, 1, { range: 'bytes=0-9', 'if-range': `"${ctx.video.chunks[1]}"` });
  assert.is(same.statusCode, 206);
});

t('416 bad_range for unsatisfiable, malformed and multi-range, with Content-Range bytes */len', async (ctx) => {
  for (const range of ['bytes=999999999-', 'bytes=abc', 'bytes=0-1,5-6']) {
    const res = await chunk(ctx, 0, { range });
    assertError(res, 416, 'bad_range');
    assert.is(res.headers['content-range'], `bytes */${CHUNK_SIZE}`, range);
    assert.is(res.headers['cache-control'], 'no-store');
    assert.is(res.headers.etag, undefined);
  }
});

t('no grant → 401 grant_missing with WWW-Authenticate', async ({ fx, video }) => {
  const res = await get(fx, `/videos/${video.videoId}/chunks/0`);
  assertError(res, 401, 'grant_missing');
  assert.match(String(res.headers['www-authenticate']), /^Bearer/);
});

t('garbage grant, tampered grant or a non-Bearer header → 401 grant_invalid', async (ctx) => {
  assertError(await chunk(ctx, 0, {}, 'garbage'), 401, 'grant_invalid');
  const [payload, sig] = ctx.a.grant.split('.');
  assertError(await chunk(ctx, 0, {}, `${payload}x.${sig}`), 401, 'grant_invalid');
  assertError(await get(ctx.fx, `/videos/${ctx.video.videoId}/chunks/0`, { authorization: `Basic ${ctx.a.grant}` }),
    401, 'grant_invalid');
  assertError(await chunk(ctx, 0, {}, 'x'.repeat(3000)), 401, 'grant_invalid');
});

t('expired grant → 403 grant_expired', async (ctx) => {
  const expired = signGrant({ v: ctx.video.videoId, p: 'peerA', s: ctx.a.sessionId, n: ctx.a.lease.slot, exp: Date.now() - 1000 },
    ctx.fx.grantSecret);
  assertError(await chunk(ctx, 0, {}, expired), 403, 'grant_expired');
});

t('grant for another video → 403 grant_wrong_video', async (ctx) => {
  const b = granted(await ctx.fx.client.open(ctx.other.videoId, 'peerB'));
  try {
    assertError(await chunk(ctx, 0, {}, b.grant), 403, 'grant_wrong_video');
    const own = await get(ctx.fx, `/videos/${ctx.other.videoId}/chunks/1`, { authorization: `Bearer ${b.grant}` });
    assert.is(own.statusCode, 200);
    assert.is(own.rawPayload.byteLength, 7);
  } finally {
    await ctx.fx.client.release(b.sessionId, 'peerB');
  }
});

t('a grant whose lease was released → 403 lease_lost, at once', async (ctx) => {
  const l = granted(await ctx.fx.client.open(ctx.video.videoId, 'peerL'));
  assert.is((await chunk(ctx, 2, {}, l.grant)).statusCode, 200);
  await ctx.fx.client.release(l.sessionId, 'peerL');
  assertError(await chunk(ctx, 2, {}, l.grant), 403, 'lease_lost');
});

t('a holder that yielded its turn: the few requests it still had on the way are admitted, no more', async (ctx) => {
  const y = granted(await ctx.fx.client.open(ctx.video.videoId, 'peerY'));
  try {
    assert.is((await chunk(ctx, 1, {}, y.grant)).statusCode, 200);
    assert.ok((await ctx.fx.client.release(y.sessionId, 'peerY', { park: true })).released);
    for (let i = 0; i < LEASE_CHECKER_DEFAULTS.tailRequests; i++) {
      assert.is((await chunk(ctx, i, {}, y.grant)).statusCode, 200, `request ${i} after the yield`);
    }
    assertError(await chunk(ctx, 0, {}, y.grant), 403, 'lease_lost');
  } finally {
    await ctx.fx.client.release(y.sessionId, 'peerY');
  }
});

t('a yield\'s tail: the yielding peer only, bounded in count and in time', async (ctx) => {
  const tailChecker = () => createLeaseChecker({ nc: ctx.fx.nc, clock: systemClock, logger: createLogger('tail-test', 'warn') },
    { tailMs: 300, tailRequests: 1 });
  const checker = await tailChecker();
  const y = granted(await ctx.fx.client.open(ctx.video.videoId, 'peerT'));
  const claims = { v: ctx.video.videoId, p: 'peerT', s: y.sessionId, n: y.lease.slot, exp: Date.now() + 60_000 };
  try {
    assert.ok(await checker.holds(claims));
    assert.ok((await ctx.fx.client.release(y.sessionId, 'peerT', { park: true })).released);
    assert.not.ok(await checker.holds({ ...claims, p: 'peerX' }), 'another peer with the session id');
    assert.not.ok(await checker.holds({ ...claims, v: ctx.other.videoId }), 'another video');
    assert.ok(await checker.holds(claims), 'the one request still on its way');
    assert.not.ok(await checker.holds(claims), 'a second one');
    await new Promise((r) => setTimeout(r, 400));
    const later = await tailChecker();
    try {
      assert.not.ok(await later.holds(claims), 'past tailMs, even on a gateway that admitted none');
    } finally {
      await later.stop();
    }
  } finally {
    await checker.stop();
    await ctx.fx.client.release(y.sessionId, 'peerT');
  }
});

t('bad index: -1, 1.5, abc, 01 → 400 bad_index; 5 and 99999 → 404 bad_index', async (ctx) => {
  for (const i of ['-1', '1.5', 'abc', '01', '1e3']) assertError(await chunk(ctx, i), 400, 'bad_index');
  for (const i of ['5', '99999']) assertError(await chunk(ctx, i), 404, 'bad_index');
});

t('ids that are not ids (path traversal, dots, overlong) → 400 JSON on every route', async (ctx) => {
  for (const id of ['..%2F..%2Fetc%2Fpasswd', 'a.b', 'a..b', '..%5C..%5Cwin', 'x'.repeat(65), 'y'.repeat(5000), '%00']) {
    assertError(await get(ctx.fx, `/videos/${id}/manifest`), 400, 'bad_request');
    assertError(await get(ctx.fx, `/videos/${id}/chunks/0`, { authorization: `Bearer ${ctx.a.grant}` }), 400, 'bad_request');
  }
  assertError(await get(ctx.fx, '/videos/%E0%A4%A/manifest'), 400, 'bad_request');
  // Dot segments are resolved by URL parsing before routing (as any client does): a JSON 404, nothing worse.
  assertError(await get(ctx.fx, '/videos/%2E%2E/manifest'), 404, 'not_found');
});

t('a chunk the manifest lists but the store lacks → 503 chunk_missing, logged as an error', async (ctx) => {
  const broken = await ctx.fx.publish(randomBytes(1000), { name: 'broken.bin', store: false });
  const m = granted(await ctx.fx.client.open(broken.videoId, 'peerM'));
  try {
    const res = await get(ctx.fx, `/videos/${broken.videoId}/chunks/0`, { authorization: `Bearer ${m.grant}` });
    assertError(res, 503, 'chunk_missing');
    assert.not.match(res.body, broken.chunks[0]!);
    assert.ok(ctx.fx.logLines.some((l) => l.includes('ERROR') && l.includes('chunk_missing')));
  } finally {
    await ctx.fx.client.release(m.sessionId, 'peerM');
  }
});

t('unknown route → 404 JSON; wrong method → 404 JSON', async ({ fx }) => {
  assertError(await get(fx, '/nope'), 404, 'not_found');
  assertError(await fx.gateway.app.inject({ method: 'DELETE', url: '/videos' }), 404, 'not_found');
});

t('stats and /metrics count chunk bytes per session, requests by status, and live leases', async (ctx) => {
  const s = ctx.fx.gateway.stats();
  assert.ok(s.chunkBytesTotal > 0);
  assert.ok((s.bytesBySession[ctx.a.sessionId] ?? 0) >= CHUNK_SIZE + 123);
  const sum = Object.values(s.bytesBySession).reduce((a, b) => a + b, 0);
  assert.is(sum, s.chunkBytesTotal);
  assert.ok((s.requestsByStatus['200'] ?? 0) > 0);
  assert.ok((s.requestsByStatus['416'] ?? 0) >= 3);
  const res = await get(ctx.fx, '/metrics');
  assert.is(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /^text\/plain/);
  assert.match(res.body, new RegExp(`^switchyard_gateway_chunk_bytes_total ${s.chunkBytesTotal}$`, 'm'));
  assert.match(res.body, /^switchyard_gateway_requests_total\{status="416"\} \d+$/m);
  assert.match(res.body, /^switchyard_gateway_active_leases 1$/m);
  assert.match(res.body, /# TYPE switchyard_gateway_requests_total counter/);
});

t('OpenAPI JSON documents every route; the UI and its assets are served locally', async ({ fx }) => {
  const spec = (await get(fx, '/openapi.json')).json() as { openapi: string; paths: Record<string, Record<string, unknown>> };
  assert.match(spec.openapi, /^3\./);
  for (const [p, m] of [['/videos', 'get'], ['/videos', 'post'], ['/videos/{id}/manifest', 'get'],
    ['/videos/{id}/chunks/{index}', 'get'], ['/healthz', 'get'], ['/metrics', 'get']] as const) {
    assert.ok(spec.paths[p]?.[m], `${m} ${p} documented`);
  }
  const ui = await get(fx, '/docs/');
  assert.is(ui.statusCode, 200);
  assert.match(ui.body, /swagger-ui/i);
  assert.is((await get(fx, '/docs/static/swagger-ui-bundle.js')).statusCode, 200);
});

t('after all those bad requests the server still answers /healthz', async ({ fx }) => {
  const res = await get(fx, '/healthz');
  assert.is(res.statusCode, 200);
  assert.equal(res.json(), { status: 'ok' });
});

t('end to end over a real socket with fetch: list, manifest, one chunk', async (ctx) => {
  const base = await ctx.fx.gateway.start();
  assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/);
  const list = await fetch(`${base}/videos`);
  assert.is(list.status, 200);
  const { videos } = (await list.json()) as { videos: Array<{ videoId: string }> };
  assert.ok(videos.some((v) => v.videoId === ctx.video.videoId));
  const man = (await (await fetch(`${base}/videos/${ctx.video.videoId}/manifest`)).json()) as Manifest;
  assert.is(man.rootHash, ctx.video.rootHash);
  const res = await fetch(`${base}/videos/${ctx.video.videoId}/chunks/3`, { headers: { authorization: `Bearer ${ctx.a.grant}` } });
  assert.is(res.status, 200);
  const body = new Uint8Array(await res.arrayBuffer());
  assert.is(sha256Hex(body), man.chunks[3]);
  const bad = await fetch(`${base}/videos/..%2F..%2Fetc%2Fpasswd/manifest`);
  assert.is(bad.status, 400);
  assert.is(((await bad.json()) as { error: { code: string } }).error.code, 'bad_request');
});

t.run();
