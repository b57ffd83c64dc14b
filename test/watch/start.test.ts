/**
 * The watch page's start window: with the origin full but keeping its urgent share, the page's HTML carries a
 * start grant, the page plays its first seconds from it over plain HTTP (while its engine is still joining) and
 * the rest from peers. A start grant is an urgent grant like any other: its chunks only, its bytes only, never on
 * the slot route.
 */
import { createHash } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chunkLength, startChunkPath, type Manifest, type WatchBoot } from '../../protocol/mod.js';
import { makeTestVideo, publishedSha256 } from '../helpers/video.js';
import {
  ingest, openWatchPage, pageBytes, startHeadlessPeer, startWatchEnv, stopWatchEnv, storeSource, waitForPage,
  type WatchEnv,
} from './helpers.js';

const test = suite<{ env: WatchEnv }>('watch: the start window');
test.before(async (ctx) => {
  ctx.env = await startWatchEnv({ capacity: 0 });
});
test.after(async (ctx) => {
  await stopWatchEnv(ctx.env);
});

async function bootOf(env: WatchEnv, m: Manifest): Promise<WatchBoot> {
  const html = await (await fetch(`${env.stack.gatewayUrl}/watch/${m.videoId}`)).text();
  const json = /<script type="application\/json" id="sy-boot">(.*?)<\/script>/s.exec(html)?.[1];
  assert.ok(json, 'the page has boot data');
  return JSON.parse(json!) as WatchBoot;
}

test('origin full with an urgent share: the first seconds from the start grant, the rest from peers', async (ctx) => {
  const { env } = ctx;
  const m = await ingest(env, makeTestVideo(env.dir, { seconds: 12, bitrate: '300k', name: 'start-a.mp4' }), { chunkSize: 64 * 1024 });
  assert.ok(m.stream);
  await startHeadlessPeer(env, 'seedA', m, storeSource(env, m));
  const boot = await bootOf(env, m);
  assert.ok(boot.start && boot.start.chunks.length > 0, 'the page got a start grant');
  const windowBytes = boot.start!.chunks.reduce((n, i) => n + chunkLength(m, i), 0);

  const before = env.stack.gateway.stats().urgentBytesTotal;
  const page = await openWatchPage(env, m.videoId, '?label=starter');
  const s = await waitForPage(page, (x) => x.complete && x.playing, 'playback and completion', 60_000);
  const marks = await page.evaluate(() => performance.getEntriesByType('mark').map((e) => e.name));
  const served = env.stack.gateway.stats().urgentBytesTotal - before;
  console.log(`  ${s.bytesFromOrigin} B from the origin (start window ${windowBytes} B, urgent share served ${served} B), ` +
    `${s.bytesFromPeers} B from peers`);
  assert.ok(marks.includes('sy:chunk.start'), 'start chunks were fetched under the start grant');
  assert.ok(s.bytesFromOrigin > 0 && s.bytesFromOrigin <= windowBytes, 'from the origin: the start window at most');
  assert.ok(served > 0 && served <= windowBytes, 'the gateway served no more than the window from its urgent share');
  assert.ok(s.bytesFromPeers >= m.size - s.bytesFromOrigin, 'the rest from peers');
  assert.is(s.corruptChunks, 0);
  const bytes = await pageBytes(page, 0, m.size);
  assert.is(createHash('sha256').update(bytes).digest('hex'), await publishedSha256(env.stack.store, m));
  const err = await page.evaluate(() => (globalThis as unknown as { switchyard: { error: string | null } }).switchyard.error);
  assert.is(err, null, 'no player error');
});

test('a start grant serves its own chunks once each, and nothing on the slot route', async (ctx) => {
  const { env } = ctx;
  const m = await ingest(env, makeTestVideo(env.dir, { seconds: 8, bitrate: '300k', name: 'start-b.mp4' }), { chunkSize: 64 * 1024 });
  const boot = await bootOf(env, m);
  const { grant, chunks } = boot.start!;
  const get = (path: string, init?: RequestInit) => fetch(`${env.stack.gatewayUrl}${path}`, init);
  for (const i of chunks) {
    const res = await get(startChunkPath(m.videoId, i, grant));
    assert.is(res.status, 200, `start chunk ${i}`);
    assert.is((await res.arrayBuffer()).byteLength, chunkLength(m, i));
  }
  // its budget is spent: a second copy is refused
  const again = await get(startChunkPath(m.videoId, chunks[0]!, grant));
  assert.is(again.status, 429);
  // a chunk it does not name, and the slot route, refuse it
  const beyond = await get(startChunkPath(m.videoId, chunks[chunks.length - 1]! + 1, grant));
  assert.is(beyond.status, 403);
  const slot = await get(`/videos/${m.videoId}/chunks/${chunks[0]}`, { headers: { authorization: `Bearer ${grant}` } });
  assert.is(slot.status, 403);
  // another video's page cannot use it
  const other = await ingest(env, makeTestVideo(env.dir, { seconds: 4, bitrate: '200k', name: 'other.mp4' }));
  assert.is((await get(startChunkPath(other.videoId, 0, grant))).status, 403);
});

test.run();
