/**
 * Deadline-aware picking (issue 8 item 2) against fakes: the urgent window from the origin (urgent grants while
 * denied, the slot's grant when admitted), the buffer from peers nearest deadline first, seeks that re-plan at
 * once, refusals that hand the window to peers, and offline downloads that never see any of it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pickPeerRequests, type PeerView } from '../../machines/download/peers.js';
import { isSeek, NO_DEADLINE, streamingOriginOrder } from '../../machines/download/playback.js';
import type { FetchResult } from '../../machines/download/types.js';
import { denied, granted, makeManifest, manualFetch, run, totalBytes, until } from './harness.js';

const only = (n: number, held: number[]) => Array.from({ length: n }, (_, i) => held.includes(i));
const all = (n: number) => new Array<boolean>(n).fill(true);
const peer = (have: boolean[]): PeerView => ({ have, haveCount: have.filter(Boolean).length, unchoked: true, failures: 0 });
const win = { playhead: 4, urgentWindow: 2, bufferWindow: 5, have: new Array<boolean>(12).fill(false) };

test('window ordering (pure): buffer chunks by deadline before rarity; without a deadline rarest first as before', () => {
  const have = new Array<boolean>(10).fill(false);
  // chunks 0-4 held by both peers, 5-9 only by a: rarest first would send a to 5-9
  const peers = { a: peer(all(10)), b: { ...peer(only(10, [0, 1, 2, 3, 4])), unchoked: false } };
  const base = { self: 'me', have, peers, peerInFlight: [], originBusy: [0, 1], perPeer: 2, maxSources: 2 };
  const offline = pickPeerRequests(base).map((f) => f.index);
  assert.ok(offline.every((i) => i >= 5), `offline: rarest first (${offline})`);
  // playhead 0, buffer [0,5): 0 and 1 are the origin's (urgent), so the peer takes 2 then 3
  const deadline = (i: number) => (i < 5 ? i : NO_DEADLINE);
  assert.equal(pickPeerRequests({ ...base, deadline }).map((f) => f.index), [2, 3]);
  // the origin under a slot: the urgent window first, then playback order from the playhead, passed chunks last
  const origin = (busy: number[], free: number) =>
    streamingOriginOrder({ ...win, usePeers: false }, busy, free, () => assert.unreachable('offline order unused') as never);
  assert.equal(origin([], 4), [4, 5, 6, 7]);
  assert.equal(origin([5], 3), [4, 6, 7]);
  const wrap = { ...win, playhead: 10, have: [...new Array<boolean>(11).fill(false), true] };
  assert.equal(streamingOriginOrder({ ...wrap, usePeers: false }, [], 3, () => []), [10, 0, 1]);
  // alongside peers the rest follows the offline origin order
  assert.equal(streamingOriginOrder({ ...win, usePeers: true }, [], 4, (busy, n) => [9, 8].filter((i) => !busy.includes(i)).slice(0, n)),
    [4, 5, 9, 8]);
  assert.ok(isSeek({ ...win, playhead: null }, 0), 'the first playhead plans like a seek');
  assert.not.ok(isSeek(win, 5), 'one step forward is playback');
  assert.ok(isSeek(win, 9) && isSeek(win, 3), 'a jump either way is a seek');
});

test('denied + streaming: the urgent window comes under urgent grants (no slot), the buffer from peers by deadline', async () => {
  const m = makeManifest(10);
  const r = run({ open: async () => denied(m, 2), input: { perPeer: 2, streaming: { urgentChunks: 2, bufferChunks: 5, playhead: 0 } } });
  await until(() => r.urgentCalls.length >= 2, 'urgent fetches');
  assert.equal(r.urgentCalls.map((c) => c.input.index), [0, 1]);
  assert.equal(r.urgentCalls[0]!.input.sessionId, 's1');
  r.swarm({ type: 'peer.bitfield', peerId: 'a', have: all(10) });
  r.swarm({ type: 'peer.bitfield', peerId: 'b', have: only(10, [0, 1, 2, 3, 4]) });
  r.swarm({ type: 'peer.unchoked', peerId: 'a' });
  const out = await r.done();
  assert.is(out.status, 'complete');
  assert.equal(r.calls.slice(0, 2).map((c) => c.input.index), [2, 3], 'nearest deadline first, not the rarer chunks 5-9');
  assert.ok(r.calls.every((c) => c.input.source === 'peer:a' && c.input.index >= 2), 'peers never asked for the urgent window');
  assert.is(out.urgentBytes, totalBytes(m, [0, 1]));
  assert.is(out.bytesBySource.origin, totalBytes(m, [0, 1]));
  assert.is(out.bytesBySource['peer:a'], m.size - totalBytes(m, [0, 1]));
});

test('seek while denied: urgent fetches outside the new window stop, the new window is asked at once', async () => {
  const m = makeManifest(16);
  const hang = (_: unknown, signal: AbortSignal) =>
    new Promise<FetchResult>((resolve) => signal.addEventListener('abort', () =>
      resolve({ ok: false, index: -1, source: 'origin', failure: { reason: 'network', message: 'aborted' } })));
  const f = manualFetch();
  const r = run({ open: async () => denied(m), urgent: hang, fetch: f.impl,
    input: { perPeer: 2, streaming: { urgentChunks: 2, bufferChunks: 5 } } });
  await until(() => r.history.includes('active.p2p'), 'p2p');
  assert.is(r.urgentCalls.length, 0, 'no playhead yet: nothing is urgent');
  r.send({ type: 'playback.playhead', index: 0 });
  await until(() => r.urgentCalls.length === 2, 'urgent 0, 1');
  r.send({ type: 'playback.playhead', index: 9 });
  await until(() => r.urgentCalls.length === 4, 'urgent 9, 10');
  assert.equal(r.urgentCalls.map((c) => c.input.index), [0, 1, 9, 10]);
  assert.ok(r.urgentCalls[0]!.signal.aborted && r.urgentCalls[1]!.signal.aborted, 'the old window was cancelled');
  assert.not.ok(r.urgentCalls[2]!.signal.aborted);
  r.swarm({ type: 'peer.bitfield', peerId: 'a', have: all(16) });
  r.swarm({ type: 'peer.unchoked', peerId: 'a' });
  await until(() => r.calls.length === 2, 'peer requests');
  assert.equal(r.indexes(), [11, 12], 'peers fill the new buffer right after the urgent window');
  r.send({ type: 'download.cancel' });
  assert.is((await r.done()).status, 'cancelled');
});

test('seek while admitted: the slot serves the new urgent window first, far requests are cancelled to make room', async () => {
  const m = makeManifest(16);
  const f = manualFetch();
  const r = run({ open: async () => granted(m), fetch: f.impl,
    input: { parallel: 2, streaming: { urgentChunks: 2, bufferChunks: 4, playhead: 0 } } });
  await until(() => r.calls.length === 2, 'first requests');
  assert.equal(r.indexes(), [0, 1]);
  f.pending.get(0)!.resolve();
  await until(() => r.calls.length === 3, 'next request');
  assert.is(r.calls[2]!.input.index, 2, 'playback order from the playhead');
  r.send({ type: 'playback.playhead', index: 10 });
  await until(() => r.calls.length === 5, 'requests for the new window');
  assert.equal(r.indexes().slice(3), [10, 11]);
  assert.ok(r.calls[1]!.signal.aborted && r.calls[2]!.signal.aborted, 'requests outside the new buffer were cancelled');
  assert.is(r.urgentCalls.length, 0, 'with a slot nothing needs an urgent grant');
  while (r.actor.getSnapshot().status === 'active') {
    for (const p of [...f.pending.values()]) p.resolve();
    await new Promise((res) => setTimeout(res, 1));
  }
  const out = await r.done();
  assert.is(out.status, 'complete');
  assert.is(out.bytesBySource.origin, m.size);
  assert.is(out.urgentBytes, undefined);
  assert.equal(r.indexes().slice(5, 9), [12, 13, 14, 15], 'then on from the playhead');
});

test('an urgent refusal pauses urgent requests and peers take the chunk; after the pause they resume', async () => {
  const m = makeManifest(4);
  let n = 0;
  const refusedOnce = async (input: { index: number }): Promise<FetchResult> => (n++ === 0
    ? { ok: false, index: input.index, source: 'origin', failure: { reason: 'refused', message: 'urgent_share_spent' } }
    : { ok: true, index: input.index, source: 'origin', bytes: 1 });
  // with peers: the pause is long, so the refused chunk can only come from them
  const withPeers = run({ open: async () => denied(m), urgent: refusedOnce, delays: { urgentRetryDelay: 60_000 },
    input: { perPeer: 1, streaming: { urgentChunks: 1, bufferChunks: 2, playhead: 0 } } });
  await until(() => withPeers.urgentCalls.length === 1, 'urgent 0');
  withPeers.swarm({ type: 'peer.bitfield', peerId: 'a', have: all(4) });
  withPeers.swarm({ type: 'peer.unchoked', peerId: 'a' });
  const out = await withPeers.done();
  assert.is(out.status, 'complete');
  assert.is(withPeers.urgentCalls.length, 1, 'paused: not asked again in a loop');
  assert.ok(withPeers.indexes().includes(0), 'the refused urgent chunk came from a peer');
  assert.is(out.urgentBytes, undefined);
  // without peers: after the pause the urgent window is asked again
  n = 0;
  const alone = run({ open: async () => denied(m), urgent: refusedOnce, delays: { urgentRetryDelay: 1 },
    input: { streaming: { urgentChunks: 1, playhead: 0 } } });
  await until(() => alone.urgentCalls.length === 2, 'urgent retried after the pause');
  assert.equal(alone.urgentCalls.map((c) => c.input.index), [0, 0]);
  await until(() => alone.actor.getSnapshot().context.have[0] === true, 'chunk 0 under an urgent grant');
  alone.send({ type: 'download.cancel' });
  await alone.done();
});

test('offline downloads are unchanged: no playhead, no urgent fetch, rarest first from peers', async () => {
  const m = makeManifest(6);
  const r = run({ open: async () => denied(m), input: { perPeer: 2 } });
  await until(() => r.history.includes('active.p2p'), 'p2p');
  r.swarm({ type: 'peer.bitfield', peerId: 'a', have: all(6) });
  r.swarm({ type: 'peer.bitfield', peerId: 'b', have: only(6, [0, 1, 2]) });
  r.swarm({ type: 'peer.unchoked', peerId: 'a' });
  const out = await r.done();
  assert.is(out.status, 'complete');
  assert.is(r.urgentCalls.length, 0);
  assert.ok(r.calls.slice(0, 2).every((c) => [3, 4, 5].includes(c.input.index)), 'rarest first');
  assert.is(r.actor.getSnapshot().context.playhead, null);
});

test.run();
