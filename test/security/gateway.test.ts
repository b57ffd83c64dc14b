/**
 * Gateway abuse over real parts (nats-server, origin, lease checker, fs store, fastify via inject): a session's
 * byte budget, the HTTP rate limit, forged and silent telemetry, grants kept out of logs, the activity notices,
 * and the catalog's quotas and pages.
 */
import { randomBytes } from 'node:crypto';
import { Kvm } from '@nats-io/kv';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createKvCatalog } from '../../actors/origin/catalog.js';
import { createActivityPublisher, createGateway, createTelemetryAggregator } from '../../gateway/mod.js';
import { connectMintedPeer, minterFor } from '../../infra/peercreds.js';
import { systemClock } from '../../lib/clock.js';
import {
  decode, encode, encodeBitfield, GatewayActivity, Subjects, type Manifest,
  type PeerStatus,
} from '../../protocol/mod.js';
import { buildManifest, sha256Hex } from '../../lib/hash.js';
import { CHUNK_SIZE, errorCode, startFixture, type Fixture } from '../gateway/fixture.js';
import { granted, waitFor } from '../helpers/env.js';

interface Ctx {
  fx: Fixture;
  video: Manifest;
}
const t = suite<Ctx>('security: gateway budgets, limits, telemetry, logs, catalog');

t.before(async (ctx) => {
  ctx.fx = await startFixture();
  ctx.video = await ctx.fx.publish(randomBytes(4 * CHUNK_SIZE), { name: 'budget.bin' });
});
t.after(async ({ fx }) => fx.close());

t('a grant session gets about one copy plus 4 chunks, then 429 quota_exceeded; a new session starts afresh', async ({ fx, video }) => {
  const a = granted(await fx.client.open(video.videoId, 'budgetA'));
  const url = (i: number) => `/videos/${video.videoId}/chunks/${i}`;
  // 4 chunks × 1.25 + 4 = 9 whole chunks
  for (let n = 0; n < 9; n++) {
    const res = await fx.gateway.app.inject({ method: 'GET', url: url(n % 4), headers: { authorization: `Bearer ${a.grant}` } });
    assert.is(res.statusCode, 200, `fetch ${n}: ${res.body}`);
  }
  const over = await fx.gateway.app.inject({ method: 'GET', url: url(0), headers: { authorization: `Bearer ${a.grant}` } });
  assert.is(over.statusCode, 429);
  assert.is(errorCode(over), 'quota_exceeded');
  // a range request is refused too: no byte past the budget
  const ranged = await fx.gateway.app.inject({ method: 'GET', url: url(1),
    headers: { authorization: `Bearer ${a.grant}`, range: 'bytes=0-9' } });
  assert.is(ranged.statusCode, 429);
  await fx.client.release(a.sessionId, 'budgetA');
  const b = granted(await fx.client.open(video.videoId, 'budgetB'));
  const fresh = await fx.gateway.app.inject({ method: 'GET', url: url(0), headers: { authorization: `Bearer ${b.grant}` } });
  assert.is(fresh.statusCode, 200);
  await fx.client.release(b.sessionId, 'budgetB');
});

t('rate limit: 429 rate_limited past the limit, keyed by grant session on chunks, else by address', async ({ fx, video }) => {
  const g = await fx.gatewayWith({ rateLimit: { max: 5, timeWindowMs: 60_000 } });
  for (let i = 0; i < 5; i++) assert.is((await g.app.inject({ method: 'GET', url: '/healthz' })).statusCode < 429, true);
  const limited = await g.app.inject({ method: 'GET', url: '/videos' });
  assert.is(limited.statusCode, 429);
  assert.is(errorCode(limited), 'rate_limited');
  assert.ok(limited.headers['retry-after']);
  // another address has its own bucket
  const other = await g.app.inject({ method: 'GET', url: '/videos', remoteAddress: '10.1.2.3' });
  assert.is(other.statusCode, 200);
  // chunk requests with a verified grant count against the session, not the (exhausted) address
  const a = granted(await fx.client.open(video.videoId, 'rateA'));
  const b = granted(await fx.client.open(video.videoId, 'rateB'));
  const chunk = (grant: string) => g.app.inject({ method: 'GET', url: `/videos/${video.videoId}/chunks/0?grant=${grant}` });
  for (let i = 0; i < 5; i++) assert.is((await chunk(a.grant)).statusCode, 200);
  const aOver = await chunk(a.grant);
  assert.is(aOver.statusCode, 429);
  assert.is(errorCode(aOver), 'rate_limited');
  assert.is((await chunk(b.grant)).statusCode, 200, 'session B has its own bucket');
  // a forged grant does not get a bucket of its own: the exhausted address pays
  const forged = await chunk(`${a.grant.split('.')[0]}.AAAA`);
  assert.is(forged.statusCode, 429);
  await fx.client.release(a.sessionId, 'rateA');
  await fx.client.release(b.sessionId, 'rateB');
});

t('grants never reach a log line, on success or any failure', async ({ fx, video }) => {
  const a = granted(await fx.client.open(video.videoId, 'logA'));
  const before = fx.logLines.length;
  const sig = a.grant.split('.')[1]!;
  const g = await fx.gatewayWith({ rateLimit: { max: 3, timeWindowMs: 60_000 } });
  const urls = [
    `/videos/${video.videoId}/chunks/0?grant=${a.grant}`,
    `/videos/${video.videoId}/chunks/99?grant=${a.grant}`,
    `/videos/${video.videoId}/chunks/x?grant=${a.grant}`,
    `/videos/vnothere000000000000000000/chunks/0?grant=${a.grant}`,
    `/videos/${video.videoId}/chunks/0?grant=${a.grant}x`,
    `/videos/${video.videoId}/chunks/0?grant=${a.grant}`,
    `/videos/${video.videoId}/chunks/0?grant=${a.grant}`,
  ];
  for (const url of urls) {
    await fx.gateway.app.inject({ method: 'GET', url });
    await fx.gateway.app.inject({ method: 'GET', url: url.split('?')[0]!, headers: { authorization: `Bearer ${a.grant}` } });
    await g.app.inject({ method: 'GET', url });
  }
  const lines = fx.logLines.slice(before);
  assert.ok(lines.length >= urls.length, 'the gateway logged the requests at debug level');
  for (const line of lines) {
    assert.not.ok(line.includes(sig), `grant signature in a log line: ${line}`);
    assert.not.ok(line.includes(a.grant.split('.')[0]!), `grant payload in a log line: ${line}`);
  }
  await fx.client.release(a.sessionId, 'logA');
});

t('activity: sessions served are published about once a second; nothing when idle', async ({ fx, video }) => {
  const activity = createActivityPublisher({ intervalMs: 200 }, { nc: fx.nc, logger: fx.gatewayLogger });
  const g = await createGateway({ grantSecret: fx.grantSecret, stagingDir: fx.stagingDir },
    { origin: fx.client, leases: fx.leases, store: fx.store, ingest: { submit: () => Promise.reject(new Error('no')) },
      clock: systemClock, logger: fx.gatewayLogger, activity });
  const seen: string[][] = [];
  const sub = fx.nc.subscribe(Subjects.gatewayActivity, {
    callback: (_e, m) => {
      seen.push(decode(GatewayActivity, m.data, { what: "activity" }).sessions);
    },
  });
  activity.start();
  try {
    await new Promise((r) => setTimeout(r, 500));
    assert.is(seen.length, 0, 'an idle gateway publishes nothing');
    const a = granted(await fx.client.open(video.videoId, 'actA'));
    assert.is((await g.app.inject({ method: 'GET', url: `/videos/${video.videoId}/chunks/1`,
      headers: { authorization: `Bearer ${a.grant}` } })).statusCode, 200);
    await waitFor(() => seen.some((s) => s.includes(a.sessionId)), 'an activity notice naming the session', 3000);
    await fx.client.release(a.sessionId, 'actA');
  } finally {
    sub.unsubscribe();
    await activity.stop();
    await g.stop();
  }
});

function status(peerId: string, videoId: string): PeerStatus {
  return { peerId, videoId, mode: 'p2p', state: 'active.p2p', chunkCount: 4, haveCount: 1,
    bitfield: encodeBitfield([true, false, false, false]), bytesBySource: { origin: 10 }, uploadedBytes: 0,
    position: null, links: 0, startedAt: 1, doneAt: null, at: Date.now() };
}

t('telemetry: a body naming another peer is dropped, over real peer credentials too', async ({ fx, video }) => {
  const telemetry = createTelemetryAggregator({ nc: fx.nc, logger: fx.gatewayLogger, clock: systemClock });
  telemetry.start();
  try {
    const minter = minterFor(fx.nats.auth);
    const mallory = await connectMintedPeer(fx.nats.url, minter, { peerId: 'mallory' });
    try {
      // mallory may publish only on her own subject; a body claiming to be alice is a forgery
      mallory.nc.publish(Subjects.telemetry(video.videoId, 'mallory'), encode(status('alice', video.videoId)));
      mallory.nc.publish(Subjects.telemetry(video.videoId, 'mallory'), encode(status('mallory', video.videoId)));
      await mallory.nc.flush();
      await waitFor(() => telemetry.peers().some((p) => p.peerId === 'mallory'), 'mallory\'s own row');
      assert.equal(telemetry.peers().map((p) => p.peerId), ['mallory']);
    } finally {
      await mallory.nc.close();
    }
    // subject/body mismatch in the video too, and subjects that are not telemetry subjects
    assert.not.ok(telemetry.accept(Subjects.telemetry(video.videoId, 'bob'), encode(status('bob', 'vother00000000000000000000'))));
    assert.not.ok(telemetry.accept('sy.telemetry.x', encode(status('bob', video.videoId))));
    assert.not.ok(telemetry.accept(Subjects.telemetry(video.videoId, 'bob'), new Uint8Array(64 * 1024)));
  } finally {
    await telemetry.stop();
  }
});

t('telemetry: silent peers are evicted, and the table is bounded (least recently heard first)', async ({ fx, video }) => {
  let now = 1_000_000;
  const clock = { now: () => now };
  const telemetry = createTelemetryAggregator({ nc: fx.nc, logger: fx.gatewayLogger, clock }, { maxPeers: 3 });
  const send = (peer: string) => telemetry.accept(Subjects.telemetry(video.videoId, peer), encode(status(peer, video.videoId)));
  assert.ok(send('p1'));
  now += 20_000;
  assert.ok(send('p2'));
  now += 11_000; // p1 silent 31 s, p2 11 s
  assert.equal(telemetry.peers().map((p) => [p.peerId, p.stale]), [['p2', true]]);
  for (const p of ['p3', 'p4', 'p5']) assert.ok(send(p));
  assert.equal(telemetry.peers().map((p) => p.peerId).sort(), ['p3', 'p4', 'p5']);
  await telemetry.stop();
});

t('GET /videos pages through the catalog; origin client list() walks every page', async ({ fx }) => {
  for (let i = 0; i < 5; i++) await fx.publish(randomBytes(1000 + i), { name: `page-${i}.bin` });
  const all = await fx.client.list();
  assert.ok(all.length >= 6);
  const seen: string[] = [];
  let offset: number | undefined = 0;
  let pages = 0;
  while (offset !== undefined) {
    const res = await fx.gateway.app.inject({ method: 'GET', url: `/videos?offset=${offset}&limit=2` });
    assert.is(res.statusCode, 200);
    const body = res.json() as { videos: Array<{ videoId: string }>; next?: number };
    assert.ok(body.videos.length <= 2);
    seen.push(...body.videos.map((v) => v.videoId));
    offset = body.next;
    pages++;
  }
  assert.is(pages, Math.ceil(all.length / 2));
  assert.equal(seen, all.map((v) => v.videoId));
  assert.is((await fx.gateway.app.inject({ method: 'GET', url: '/videos?limit=501' })).statusCode, 400);
  assert.is((await fx.gateway.app.inject({ method: 'GET', url: '/videos?offset=-1' })).statusCode, 400);
  const past = await fx.gateway.app.inject({ method: 'GET', url: '/videos?offset=100000' });
  assert.equal(past.json(), { videos: [] });
});

function manifestOf(bytes: Uint8Array, name: string): Manifest {
  return buildManifest({ name, mime: 'application/octet-stream', size: bytes.byteLength, chunkSize: CHUNK_SIZE,
    chunks: [sha256Hex(bytes)] });
}

t('catalog quotas: past max videos or max manifest bytes → quota_exceeded, nothing stored', async ({ fx }) => {
  const kv = await new Kvm(fx.nc).create(`sy_quota_test`, { history: 1 });
  const catalog = createKvCatalog(kv, { maxVideos: 2, maxManifestBytes: 2000 });
  const m = [0, 1, 2].map((i) => manifestOf(randomBytes(100), `q${i}.bin`));
  assert.equal(await catalog.publish(m[0]!), { created: true });
  assert.equal(await catalog.publish(m[1]!), { created: true });
  assert.equal(await catalog.publish(m[0]!), { created: false }, 'a republication is not a new video');
  try {
    await catalog.publish(m[2]!);
    assert.unreachable('third video accepted');
  } catch (err) {
    assert.is((err as { code?: string }).code, 'quota_exceeded');
  }
  const page = await catalog.list();
  assert.is(page.videos.length, 2);
  const big = buildManifest({ name: 'x'.repeat(200), mime: 'application/octet-stream', size: 40 * CHUNK_SIZE,
    chunkSize: CHUNK_SIZE, chunks: Array.from({ length: 40 }, () => sha256Hex(randomBytes(8))) });
  const small = createKvCatalog(kv, { maxVideos: 100, maxManifestBytes: 2000 });
  try {
    await small.publish(big);
    assert.unreachable('oversized manifest accepted');
  } catch (err) {
    assert.is((err as { code?: string }).code, 'quota_exceeded');
  }
});

t.run();
