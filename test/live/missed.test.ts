/**
 * A missed announcement: NATS delivers a segment's announcement at most once, and a viewer that never heard of a
 * segment never fetched it; its player stopped at the hole until the store let the segment before it go (seen in
 * CI as a page 40 s behind the live edge). The viewer here runs on a real stack and packager, with a feed that
 * loses one announcement on the way (the real feed underneath); it must fill the hole from the origin's window.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createOriginClient } from '../../actors/origin/client.js';
import { createLivePackager, type LivePackager } from '../../actors/live/packager.js';
import { createLiveFeed, type LiveFeed } from '../../client/live/feed.js';
import { createNodeLiveViewer, type NodeLiveViewer } from '../../client/live/node.js';
import { startStack, type Stack } from '../../client/stack.js';
import { sha256Hex } from '../../lib/hash.js';
import { createLogger } from '../../lib/logger.js';
import { systemClock } from '../../lib/clock.js';
import { LiveModes, ServiceRoles } from '../../protocol/mod.js';
import { waitFor } from '../helpers/env.js';

const test = suite('live: a missed announcement');
const logger = createLogger('live-missed-test');
let dir = '';
let stack: Stack;

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sy-live-missed-'));
  stack = await startStack({ dataDir: dir, capacity: 1, trackerIntervalMs: 1000 }, logger);
});
test.after(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The real feed, losing the announcement of the `nth` segment it hears after subscribing. */
function lossyFeed(real: LiveFeed, nth: number, lost: (seq: number) => void): LiveFeed {
  let heard = 0;
  return {
    window: () => real.window(),
    subscribe: (h) => real.subscribe({
      segment: (s) => {
        if (++heard === nth) return lost(s.seq);
        h.segment(s);
      },
      end: (e) => h.end(e),
    }),
  };
}

test('one announcement lost: the viewer learns the segment from the window and plays on without a hole', async () => {
  const ingestNc = await stack.connectService(ServiceRoles.ingest, 'live-ingest');
  const origin = createOriginClient(ingestNc);
  const packager = createLivePackager({ streamId: 'missed', input: { kind: 'testsrc' }, workDir: dir, dvrSec: 30,
    encoding: { durationSec: 9, videoBitrate: 300_000, audioBitrate: 32_000, width: 320, height: 180 } },
  { nc: ingestNc, store: stack.store, publish: (m) => origin.publish(m), clock: systemClock, logger });
  await packager.start();
  await waitFor(() => (packager.window()?.segments.length ?? 0) >= 1 || undefined, 'first segment', 20_000);
  const peer = await stack.connectPeer({ label: 'lossy' });
  let lostSeq: number | null = null;
  const feed = lossyFeed(createLiveFeed(peer.nc, 'missed', logger), 3, (seq) => {
    lostSeq = seq;
  });
  const v = createNodeLiveViewer({ streamId: 'missed', peerId: peer.peerId, gatewayUrl: stack.gatewayUrl,
    mode: LiveModes.default, bindAddress: '127.0.0.1', telemetry: false }, { nc: peer.nc, logger, feed });
  try {
    await v.start();
    await check(v, packager, () => lostSeq);
  } finally {
    await v.close();
    await packager.stop().catch(() => {});
    await ingestNc.close();
  }
});

async function check(v: NodeLiveViewer, packager: LivePackager, lost: () => number | null): Promise<void> {
  const end = await packager.ended;
  const lostSeq = lost();
  await waitFor(() => v.ended() || undefined, 'the viewer heard the end', 10_000);
  await waitFor(() => v.held().includes(end.lastSeq) || undefined, 'the last segment', 10_000);
  assert.ok(lostSeq !== null, 'the feed lost an announcement');
  const held = v.held();
  console.log(`  lost the announcement of ${lostSeq}; held ${held[0]}..${held.at(-1)} (${held.length}), ` +
    `window edge ${v.window().segments.at(-1)?.seq}, last ${end.lastSeq}`);
  assert.ok(v.info(lostSeq!), `segment ${lostSeq} is known to the viewer`);
  assert.ok(held.includes(lostSeq!), `segment ${lostSeq} was fetched`);
  for (let seq = held[0]!; seq <= end.lastSeq; seq++) {
    assert.ok(held.includes(seq), `no hole: segment ${seq} held (${held.join(' ')})`);
    assert.is(sha256Hex(v.segment(seq)!), v.info(seq)!.sha256, `segment ${seq} verified`);
  }
  assert.is(v.window().segments.at(-1)?.seq, end.lastSeq, 'the window reached the last segment');
}

test.run();
