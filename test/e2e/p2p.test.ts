/**
 * P2P end to end (real nats-server, real gateway, real node-datachannel peers on 127.0.0.1): a flash crowd
 * against an origin of capacity 1, and a malicious peer that answers with corrupt bytes.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createOriginClient } from '../../actors/origin/client.js';
import { ingestFile } from '../../actors/ingest/ingest.js';
import { createPeerNode } from '../../client/p2p/peer.js';
import { createRtcHost, type RtcHost } from '../../client/p2p/rtc.js';
import { fileSource } from '../../client/p2p/sources.js';
import { startStack, type Stack } from '../../client/stack.js';
import { createLogger } from '../../lib/logger.js';
import { chunkLength, type Manifest } from '../../protocol/mod.js';
import { sha256File } from '../helpers/cli.js';
import { startClient, type TestClient } from '../helpers/peers.js';
import { waitFor } from '../helpers/env.js';

const MiB = 1024 * 1024;
const logger = createLogger('p2p-test');

interface Ctx { stack: Stack; dir: string; file: string; manifest: Manifest; rtc: RtcHost }

async function setup(ctx: Ctx, capacity: number, sizeMiB: number, originRate?: number) {
  ctx.dir = mkdtempSync(join(tmpdir(), 'sy-p2p-'));
  ctx.stack = await startStack({ dataDir: join(ctx.dir, 'stack'), capacity, leaseTtlMs: 2000, trackerIntervalMs: 1000,
    ...(originRate ? { originRate } : {}) }, logger);
  ctx.file = join(ctx.dir, 'video.bin');
  writeFileSync(ctx.file, randomBytes(sizeMiB * MiB));
  const origin = createOriginClient(ctx.stack.nc);
  ctx.manifest = (await ingestFile({ path: ctx.file, stream: false }, { store: ctx.stack.store, publish: (m) => origin.publish(m), logger }))
    .manifest;
  ctx.rtc = createRtcHost({ bindAddress: '127.0.0.1', logger });
}
async function teardown(ctx: Ctx, clients: TestClient[]) {
  for (const c of clients) await c.stop().catch(() => {});
  await ctx.stack.stop();
  rmSync(ctx.dir, { recursive: true, force: true });
}

const crowd = suite<Ctx & { clients: TestClient[] }>('p2p: flash crowd against origin capacity 1');
crowd.before(async (ctx) => {
  ctx.clients = [];
  await setup(ctx, 1, 16, 2 * MiB);
});
crowd.after(async (ctx) => {
  await teardown(ctx, ctx.clients);
});

crowd('6 clients, 16 MiB, capacity 1: all byte-identical, denied ones mostly from peers, switches visible', async (ctx) => {
  const { stack, manifest } = ctx;
  const source = sha256File(ctx.file);
  for (let i = 0; i < 6; i++) {
    ctx.clients.push(await startClient({ peers: stack, gateway: stack.gatewayUrl, manifest, dir: ctx.dir,
      rtc: ctx.rtc, logger, peerId: `crowd${i}`, upRate: 4 * MiB }));
  }
  // The client that got the slot leaves as soon as it is done (no seeding), like a viewer closing the player:
  // its slot goes to the longest-waiting client, which resumes from the origin for what the swarm lacks.
  for (const c of ctx.clients) {
    void c.result.then(() => (c.history.includes('active.server') ? c.node.stop() : undefined));
  }
  const t0 = Date.now();
  const results = await Promise.all(ctx.clients.map((c) => c.result.then((r) => {
    console.log(`  ${c.peerId} done at ${Date.now() - t0} ms: ${c.history.join(' → ')} ${JSON.stringify(r.bytesBySource)}`);
    return r;
  })));
  results.forEach((r, i) => {
    assert.is(r.status, 'complete', `client ${i}: ${r.error?.message}`);
  });
  for (const c of ctx.clients) assert.is(sha256File(c.outPath), source, `${c.peerId} byte-identical`);

  const granted = ctx.clients.filter((c) => c.history.includes('active.server'));
  assert.is(granted.length, 1, 'exactly one client got the slot at first');
  const denied = ctx.clients.map((c, i) => ({ c, r: results[i]! })).filter(({ c }) => c.history.includes('active.p2p'));
  assert.is(denied.length, 5, 'the other five were denied');
  for (const { c, r } of denied) {
    const origin = r.bytesBySource.origin ?? 0;
    const peers = Object.entries(r.bytesBySource).filter(([k]) => k.startsWith('peer:')).reduce((a, [, v]) => a + v, 0);
    assert.is(origin + peers, manifest.size, `${c.peerId}: bytes by source add up`);
    assert.ok(peers > origin, `${c.peerId}: ${peers} bytes from peers vs ${origin} from the origin`);
    // the history (from inspection events) agrees with where the bytes came from
    const resumedAt = c.history.indexOf('active.resumeServer');
    if (origin > 0) assert.ok(resumedAt > c.history.indexOf('active.p2p'), `${c.peerId}: origin bytes only after p2p → resumeServer`);
    if (resumedAt >= 0) assert.ok(resumedAt > c.history.indexOf('active.p2p'), `${c.peerId}: resumeServer follows p2p`);
  }
  const resumed = denied.filter(({ c }) => c.history.includes('active.resumeServer'));
  assert.ok(resumed.length >= 1, 'the freed slot moved a waiting client from p2p to resumeServer');
  const served = stack.gateway.stats();
  assert.ok(served.chunkBytesTotal < 2 * manifest.size, `origin sent ${served.chunkBytesTotal} bytes for 6 × ${manifest.size}`);
});

crowd.run();

const evil = suite<Ctx & { clients: TestClient[]; stops: Array<() => Promise<void>> }>('p2p: a peer sending corrupt chunks');
evil.before(async (ctx) => {
  ctx.clients = [];
  ctx.stops = [];
  await setup(ctx, 0, 4);
});
evil.after(async (ctx) => {
  for (const s of ctx.stops) await s().catch(() => {});
  await teardown(ctx, ctx.clients);
});

evil('the malicious peer is banned and reported; every honest client finishes byte-identical', async (ctx) => {
  const { stack, manifest } = ctx;
  const count = manifest.chunks.length;
  const { nc: seedNc } = await stack.connectPeer({ peerId: 'honestseed' });
  const seedSrc = await fileSource(ctx.file, manifest);
  const seed = createPeerNode({ peerId: 'honestseed', manifest, uploadRate: 2 * MiB }, { nc: seedNc, source: seedSrc, logger, rtc: ctx.rtc });
  await seed.swarm.start();
  const { nc: evilNc } = await stack.connectPeer({ peerId: 'evil' });
  const liar = createPeerNode({ peerId: 'evil', manifest }, { nc: evilNc, logger, rtc: ctx.rtc, source: {
    has: () => true,
    have: () => new Array<boolean>(count).fill(true),
    read: async (i) => randomBytes(chunkLength(manifest, i)),
  } });
  await liar.swarm.start();
  ctx.stops.push(async () => {
    await seed.stop();
    await liar.stop();
    await seedSrc.close();
    await seedNc.close();
    await evilNc.close();
  });
  for (let i = 0; i < 3; i++) {
    ctx.clients.push(await startClient({ peers: stack, gateway: stack.gatewayUrl, manifest, dir: ctx.dir,
      rtc: ctx.rtc, logger, peerId: `honest${i}` }));
  }
  const results = await Promise.all(ctx.clients.map((c) => c.result));
  const source = sha256File(ctx.file);
  results.forEach((r, i) => {
    assert.is(r.status, 'complete', `client ${i}: ${r.error?.message}`);
  });
  for (const c of ctx.clients) assert.is(sha256File(c.outPath), source);
  for (const r of results) assert.is(r.bytesBySource['peer:evil'], undefined, 'no byte from the liar was kept');
  const banners = ctx.clients.filter((c) => c.node.swarm.stats().banned.includes('evil'));
  assert.ok(banners.length >= 1, 'the liar was banned by the clients it served');
  // the liar is still announcing, so the tracker still lists it: with the reports the clients sent
  await waitFor(() => (stack.tracker.snapshot(manifest.videoId).find((p) => p.peerId === 'evil')?.reports ?? []).length >= 1,
    'the tracker recorded the report');
});

evil.run();
