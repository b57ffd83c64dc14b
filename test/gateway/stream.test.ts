/**
 * Chunks leave the gateway streamed from the store (gateway/serve.ts): the bytes, Range, If-Range and HEAD over
 * real sockets; a file damaged on disk refused before any byte; read errors that end the connection instead of
 * presenting a short body as complete, without taking the process down; and descriptors released when a client
 * leaves while its response waits for origin egress. Real origin, leases, fs store and gateway.
 */
import { randomBytes } from 'node:crypto';
import { truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createIngestSubmitter } from '../../actors/ingest/mod.js';
import { createGateway, type Gateway } from '../../gateway/mod.js';
import { systemClock } from '../../lib/clock.js';
import { sha256Hex, signGrant } from '../../lib/hash.js';
import { createTokenBucket, type TokenBucket } from '../../lib/tokenbucket.js';
import { URGENT_KIND, type Manifest, type OpenGranted } from '../../protocol/mod.js';
import { granted } from '../helpers/env.js';
import type { ChunkStore } from '../../store/mod.js';
import { CHUNK_SIZE, startFixture, type Fixture } from './fixture.js';

interface Ctx {
  fx: Fixture;
  bytes: Uint8Array;
  video: Manifest;
  a: OpenGranted;
  /** the fixture's gateway on a real socket, with a budget large enough for the many fetches below */
  base: string;
  /** keeps peerA's slot (the fixture's leases last 2 s) */
  beat: NodeJS.Timeout;
}
const t = suite<Ctx>('chunks streamed from the store');

t.before(async (ctx) => {
  ctx.fx = await startFixture();
  ctx.bytes = randomBytes(4 * CHUNK_SIZE + 123);
  ctx.video = await ctx.fx.publish(ctx.bytes, { name: 'stream.bin' });
  ctx.a = granted(await ctx.fx.client.open(ctx.video.videoId, 'peerA'));
  ctx.beat = setInterval(() => void ctx.fx.client.heartbeat(ctx.a.sessionId, 'peerA').catch(() => {}), 400);
  ctx.base = await (await ctx.fx.gatewayWith({ sessionBudgetFactor: 1000 })).start();
});
t.after(async ({ fx, beat }) => {
  clearInterval(beat);
  await fx.close();
});

const slice = (ctx: Ctx, i: number) =>
  Buffer.from(ctx.bytes.subarray(i * CHUNK_SIZE, Math.min((i + 1) * CHUNK_SIZE, ctx.bytes.byteLength)));
const fetchChunk = (ctx: Ctx, base: string, i: number, headers: Record<string, string> = {}, method = 'GET') =>
  fetch(`${base}/videos/${ctx.video.videoId}/chunks/${i}`,
    { method, headers: { authorization: `Bearer ${ctx.a.grant}`, ...headers } });
const filePath = (fx: Fixture, hash: string) => join(fx.dir, 'store', hash.slice(0, 2), hash.slice(2, 4), hash);

t('whole chunk over a socket: exact bytes, Content-Length, ETag; the short last chunk too', async (ctx) => {
  for (const i of [0, 1, 4]) {
    const res = await fetchChunk(ctx, ctx.base, i);
    assert.is(res.status, 200);
    const body = Buffer.from(await res.arrayBuffer());
    assert.ok(body.equals(slice(ctx, i)), `chunk ${i}`);
    assert.is(res.headers.get('content-length'), String(body.byteLength));
    assert.is(res.headers.get('etag'), `"${ctx.video.chunks[i]}"`);
    assert.is(res.headers.get('accept-ranges'), 'bytes');
  }
});

t('Range: 206 with the slice and its length; If-Range with another ETag sends the whole chunk', async (ctx) => {
  const full = slice(ctx, 2);
  const cases = [
    ['bytes=0-0', 0, 0], ['bytes=1000-70000', 1000, 70000], ['bytes=-7', CHUNK_SIZE - 7, CHUNK_SIZE - 1],
  ] as const;
  for (const [range, start, end] of cases) {
    const res = await fetchChunk(ctx, ctx.base, 2, { range });
    assert.is(res.status, 206, range);
    assert.is(res.headers.get('content-range'), `bytes ${start}-${end}/${CHUNK_SIZE}`);
    assert.is(res.headers.get('content-length'), String(end - start + 1));
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(full.subarray(start, end + 1)), range);
  }
  const stale = await fetchChunk(ctx, ctx.base, 2, { range: 'bytes=0-9', 'if-range': '"stale"' });
  assert.is(stale.status, 200);
  assert.ok(Buffer.from(await stale.arrayBuffer()).equals(full));
  const same = await fetchChunk(ctx, ctx.base, 2, { range: 'bytes=0-9', 'if-range': `"${ctx.video.chunks[2]}"` });
  assert.is(same.status, 206);
  assert.ok(Buffer.from(await same.arrayBuffer()).equals(full.subarray(0, 10)));
});

t('HEAD announces the GET\'s length (whole or ranged), sends no body and counts nothing', async (ctx) => {
  const gw = ctx.fx.gateway;
  const before = gw.stats().chunkBytesTotal;
  const head = (headers: Record<string, string>) => gw.app.inject({ method: 'HEAD',
    url: `/videos/${ctx.video.videoId}/chunks/4`, headers: { authorization: `Bearer ${ctx.a.grant}`, ...headers } });
  const whole = await head({});
  assert.is(whole.statusCode, 200);
  assert.is(whole.headers['content-length'], '123');
  assert.is(whole.rawPayload.byteLength, 0);
  const ranged = await head({ range: 'bytes=10-19' });
  assert.is(ranged.statusCode, 206);
  assert.is(ranged.headers['content-length'], '10');
  assert.is(ranged.headers['content-range'], 'bytes 10-19/123');
  assert.is(ranged.rawPayload.byteLength, 0);
  assert.is(gw.stats().chunkBytesTotal, before);
});

t('the urgent route streams the same way: bytes, and a HEAD with the real length', async (ctx) => {
  const grant = signGrant({ v: ctx.video.videoId, p: 'peerU', s: 'urgent-session', n: -1, exp: Date.now() + 60_000,
    k: URGENT_KIND, c: [3], b: CHUNK_SIZE }, ctx.fx.grantSecret);
  const url = `/videos/${ctx.video.videoId}/urgent/3`;
  const head = await ctx.fx.gateway.app.inject({ method: 'HEAD', url, headers: { authorization: `Bearer ${grant}` } });
  assert.is(head.statusCode, 200);
  assert.is(head.headers['content-length'], String(CHUNK_SIZE));
  const res = await fetch(`${ctx.base}${url}`, { headers: { authorization: `Bearer ${grant}` } });
  assert.is(res.status, 200);
  assert.ok(Buffer.from(await res.arrayBuffer()).equals(slice(ctx, 3)));
});

t('concurrent whole and ranged fetches each get exactly their bytes (reused read buffers)', async (ctx) => {
  const jobs = Array.from({ length: 60 }, (_, k) => async () => {
    const i = k % 5;
    const full = slice(ctx, i);
    if (k % 3 === 0) {
      const start = (k * 997) % full.byteLength;
      const res = await fetchChunk(ctx, ctx.base, i, { range: `bytes=${start}-` });
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(full.subarray(start)), `range of chunk ${i}`);
    } else {
      const res = await fetchChunk(ctx, ctx.base, i);
      assert.is(sha256Hex(new Uint8Array(await res.arrayBuffer())), ctx.video.chunks[i], `chunk ${i}`);
    }
  });
  for (let round = 0; round < 3; round++) await Promise.all(jobs.map((j) => j()));
});

t('a store file of another size than the manifest says is refused (500, logged), never served', async (ctx) => {
  const bytes = randomBytes(CHUNK_SIZE + 50);
  const m = await ctx.fx.publish(bytes, { name: 'damaged.bin' });
  const b = granted(await ctx.fx.client.open(m.videoId, 'peerB'));
  const before = ctx.fx.gateway.stats().chunkBytesTotal;
  try {
    truncateSync(filePath(ctx.fx, m.chunks[0]!), 1000);
    writeFileSync(filePath(ctx.fx, m.chunks[1]!), randomBytes(60)); // grown: 60 bytes where the manifest says 50
    for (const [i, headers] of [[0, {}], [0, { range: 'bytes=0-99' }], [1, {}]] as const) {
      const res = await ctx.fx.gateway.app.inject({ method: 'GET', url: `/videos/${m.videoId}/chunks/${i}`,
        headers: { authorization: `Bearer ${b.grant}`, ...headers } });
      assert.is(res.statusCode, 500, `chunk ${i} ${JSON.stringify(headers)}`);
      assert.match(String(res.headers['content-type']), /^application\/json/);
      assert.is(res.headers.etag, undefined, 'no success header on the refusal');
      assert.is(res.headers['content-range'], undefined);
    }
    const head = await ctx.fx.gateway.app.inject({ method: 'HEAD', url: `/videos/${m.videoId}/chunks/0`,
      headers: { authorization: `Bearer ${b.grant}` } });
    assert.is(head.statusCode, 500, 'HEAD checks the stored size too');
    assert.ok(ctx.fx.logLines.some((l) => l.includes('ERROR') && l.includes('manifest says')), 'logged as a fault');
    assert.is(ctx.fx.gateway.stats().chunkBytesTotal, before, 'no byte counted');
  } finally {
    await ctx.fx.client.release(b.sessionId, 'peerB');
  }
});

/** The fixture's components behind a store whose streams the test controls. */
async function gatewayOver(fx: Fixture, store: ChunkStore, egress?: TokenBucket): Promise<Gateway> {
  return createGateway({ grantSecret: fx.grantSecret, stagingDir: fx.stagingDir, sessionBudgetFactor: 1000 },
    { origin: fx.client, leases: fx.leases, store, clock: systemClock, logger: fx.gatewayLogger,
      ingest: createIngestSubmitter({ nc: fx.nc, logger: fx.gatewayLogger }), ...(egress ? { egress } : {}) });
}

t('a read error mid-stream cuts the connection (no complete-looking body) and counts nothing', async (ctx) => {
  let failAfter: number | null = 1000;
  const store: ChunkStore = {
    ...ctx.fx.store,
    async open(hash, range, opts) {
      const real = await ctx.fx.store.open(hash, range, opts);
      if (failAfter === null) return real;
      real.stream.destroy();
      const n = failAfter;
      const broken = new Readable({ read() {} });
      if (n > 0) broken.push(randomBytes(n));
      setTimeout(() => broken.destroy(new Error('disk on fire')), 20);
      return { size: real.size, stream: broken };
    },
  };
  const gw = await gatewayOver(ctx.fx, store);
  try {
    const base = await gw.start();
    const mid = await fetchChunk(ctx, base, 1);
    assert.is(mid.status, 200, 'the headers had left');
    try {
      await mid.arrayBuffer();
      assert.unreachable('a body cut short must fail, not look complete');
    } catch (err) {
      assert.not.instance(err, assert.Assertion);
    }
    failAfter = 0; // fails before the first byte: an ordinary error answer
    const early = await fetchChunk(ctx, base, 1);
    assert.is(early.status, 500);
    assert.is(((await early.json()) as { error: { code: string } }).error.code, 'internal');
    assert.is(gw.stats().chunkBytesTotal, 0);
    failAfter = null;
    const ok = await fetchChunk(ctx, base, 1);
    assert.ok(Buffer.from(await ok.arrayBuffer()).equals(slice(ctx, 1)), 'the same gateway serves the next request');
  } finally {
    await gw.stop();
  }
});

t('a client that leaves while queued for origin egress releases its file at once, charged nothing', async (ctx) => {
  const opened: Readable[] = [];
  const store: ChunkStore = {
    ...ctx.fx.store,
    async open(hash, range, opts) {
      const r = await ctx.fx.store.open(hash, range, opts);
      opened.push(r.stream);
      return r;
    },
  };
  // 64 KiB/s with the burst spent: a whole chunk would wait about 4 s
  const egress = createTokenBucket(64 * 1024, 16 * 1024);
  await egress.take(16 * 1024);
  const gw = await gatewayOver(ctx.fx, store, egress);
  try {
    const base = await gw.start();
    const gone = new AbortController();
    const leaving = fetch(`${base}/videos/${ctx.video.videoId}/chunks/0`,
      { headers: { authorization: `Bearer ${ctx.a.grant}` }, signal: gone.signal }).catch(() => null);
    const until = async (cond: () => boolean, what: string) => {
      const deadline = Date.now() + 2000;
      while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.ok(cond(), what);
    };
    await until(() => opened.length === 1, 'the request opened its chunk and waits for egress');
    assert.is(opened[0]!.destroyed, false);
    gone.abort();
    await leaving;
    await until(() => opened[0]!.destroyed, 'the stream (and its descriptor) is released when the client leaves');
    assert.is(gw.stats().chunkBytesTotal, 0);
  } finally {
    await gw.stop();
  }
});

t.run();
