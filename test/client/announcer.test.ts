/**
 * The announcer (client/p2p/announcer.ts) against a real tracker on a real nats-server: of two peers, the one that
 * joined later offers at once; the earlier one, told that the other will offer, waits `answerWaitMs` and offers
 * only if no link came of it (the other may have links enough, or ignore the rule). The first announce offers
 * only a few links, the next one the rest.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createTracker, createTrackerClient, type Tracker } from '../../actors/tracker/mod.js';
import { createAnnouncer, type Announcer } from '../../client/p2p/announcer.js';
import { systemClock } from '../../lib/clock.js';
import { createSlicer } from '../../lib/slicer.js';
import { encodeBitfield } from '../../protocol/mod.js';
import { startEnv, waitFor, type TestEnv } from '../helpers/env.js';

const CHUNKS = 4;
let env: TestEnv;
let tracker: Tracker;
const running: Announcer[] = [];
let slicer: ReturnType<typeof createSlicer>;

/** A peer that announces through the announcer and records the offers it would make. */
function peer(peerId: string, videoId: string, linked: Set<string>, answerWaitMs: number, linkOnOffer = false) {
  const offers: Array<{ to: string; at: number }> = [];
  const a = createAnnouncer({ videoId, peerId, chunkCount: CHUNKS, uploads: true, maxPeers: 8, answerWaitMs }, {
    tracker: createTrackerClient(env.nc), logger: env.logger.child(peerId),
    source: { have: () => new Array<boolean>(CHUNKS).fill(false) },
    upload: () => ({ uploadedBytes: 0, spare: true }),
    linkCount: () => linked.size, linked: (p) => linked.has(p), rtts: () => ({}),
    offer: (p) => {
      offers.push({ to: p, at: Date.now() });
      if (linkOnOffer) linked.add(p);
    },
    setup: (fn) => slicer.run(fn),
  });
  running.push(a);
  return { start: () => a.start(), offers };
}

/** A peer that only announces (never offers): the other side must not wait for it forever. */
const silent = (videoId: string, peerId: string) => createTrackerClient(env.nc).announce(videoId,
  { peerId, chunkCount: CHUNKS, bitfield: encodeBitfield(new Array<boolean>(CHUNKS).fill(false)), uploads: true, uploadBps: 0 });

test.before(async () => {
  env = await startEnv();
  slicer = createSlicer({}, { logger: env.logger });
  tracker = await createTracker({ workerId: 'tracker-announcer' },
    { nc: await env.connect('tracker'), clock: systemClock, logger: env.logger.child('tracker') });
  await tracker.start();
});
test.after(async () => {
  for (const a of running.splice(0)) a.stop();
  await tracker.stop().catch(() => {});
  await env.close();
});

test('the later joiner offers at once', async () => {
  await silent('v-late', 'early');
  const late = peer('late', 'v-late', new Set(), 60_000);
  await late.start();
  assert.equal(late.offers.map((o) => o.to), ['early']);
});

test('the first announce offers three links; the next one, a second later, the rest', async () => {
  for (let i = 0; i < 5; i++) await silent('v-stage', `s${i}`);
  const late = peer('late4', 'v-stage', new Set(), 60_000, true);
  await late.start();
  assert.is(late.offers.length, 3, 'three at first');
  await waitFor(() => late.offers.length === 5, 'the rest at the next announce', 5000);
  assert.equal(new Set(late.offers.map((o) => o.to)).size, 5, 'each peer offered once');
  assert.ok(late.offers[3]!.at - late.offers[0]!.at >= 500, 'the rest came with a later announce');
});

test('the earlier joiner waits for the offer, then offers itself when none came', async () => {
  const early = peer('early2', 'v-wait', new Set(), 1500);
  await early.start(); // alone: nothing to offer
  await silent('v-wait', 'late2'); // joins later, so it is the one told to offer; it never does
  const told = Date.now();
  await waitFor(() => early.offers.length > 0, 'the fallback offer', 10_000);
  assert.equal(early.offers.map((o) => o.to), ['late2']);
  // the announce after it learned of late2 (about 1 s later) did not offer; only one at least answerWaitMs after that did
  assert.ok(early.offers[0]!.at - told >= 1500, `offered ${early.offers[0]!.at - told} ms after the other joined`);
});

test('a peer that got its link from the other side does not offer', async () => {
  const linked = new Set<string>();
  const early = peer('early3', 'v-linked', linked, 1000);
  await early.start();
  await silent('v-linked', 'late3');
  linked.add('late3'); // the later one's offer arrived
  await new Promise((r) => setTimeout(r, 3200)); // three re-announces, past answerWaitMs
  assert.equal(early.offers, []);
});

test.run();
