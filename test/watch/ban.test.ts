/**
 * A peer that sends a browser a wrong chunk is banned there exactly as on the headless peer (test/e2e/p2p.test.ts
 * "a peer sending corrupt chunks"): WebCrypto finds the chunk wrong, it is never stored or played, the download
 * machine bans the sender (link banned, never linked again), the tracker is told, and the download completes from
 * the honest peer. The liar claims every chunk and sends random bytes of the right length, so only the hash can
 * tell.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fileSource } from '../../client/p2p/sources.js';
import { chunkLength } from '../../protocol/mod.js';
import { createOriginClient } from '../../actors/origin/client.js';
import { ingestFile } from '../../actors/ingest/ingest.js';
import { waitFor } from '../helpers/env.js';
import { makeTestVideo } from '../helpers/video.js';
import {
  ingest, logger, MiB, openWatchPage, pageBytes, pageStatus, startHeadlessPeer, storeSource, startWatchEnv, stopWatchEnv, waitForPage, type WatchEnv,
} from './helpers.js';

const test = suite<{ env: WatchEnv }>('watch: a peer sending a wrong chunk to a browser is banned');
test.before(async (ctx) => {
  ctx.env = await startWatchEnv({ capacity: 0, urgentBps: 0 });
});
test.after(async (ctx) => {
  await stopWatchEnv(ctx.env);
});

test('the liar is banned by the browser and reported; no byte of it is kept; the download completes', async (ctx) => {
  const { env } = ctx;
  const file = join(env.dir, 'video.bin');
  writeFileSync(file, randomBytes(4 * MiB));
  const manifest = await ingest(env, file);
  const src = await fileSource(file, manifest);
  env.stops.push(() => src.close());
  // the honest seeder is slow, so the browser asks the (eager, uncapped) liar for chunks too
  await startHeadlessPeer(env, 'honestseed', manifest, src, { uploadRate: 1 * MiB });
  const count = manifest.chunks.length;
  await startHeadlessPeer(env, 'evil', manifest, {
    has: () => true,
    have: () => new Array<boolean>(count).fill(true),
    read: async (i) => randomBytes(chunkLength(manifest, i)),
  });

  const page = await openWatchPage(env, manifest.videoId, '?play=0&label=victim');
  const s = await waitForPage(page, (x) => x.complete, 'the browser download to complete', 90_000);
  console.log(`  browser ${s.peerId}: banned ${JSON.stringify(s.banned)}, ${s.corruptChunks} corrupt chunk(s) refused, ` +
    `bytes by peer ${JSON.stringify(s.bytesByPeer)}`);
  assert.ok(s.corruptChunks >= 1, 'the liar did send a wrong chunk (and it was refused)');
  assert.ok(s.banned.includes('evil'), 'the browser banned the liar');
  assert.not.ok(s.banned.includes('honestseed'), 'the honest seeder is not banned');
  assert.is(s.bytesByPeer.evil, undefined, 'no byte from the liar was kept');
  assert.is(s.bytesByPeer.honestseed, manifest.size, 'everything from the honest seeder');
  // banned means never linked again: the liar keeps announcing, yet no link to it comes back
  await new Promise((r) => setTimeout(r, 2500));
  const later = await pageStatus(page);
  assert.not.ok(later?.linked.includes('evil'), `no link to the liar: ${JSON.stringify(later?.linked)}`);
  // the tracker records the report from the browser's peer id (the subject names the reporter)
  await waitFor(() => (env.stack.tracker.snapshot(manifest.videoId).find((p) => p.peerId === 'evil')?.reports ?? [])
    .includes(s.peerId), 'the tracker recorded the browser\'s report');
  const bytes = await pageBytes(page, 0, manifest.size);
  assert.is(createHash('sha256').update(bytes).digest('hex'), createHash('sha256').update(readFileSync(file)).digest('hex'),
    'the page holds the file, byte-identical');
});

test('while playing: a wrong segment chunk is refused, the liar banned, playback goes on from the honest peer', async (ctx) => {
  const { env } = ctx;
  const path = makeTestVideo(env.dir, { seconds: 20, bitrate: '300k', name: 'liar-test.mp4' });
  const origin = createOriginClient(env.stack.nc);
  const manifest = (await ingestFile({ path, chunkSize: 32 * 1024 },
    { store: env.stack.store, publish: (m) => origin.publish(m), logger })).manifest;
  assert.ok(manifest.stream, 'a streamable video');
  const count = manifest.chunks.length;
  await startHeadlessPeer(env, 'honest2', manifest, storeSource(env, manifest), { uploadRate: 256 * 1024 });
  await startHeadlessPeer(env, 'evil2', manifest, {
    has: () => true,
    have: () => new Array<boolean>(count).fill(true),
    read: async (i) => randomBytes(chunkLength(manifest, i)),
  });
  const page = await openWatchPage(env, manifest.videoId, '?label=player');
  const s = await waitForPage(page, (x) => x.banned.includes('evil2') && x.currentTime > 2, 'a ban and playback', 60_000);
  console.log(`  browser ${s.peerId}: banned ${JSON.stringify(s.banned)} at currentTime ${s.currentTime.toFixed(1)} s, ` +
    `${s.corruptChunks} corrupt chunk(s) refused, bytes by peer ${JSON.stringify(s.bytesByPeer)}`);
  assert.ok(s.corruptChunks >= 1, 'a wrong chunk was refused');
  assert.is(s.bytesByPeer.evil2, undefined, 'no byte from the liar was kept');
  const done = await waitForPage(page, (x) => x.complete, 'the download to complete', 90_000);
  assert.is(done.bytesByPeer.evil2, undefined);
  assert.not.ok(done.linked.includes('evil2'), 'never linked again');
  const err = await page.evaluate(() => (globalThis as unknown as { switchyard: { error: string | null } }).switchyard.error);
  assert.is(err, null, 'the player never saw a wrong byte (no decode error)');
  await waitFor(() => (env.stack.tracker.snapshot(manifest.videoId).find((p) => p.peerId === 'evil2')?.reports ?? [])
    .includes(s.peerId), 'the tracker recorded the report');
});

test.run();
