/**
 * The watch page plays while it downloads (real Chromium with Debian's H.264/AAC decoders, hls.js through the
 * Switchyard loader, real WebRTC to headless seeders, NATS over WebSocket). The origin is full and keeps no
 * urgent share (so the page gets no start grant: test/watch/start.test.ts), so every byte comes from peers; the seeders' uploads are capped at twice the video's bit rate each, so the download takes
 * longer than the first seconds of playback.
 */
import { createHash } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { streamDuration } from '../../protocol/mod.js';
import { makeTestVideo, publishedSha256 } from '../helpers/video.js';
import {
  ingest, openWatchPage, pageBytes, pageMarks, startHeadlessPeer, startWatchEnv, stopWatchEnv, storeSource, waitForPage,
  type WatchEnv,
} from './helpers.js';

const test = suite<{ env: WatchEnv }>('watch: the page plays while it downloads from peers');
test.before(async (ctx) => {
  ctx.env = await startWatchEnv({ capacity: 0, urgentBps: 0 });
});
test.after(async (ctx) => {
  await stopWatchEnv(ctx.env);
});

test('origin full, two headless seeders: playback passes 5 s before the download completes; bytes from peers', async (ctx) => {
  const { env } = ctx;
  const manifest = await ingest(env, makeTestVideo(env.dir, { seconds: 40, bitrate: '300k' }), { chunkSize: 64 * 1024 });
  assert.ok(manifest.stream, 'ingest packaged the video for streaming');
  const duration = streamDuration(manifest.stream!);
  const bytesPerSec = manifest.size / duration;
  console.log(`  video: ${manifest.size} B, ${duration.toFixed(1)} s, ${manifest.chunks.length} chunks, ` +
    `${Math.round((bytesPerSec * 8) / 1000)} kbit/s; seeders capped at ${Math.round(2 * bytesPerSec)} B/s each`);
  for (const id of ['seedA', 'seedB']) {
    await startHeadlessPeer(env, id, manifest, storeSource(env, manifest), { uploadRate: Math.round(2 * bytesPerSec) });
  }

  // keepBehind=4: a few chunks behind the playhead only, so eviction is visible in a short video
  const page = await openWatchPage(env, manifest.videoId, '?label=viewer&keepBehind=4');
  const started = Date.now();
  await waitForPage(page, (s) => s.playing && s.currentTime > 0, 'playback to start', 30_000);
  const startMs = Date.now() - started;
  const s = await waitForPage(page, (x) => x.complete, 'the download to complete', 120_000);
  const marks = await pageMarks(page);
  console.log(`  playing after ${startMs} ms; marks ${JSON.stringify(marks)}; ${s.bytesFromPeers} B from peers, ` +
    `${s.bytesFromOrigin} B from the origin; ${s.evictedChunks} chunks evicted, ${s.heldBytes} B held`);
  assert.ok(marks.passed5s !== undefined, 'currentTime passed 5 s');
  assert.ok(marks.complete !== undefined && marks.passed5s! < marks.complete,
    `currentTime passed 5 s (at ${marks.passed5s} ms) before the download completed (at ${marks.complete} ms)`);
  assert.ok((marks.currentTimeAtComplete ?? 0) >= 5, `currentTime at completion: ${marks.currentTimeAtComplete}`);
  assert.is(s.bytesFromOrigin, 0, 'the origin is full');
  assert.ok(s.bytesFromPeers >= manifest.size, 'every byte from peers');
  assert.ok((s.bytesByPeer.seedA ?? 0) > 0 && (s.bytesByPeer.seedB ?? 0) > 0, 'from both seeders');
  assert.is(s.corruptChunks, 0);
  assert.ok(s.evictedChunks > 0, 'chunks behind the playhead were evicted');
  assert.ok(s.heldBytes < manifest.size, `memory stays bounded: ${s.heldBytes} of ${manifest.size} B held`);
  assert.is(s.mode, 'seeding');

  // the final bytes: the whole file read through the engine (evicted chunks fetched again, every chunk verified)
  const bytes = await pageBytes(page, 0, manifest.size);
  assert.is(createHash('sha256').update(bytes).digest('hex'), await publishedSha256(env.stack.store, manifest),
    'the bytes the page plays are the published bytes');
  const { error, stalls } = await page.evaluate(() => {
    const api = (globalThis as unknown as { switchyard: { error: string | null; stalls: number } }).switchyard;
    return { error: api.error, stalls: api.stalls };
  });
  assert.is(error, null, 'no player error');
  // the seeders' uploads together are 4× the bit rate: playback never ran dry after it started
  assert.is(stalls, 0, 'no stall while the emulated bandwidth exceeds the bit rate');
});

test.run();
