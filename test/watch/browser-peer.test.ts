/**
 * The browser peer over RTCPeerConnection (real Chromium, real node-datachannel, real NATS over WebSocket): with
 * the origin full, a browser fetches a whole video from a headless seeder, verifying every chunk with WebCrypto.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fileSource } from '../../client/p2p/sources.js';
import type { Page } from 'playwright-core';
import type { PeerNode } from '../../client/p2p/peer.js';
import type { Manifest } from '../../protocol/mod.js';
import { sha256File } from '../helpers/cli.js';
import { waitFor } from '../helpers/env.js';
import { startClient } from '../helpers/peers.js';
import {
  ingest, logger, MiB, openWatchPage, pageBytes, pageStatus, startHeadlessPeer, startWatchEnv, stopWatchEnv, waitForPage,
  type WatchEnv,
} from './helpers.js';

const test = suite<{ env: WatchEnv; manifest: Manifest; file: string; browserId: string; seeder: PeerNode; page: Page }>(
  'watch: a browser peer and headless peers, both directions');
test.before(async (ctx) => {
  ctx.env = await startWatchEnv({ capacity: 0, urgentBps: 0 });
});
test.after(async (ctx) => {
  await stopWatchEnv(ctx.env);
});

test('origin full: every chunk comes from the headless seeder over WebRTC, verified, byte-identical', async (ctx) => {
  const { env } = ctx;
  const file = join(env.dir, 'video.bin');
  writeFileSync(file, randomBytes(3 * MiB + 12345));
  const manifest = await ingest(env, file);
  const src = await fileSource(file, manifest);
  env.stops.push(() => src.close());
  ctx.seeder = await startHeadlessPeer(env, 'headseed', manifest, src);
  ctx.manifest = manifest;
  ctx.file = file;

  const page = await openWatchPage(env, manifest.videoId, '?play=0&label=browser');
  const s = await waitForPage(page, (x) => x.complete, 'the browser download to complete', 60_000);
  console.log(`  browser ${s.peerId}: ${s.state}, ${s.bytesFromPeers} B from peers, ${s.bytesFromOrigin} B from the origin`);
  assert.is(s.mode, 'seeding', 'a complete browser peer seeds');
  assert.is(s.bytesFromOrigin, 0, 'the origin is full: nothing from it');
  assert.is(s.bytesFromPeers, manifest.size, 'every byte from peers');
  assert.is(s.bytesByPeer.headseed, manifest.size, 'from the headless seeder');
  assert.is(s.verifiedChunks, manifest.chunks.length, 'every chunk verified by WebCrypto');
  assert.is(s.corruptChunks, 0);
  assert.ok(s.peerId.startsWith('browser'), `peer id from the minted credential: ${s.peerId}`);
  const bytes = await pageBytes(page, 0, manifest.size);
  assert.is(createHash('sha256').update(bytes).digest('hex'),
    createHash('sha256').update(readFileSync(file)).digest('hex'), 'the page holds the file, byte-identical');
  ctx.browserId = s.peerId;
  ctx.page = page;
  // the browser publishes the CLI's telemetry: the dashboard lists it, seeding, with its bytes from peers
  await waitFor(async () => {
    const state = (await (await fetch(`${env.stack.gatewayUrl}/dashboard/state`)).json()) as {
      peers: Array<{ peerId: string; mode: string; bytesBySource: Record<string, number> }> };
    const row = state.peers.find((p) => p.peerId === s.peerId);
    return row?.mode === 'seeding' && row.bytesBySource['peer:headseed'] === manifest.size ? row : null;
  }, 'the dashboard shows the browser peer seeding', 10_000, 250);
});

test('the other direction: the browser peer seeds a headless peer (origin full, the headless seeder gone)', async (ctx) => {
  const { env, manifest } = ctx;
  await ctx.seeder.stop(); // from now on only the browser holds the video
  const client = await startClient({ peers: env.stack, gateway: env.stack.gatewayUrl, manifest, dir: env.dir, rtc: env.rtc,
    logger, peerId: 'headleech' });
  env.stops.push(() => client.stop());
  const r = await client.result;
  assert.is(r.status, 'complete', r.error?.message);
  console.log(`  headless ${client.peerId}: ${client.history.join(' → ')} ${JSON.stringify(r.bytesBySource)}`);
  assert.is(r.bytesBySource[`peer:${ctx.browserId}`], manifest.size, 'every byte from the browser peer');
  assert.is(r.bytesBySource.origin, undefined, 'nothing from the full origin');
  assert.is(sha256File(client.outPath), sha256File(ctx.file), 'byte-identical');
  const s = await pageStatus(ctx.page);
  assert.ok((s?.uploadedBytes ?? 0) >= manifest.size, `the page reports its upload: ${s?.uploadedBytes} B`);
});

test.run();
