/**
 * A hostile viewer relays forged live parts: it holds the origin's only slot (capacity 1, no urgent share), so
 * the other viewers' only source of the edge is the liar. Every forged part fails its announced hash: the liar is
 * banned by each victim (and reported to the tracker), no forged byte is kept or played, and once the liar is
 * gone the victims carry on from the origin and each other with verified segments only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createOriginClient } from '../../actors/origin/client.js';
import { createLivePackager, type LivePackager } from '../../actors/live/packager.js';
import { createLiveFeed } from '../../client/live/feed.js';
import { createNodeLiveViewer, nodeLiveSwarm, type NodeLiveViewer } from '../../client/live/node.js';
import { createLiveSession } from '../../client/live/session.js';
import { createLiveViewer, type LiveViewer } from '../../client/live/viewer.js';
import type { ChunkSource } from '../../client/p2p/types.js';
import { createRtcHost, type RtcHost } from '../../client/p2p/rtc.js';
import { startStack, type Stack } from '../../client/stack.js';
import { systemClock } from '../../lib/clock.js';
import { sha256Hex } from '../../lib/hash.js';
import { createLogger } from '../../lib/logger.js';
import { LiveModes, ServiceRoles } from '../../protocol/mod.js';
import { waitFor } from '../helpers/env.js';

const t = suite<{ stack: Stack; dir: string; packager: LivePackager; rtc: RtcHost }>('live: a forging relay');
const logger = createLogger('live-forged-test', 'error');

/** Serves every part it holds with its first byte flipped. */
const forging = (source: ChunkSource): ChunkSource => ({
  has: (i) => source.has(i),
  have: () => source.have(),
  async read(i) {
    const real = await source.read(i);
    const bad = real.slice();
    bad[0] = bad[0]! ^ 0xff;
    return bad;
  },
});

t.before(async (ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'sy-live-forged-'));
  ctx.stack = await startStack({ dataDir: join(ctx.dir, 'stack'), capacity: 1, urgentBps: 0, trackerIntervalMs: 1000 }, logger);
  const nc = await ctx.stack.connectService(ServiceRoles.ingest, 'live-ingest');
  const origin = createOriginClient(nc);
  ctx.packager = createLivePackager({ streamId: 'forged', input: { kind: 'testsrc' }, workDir: ctx.dir, dvrSec: 20, record: false,
    encoding: { durationSec: 40, videoBitrate: 250_000, audioBitrate: 32_000, width: 320, height: 180 } },
  { nc, store: ctx.stack.store, publish: (m) => origin.publish(m), clock: systemClock, logger });
  await ctx.packager.start();
  ctx.rtc = createRtcHost({ logger, bindAddress: '127.0.0.1' });
  await waitFor(() => (ctx.packager.window()?.segments.length ?? 0) >= 1 || undefined, 'first segment', 20000);
});
t.after(async (ctx) => {
  await ctx.packager?.stop();
  ctx.rtc?.shutdown();
  await ctx.stack?.stop();
  rmSync(ctx.dir, { recursive: true, force: true });
});

t('the liar is banned by every victim, nothing forged is kept, and the victims recover without it', async (ctx) => {
  const { stack } = ctx;
  const liarPeer = await stack.connectPeer({ label: 'liar' });
  const liarOrigin = createOriginClient(liarPeer.nc);
  const liar: LiveViewer = createLiveViewer({ streamId: 'forged', peerId: liarPeer.peerId, gatewayUrl: stack.gatewayUrl,
    mode: LiveModes.default }, {
    feed: createLiveFeed(liarPeer.nc, 'forged', logger),
    session: createLiveSession({ streamId: 'forged', peerId: liarPeer.peerId }, { origin: liarOrigin, logger }),
    origin: liarOrigin,
    swarm: (content, source) => nodeLiveSwarm({ streamId: 'forged', peerId: liarPeer.peerId },
      { nc: liarPeer.nc, logger, rtc: ctx.rtc })(content, forging(source)),
    sha256: async (d) => sha256Hex(d), fetch: globalThis.fetch, clock: systemClock, logger,
  });
  await liar.start();
  await waitFor(() => liar.stats().admitted || undefined, 'the liar holds the slot', 10000);
  const victims: NodeLiveViewer[] = [];
  const corrupt: Array<{ seq: number; peerId?: string }> = [];
  for (let i = 0; i < 2; i++) {
    const p = await stack.connectPeer({ label: `victim${i}` });
    const v = createNodeLiveViewer({ streamId: 'forged', peerId: p.peerId, gatewayUrl: stack.gatewayUrl,
      bindAddress: '127.0.0.1' }, { nc: p.nc, logger, rtc: ctx.rtc });
    v.on((e) => {
      if (e.type === 'segment.corrupt') corrupt.push({ seq: e.seq, ...(e.peerId ? { peerId: e.peerId } : {}) });
    });
    await v.start();
    victims.push(v);
  }
  await waitFor(() => victims.every((v) => v.swarm.stats().banned.includes(liarPeer.peerId)) || undefined,
    `every victim banned the liar (corrupt: ${JSON.stringify(corrupt)})`, 20000);
  assert.ok(corrupt.length >= 2, `${corrupt.length} forged parts caught`);
  assert.ok(corrupt.every((c) => c.peerId === liarPeer.peerId), 'only the liar was blamed');
  for (const v of victims) {
    assert.is(v.stats().bySource.peer, 0, 'no byte from the liar was kept');
    for (const seq of v.held()) assert.is(sha256Hex(v.segment(seq)!), v.info(seq)!.sha256);
  }

  // the liar leaves (its slot frees): the victims carry on, from the origin and from each other, all verified
  await liar.stop();
  const before = victims.map((v) => v.stats().verified);
  await waitFor(() => victims.every((v, i) => v.stats().verified >= before[i]! + 4) || undefined, 'victims recovered', 30000);
  const sources = victims.map((v) => v.stats().bySource);
  assert.ok(sources.some((s) => s.origin > 0), JSON.stringify(sources));
  assert.ok(sources.some((s) => s.peer > 0), `victims relayed to each other: ${JSON.stringify(sources)}`);
  for (const v of victims) {
    for (const seq of v.held()) assert.is(sha256Hex(v.segment(seq)!), v.info(seq)!.sha256);
    assert.is(v.stats().playhead.state === 'joining' || v.stats().playhead.seq !== null, true);
  }
  for (const v of victims) await v.stop();
});

t.run();
