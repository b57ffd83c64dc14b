/**
 * Turns at the origin (machines/download/turns.ts) against fakes: a holder yields its slot once the origin sent it
 * its share or has nothing left for it, goes on with peers (tag p2p), and tells the keeper when it lacks chunks
 * none of its peers holds. Without a turn (no `turnBytes`), nothing changes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CHUNK, failure, granted, LEASE, makeManifest, manualFetch, okFetch, run, until } from './harness.js';
import type { PeerView } from '../../machines/download/peers.js';
import { needsOrigin, shareLeft, turnOver } from '../../machines/download/turns.js';
import type { DownloadContext } from '../../machines/download/mod.js';

const swarmAware = (turnBytes?: number) => (m: ReturnType<typeof makeManifest>) =>
  ({ ...granted(m), policy: 'swarm-aware' as const, lease: { ...LEASE, ...(turnBytes ? { turnBytes } : {}) } });

test('a holder yields once its share is asked for: session.yield, then p2p; the last request still lands', async () => {
  const m = makeManifest(8, CHUNK);
  const f = manualFetch();
  const r = run({ open: async () => swarmAware(2 * CHUNK)(m), fetch: f.impl, input: { parallel: 1 } });
  await until(() => f.pending.size === 1, 'origin request 1');
  assert.equal(r.keeperEvents.filter((e) => e.type === 'session.yield'), [], 'no yield before the share is asked for');
  [...f.pending.values()][0]!.resolve();
  await until(() => r.calls.filter((c) => c.input.source === 'origin').length === 2, 'origin request 2');
  // the second request covers the share: the slot goes at once, while that request is still out
  await until(() => r.history.includes('active.p2p'), 'p2p after the turn');
  assert.equal(r.keeperEvents.filter((e) => e.type === 'session.yield').length, 1);
  assert.is(r.actor.getSnapshot().context.grant, null, 'the grant goes with the slot');
  assert.is(r.actor.getSnapshot().context.turns, 1);
  assert.is(f.pending.size, 1, 'the request admitted under the slot is not cut off');
  [...f.pending.values()][0]!.resolve();
  await until(() => (r.actor.getSnapshot().context.bytesBySource.origin ?? 0) === 2 * CHUNK, 'its chunk kept');
  // the origin is not asked again: a peer holding everything finishes the download
  const before = r.calls.filter((c) => c.input.source === 'origin').length;
  r.swarm({ type: 'peer.bitfield', peerId: 'a', have: new Array<boolean>(8).fill(true) });
  r.swarm({ type: 'peer.unchoked', peerId: 'a' });
  for (let i = 0; i < 40 && r.actor.getSnapshot().status !== 'done'; i++) {
    await until(() => f.pending.size > 0 || r.actor.getSnapshot().status === 'done', 'next request');
    for (const p of [...f.pending.values()]) p.resolve();
  }
  const out = await r.done();
  assert.is(out.status, 'complete');
  assert.is(r.calls.filter((c) => c.input.source === 'origin').length, before, 'no origin request after the yield');
  assert.is(out.bytesBySource.origin, 2 * CHUNK);
});

test('without a turn the holder keeps the slot (and never yields)', async () => {
  const m = makeManifest(4, CHUNK);
  const r = run({ open: async () => swarmAware()(m) });
  const out = await r.done();
  assert.is(out.status, 'complete');
  assert.is(out.bytesBySource.origin, 4 * CHUNK);
  assert.equal(r.keeperEvents.filter((e) => e.type === 'session.yield'), []);
  assert.not.ok(r.history.includes('active.p2p'));
});

test('a turn is not overshot: with 4 requests allowed and a share of 2 chunks, only 2 go out', async () => {
  const m = makeManifest(8, CHUNK);
  const f = manualFetch();
  const r = run({ open: async () => swarmAware(2 * CHUNK)(m), fetch: f.impl, input: { parallel: 4 } });
  await until(() => r.history.includes('active.p2p'), 'p2p once both are asked for');
  assert.is(r.calls.filter((c) => c.input.source === 'origin').length, 2);
  for (const p of [...f.pending.values()]) p.resolve();
  await until(() => (r.actor.getSnapshot().context.bytesBySource.origin ?? 0) === 2 * CHUNK, 'both kept');
  r.actor.send({ type: 'download.cancel' });
  await r.done();
});

test('the origin declining everything left ends a turn at once', async () => {
  const m = makeManifest(2, CHUNK);
  const r = run({ open: async () => swarmAware(100 * CHUNK)(m), delays: { declineDelay: 100000 },
    fetch: async () => { throw failure('declined', '409 chunk_in_swarm'); } });
  await until(() => r.history.includes('active.p2p'), 'p2p after the declines');
  assert.equal(r.keeperEvents.filter((e) => e.type === 'session.yield').length, 1);
  r.actor.send({ type: 'download.cancel' });
  await r.done();
});

test('a declined holder asks next for the chunks the gateway says it sent to nobody, in its order', async () => {
  const m = makeManifest(16, CHUNK);
  let hint: number[] = [];
  const r = run({ open: async () => swarmAware(100 * CHUNK)(m), delays: { declineDelay: 100000 }, input: { parallel: 1 },
    fetch: async (call, nth) => {
      if (hint.length === 0) {
        const i = call.input.index;
        hint = [(i + 7) % 16, (i + 3) % 16];
        throw Object.assign(failure('declined', '409 chunk_in_swarm'), { unsent: [...hint, 99] });
      }
      return okFetch(call, nth);
    } });
  await until(() => r.calls.filter((c) => c.input.source === 'origin').length >= 3, 'three origin requests');
  assert.equal(r.calls.filter((c) => c.input.source === 'origin').slice(1, 3).map((c) => c.input.index), hint,
    'the hinted chunks right after the decline (an index past the end is dropped)');
  r.actor.send({ type: 'download.cancel' });
  await r.done();
});

test('a decline saying nothing is unsent ends the turn: no more origin requests, the slot goes', async () => {
  const m = makeManifest(16, CHUNK);
  let n = 0;
  const r = run({ open: async () => swarmAware(100 * CHUNK)(m), delays: { declineDelay: 100000 }, input: { parallel: 1 },
    fetch: async (call, nth) => {
      if (++n === 2) throw Object.assign(failure('declined', '409 chunk_in_swarm'), { unsent: [] });
      return okFetch(call, nth);
    } });
  await until(() => r.history.includes('active.p2p'), 'p2p after the last decline');
  assert.is(r.calls.filter((c) => c.input.source === 'origin').length, 2, 'nothing asked after "none"');
  assert.equal(r.keeperEvents.filter((e) => e.type === 'session.yield').length, 1);
  r.actor.send({ type: 'download.cancel' });
  await r.done();
});

const ctxOf = (over: Partial<DownloadContext>): DownloadContext => ({
  manifest: makeManifest(3), have: [false, false, false], haveCount: 0, peers: {}, grant: 'g', lease: null,
  bytesBySource: {}, urgentBytes: 0, turnFrom: 0, turns: 0, inFlight: [], backoff: [], declined: [], unsentHint: null,
  ...over,
} as unknown as DownloadContext);
const p = (have: boolean[]): PeerView => ({ have, haveCount: have.filter(Boolean).length, unchoked: true, failures: 0 });

test('turnOver and needsOrigin: the rules on their own', () => {
  assert.not.ok(turnOver(ctxOf({})), 'no lease, no turn');
  assert.ok(turnOver(ctxOf({ lease: { ...LEASE, turnBytes: 10 }, bytesBySource: { origin: 10 } })));
  assert.not.ok(turnOver(ctxOf({ lease: { ...LEASE, turnBytes: 10 }, bytesBySource: { origin: 10 }, turnFrom: 5 })));
  assert.not.ok(turnOver(ctxOf({ lease: { ...LEASE, turnBytes: 10 }, bytesBySource: { origin: 12 }, urgentBytes: 5 })),
    'urgent bytes hold no slot');
  assert.ok(turnOver(ctxOf({ turns: 1, declined: [2] })), 'a parked client given the slot back yields when all is declined');
  assert.not.ok(turnOver(ctxOf({ turns: 1, declined: [2], inFlight: [1] })));
  assert.not.ok(turnOver(ctxOf({ declined: [2] })), 'never had a turn: declines alone do not end it');
  assert.not.ok(turnOver(ctxOf({ lease: { ...LEASE, turnBytes: 10 }, bytesBySource: { origin: 99 }, grant: null })));
  // requests out count toward the share: the slot can go while they finish
  const c = CHUNK;
  assert.ok(turnOver(ctxOf({ manifest: makeManifest(3, c), lease: { ...LEASE, turnBytes: 2 * c }, bytesBySource: { origin: c },
    inFlight: [1] })));
  assert.not.ok(turnOver(ctxOf({ manifest: makeManifest(3, c), lease: { ...LEASE, turnBytes: 2 * c + 1 },
    bytesBySource: { origin: c }, inFlight: [1] })));
  assert.is(shareLeft(ctxOf({ manifest: makeManifest(8, c), lease: { ...LEASE, turnBytes: 3 * c + 1 }, inFlight: [0] })), 3);
  assert.is(shareLeft(ctxOf({ manifest: makeManifest(8, c), lease: { ...LEASE, turnBytes: c }, inFlight: [0, 1] })), 0);
  assert.is(shareLeft(ctxOf({ manifest: makeManifest(8, c) })), Infinity, 'no turn: no limit');

  assert.ok(needsOrigin(ctxOf({})), 'nothing held by any peer');
  assert.not.ok(needsOrigin(ctxOf({ peers: { a: p([true, true, true]) } })));
  assert.ok(needsOrigin(ctxOf({ peers: { a: p([true, false, true]) } })));
  assert.not.ok(needsOrigin(ctxOf({ peers: { a: p([true, false, true]) }, have: [false, true, false], haveCount: 1 })));
  assert.not.ok(needsOrigin(ctxOf({ have: [true, true, true], haveCount: 3 })), 'complete');
});

test.run();
