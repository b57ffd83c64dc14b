/**
 * The browser peer with a free origin slot: the same engine fetches from the gateway under the grant (HTTP with
 * the grant as bearer token, same origin as the page), plays, and releases the slot when done.
 */
import { createHash } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { makeTestVideo, publishedSha256 } from '../helpers/video.js';
import { waitFor } from '../helpers/env.js';
import { ingest, openWatchPage, pageBytes, startWatchEnv, stopWatchEnv, waitForPage, type WatchEnv } from './helpers.js';

const test = suite<{ env: WatchEnv }>('watch: the browser peer under an origin grant');
test.before(async (ctx) => {
  ctx.env = await startWatchEnv({ capacity: 1 });
});
test.after(async (ctx) => {
  await stopWatchEnv(ctx.env);
});

test('a free slot: the page plays from the origin, every byte verified, and gives the slot back', async (ctx) => {
  const { env } = ctx;
  const manifest = await ingest(env, makeTestVideo(env.dir, { seconds: 8, bitrate: '300k' }), { chunkSize: 64 * 1024 });
  assert.ok(manifest.stream);
  const page = await openWatchPage(env, manifest.videoId, '?label=granted');
  const s = await waitForPage(page, (x) => x.complete && x.playing, 'playback and completion', 60_000);
  console.log(`  ${s.peerId}: ${s.bytesFromOrigin} B from the origin, ${s.bytesFromPeers} B from peers`);
  assert.is(s.bytesFromOrigin, manifest.size, 'every byte from the origin');
  assert.is(s.bytesFromPeers, 0);
  assert.is(s.corruptChunks, 0);
  const bytes = await pageBytes(page, 0, manifest.size);
  assert.is(createHash('sha256').update(bytes).digest('hex'), await publishedSha256(env.stack.store, manifest));
  // the slot was released, not left to expire
  await waitFor(() => env.stack.origins[0]!.admission.snapshot().slots.every((x) => x === null), 'the slot is free again');
});

test('early.js arriving after the page module (a busy machine): the page still plays on one MediaSource', async (ctx) => {
  const { env } = ctx;
  // another video than the first test's: its page (still open, seeding) is no peer of this one
  const manifest = await ingest(env, makeTestVideo(env.dir, { seconds: 6, bitrate: '300k', name: 'late-early.mp4' }),
    { chunkSize: 64 * 1024 });
  let heldUntilModuleRan = false;
  const page = await openWatchPage(env, manifest.videoId, '?label=lateearly', async (p) => {
    // the async early script is held back until the page's module has run (its API is on window)
    await p.route('**/watch/assets/early*.js', async (route) => {
      const until = Date.now() + 10_000;
      while (Date.now() < until && !(await p.evaluate(() => 'switchyard' in globalThis).catch(() => false))) {
        await new Promise((r) => setTimeout(r, 50));
      }
      heldUntilModuleRan = Date.now() < until;
      await route.continue();
    });
  });
  const s = await waitForPage(page, (x) => x.complete && x.playing && x.currentTime > 0, 'playback and completion', 60_000);
  assert.ok(heldUntilModuleRan, 'early.js was delivered after the module ran');
  assert.is(s.bytesFromOrigin + s.bytesFromPeers, manifest.size);
  assert.ok(s.media.readyState >= 2, `the video has data at the playhead (readyState ${s.media.readyState})`);
  const early = await page.evaluate(() => Boolean((globalThis as unknown as
    { switchyardEarly?: { mediaSource?: unknown } }).switchyardEarly?.mediaSource));
  assert.is(early, false, 'the late early.js left the player alone');
  await waitFor(() => env.stack.origins[0]!.admission.snapshot().slots.every((x) => x === null), 'the slot is free again');
});

test.run();
