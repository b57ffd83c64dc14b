/**
 * The download machine's P2P paths against fakes: denied → p2p with the piece picker, bans, endgame, and the
 * p2p ⇄ resumeServer switch. The swarm is a fake callback actor driven by the test.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { availability, originOrder, pickPeerRequests, type PeerView } from '../../machines/download/peers.js';
import { initialContext } from '../../machines/download/context.js';
import { planOriginFetches } from '../../machines/download/plan.js';
import { peerResultOf } from '../../machines/download/events.js';
import type { EventObject } from 'xstate';
import { denied, failure, granted, LEASE, makeManifest, manualFetch, run, until } from './harness.js';

const all = (n: number, holes: number[] = []) => Array.from({ length: n }, (_, i) => !holes.includes(i));
const only = (n: number, held: number[]) => Array.from({ length: n }, (_, i) => held.includes(i));
const peer = (have: boolean[], unchoked = true): PeerView =>
  ({ have, haveCount: have.filter(Boolean).length, unchoked, failures: 0 });

test('picker: rarest first, at most perPeer per peer, nothing requested twice outside endgame', () => {
  const have = new Array<boolean>(6).fill(false);
  const peers = { a: peer(all(6)), b: peer(only(6, [0, 1, 2])), c: peer(only(6, [0, 1])) };
  const picked = pickPeerRequests({ self: 'me', have, peers, peerInFlight: [], originBusy: [], perPeer: 2, maxSources: 2 });
  // chunks 3,4,5 are held only by a: a takes two of them; b takes 2 (held by two peers) before 0/1 (three);
  // equally rare chunks come in a per-client shuffled order
  const of = (id: string) => picked.filter((p) => p.peerId === id).map((p) => p.index);
  assert.is(of('a').length, 2);
  assert.ok(of('a').every((i) => [3, 4, 5].includes(i)));
  assert.is(of('b')[0], 2);
  assert.equal([...of('b').slice(1), ...of('c')].sort(), [0, 1]);
  const indexes = picked.map((p) => p.index);
  assert.is(new Set(indexes).size, indexes.length);
  assert.equal(availability(peers, 6), [3, 3, 2, 1, 1, 1]);
});

test('picker: choked or failing peers are not asked; endgame duplicates only near the end, ≤ maxSources', () => {
  const have = all(10, [8, 9]);
  const peers = { a: peer(all(10)), b: peer(all(10)), c: peer(all(10), false) };
  const inFlight = [{ index: 8, peerId: 'a' }, { index: 9, peerId: 'a' }];
  const picked = pickPeerRequests({ self: 'me', have, peers, peerInFlight: inFlight, originBusy: [], perPeer: 4, maxSources: 2 });
  assert.equal(picked, [{ index: 8, peerId: 'b' }, { index: 9, peerId: 'b' }]);
  const far = pickPeerRequests({ self: 'me', have: all(40, Array.from({ length: 30 }, (_, i) => i)), peers: { a: peer(all(40)) },
    peerInFlight: [], originBusy: [], perPeer: 2, maxSources: 2 });
  assert.is(far.length, 2, 'no duplicates while many chunks are missing');
  const failing = pickPeerRequests({ self: 'me', have: all(4, [0]), peers: { a: { ...peer(all(4)), failures: 3 } },
    peerInFlight: [], originBusy: [], perPeer: 2, maxSources: 2 });
  assert.equal(failing, []);
});

test('origin order alongside peers: chunks no peer holds first, then playback order', () => {
  const peers = { a: peer(only(6, [0, 1, 2])) };
  assert.equal(originOrder(new Array<boolean>(6).fill(false), peers, [3], 3), [4, 5, 0]);
  // the chunk and the peer come from the fetch child's result (its source), not from its id
  const done = (type: string, source: string) => ({ type, output: { ok: true, index: 12, source, bytes: 1 } }) as EventObject;
  assert.equal(peerResultOf(done('xstate.done.actor.pfetch.1.x', 'peer:peer_A-1')),
    { ok: true, index: 12, source: 'peer:peer_A-1', bytes: 1, peerId: 'peer_A-1' });
  assert.is(peerResultOf(done('xstate.done.actor.fetch.12', 'origin')), null);
});

test('origin endgame: with every missing chunk asked of peers, free origin requests race the oldest of them', () => {
  const m = makeManifest(6);
  const ctx = { ...initialContext({ videoId: m.videoId, peerId: 'me', parallel: 3 }), manifest: m, sessionId: 's', grant: 'g',
    usePeers: true, have: all(6, [1, 3, 4, 5]), haveCount: 2, peers: { a: peer(all(6)) }, inFlight: [5], declined: [4],
    peerInFlight: [{ index: 3, peerId: 'a' }, { index: 4, peerId: 'a' }, { index: 1, peerId: 'a' }, { index: 3, peerId: 'b' }] };
  const plan = planOriginFetches(ctx);
  // 5 is the origin's already, 4 was declined lately: 3 then 1, oldest first, each once
  assert.equal(plan?.spawn.map((s) => s.input.index), [3, 1]);
  assert.equal(plan?.assign.inFlight, [5, 3, 1]);
  // a chunk no peer is fetching yet still comes first
  const fresh = planOriginFetches({ ...ctx, have: all(6, [0, 1, 3, 4, 5]), haveCount: 1 });
  assert.equal(fresh?.spawn.map((s) => s.input.index), [0, 3]);
  // during a turn (the origin is contended) nothing is raced
  assert.is(planOriginFetches({ ...ctx, lease: { ...LEASE, turnBytes: 10 * m.chunkSize } }), null);
});

test('denied → p2p: chunks come from peers (rarest first, pipelined), then complete and release', async () => {
  const m = makeManifest(6);
  const r = run({ open: async () => denied(m, 1), input: { perPeer: 2 } });
  await until(() => r.history.includes('active.p2p'), 'p2p');
  r.swarm({ type: 'peer.bitfield', peerId: 'a', have: all(6) });
  r.swarm({ type: 'peer.bitfield', peerId: 'b', have: only(6, [0, 1, 2]) });
  assert.is(r.calls.length, 0, 'nothing requested before a peer unchokes us');
  r.swarm({ type: 'peer.unchoked', peerId: 'a' });
  r.swarm({ type: 'peer.unchoked', peerId: 'b' });
  const out = await r.done();
  assert.is(out.status, 'complete');
  assert.equal(r.history, ['opening', 'active.p2p', 'assembling', 'releasing', 'complete']);
  const first = r.calls.slice(0, 2);
  assert.ok(first.every((c) => c.input.source === 'peer:a' && [3, 4, 5].includes(c.input.index)),
    'the rarest chunks go first, to the only peer that has them');
  assert.ok(r.conc.max <= 4);
  const fromA = out.bytesBySource['peer:a'] ?? 0;
  const fromB = out.bytesBySource['peer:b'] ?? 0;
  assert.is(fromA + fromB, m.size);
  assert.ok(fromB > 0, 'both peers served');
  assert.is(out.bytesBySource.origin, undefined);
  assert.equal(r.releases, [{ sessionId: 's1', peerId: 'p1' }]);
});

test('a peer that sends a corrupt chunk is banned (swarm.ban), its events ignored, the chunk refetched elsewhere', async () => {
  const m = makeManifest(3);
  const f = manualFetch();
  const r = run({ open: async () => denied(m), fetch: f.impl, input: { perPeer: 1 } });
  await until(() => r.history.includes('active.p2p'), 'p2p');
  r.swarm({ type: 'peer.bitfield', peerId: 'bad', have: all(3) });
  r.swarm({ type: 'peer.unchoked', peerId: 'bad' });
  await until(() => f.pending.size === 1, 'request to bad');
  f.pending.get(0)!.reject(failure('corrupt', 'hash mismatch'));
  await until(() => r.swarmCommands.length === 1, 'ban command');
  assert.equal(r.swarmCommands[0], { type: 'swarm.ban', peerId: 'bad', reason: 'hash mismatch' });
  const ctx = r.actor.getSnapshot().context;
  assert.equal(ctx.banned, ['bad']);
  assert.is(ctx.peers.bad, undefined);
  r.swarm({ type: 'peer.unchoked', peerId: 'bad' });
  assert.is(f.pending.size, 0, 'a banned peer is never asked again');
  r.swarm({ type: 'peer.bitfield', peerId: 'good', have: all(3) });
  r.swarm({ type: 'peer.unchoked', peerId: 'good' });
  for (let i = 0; i < 3; i++) {
    await until(() => f.pending.size === 1, `request ${i} to good`);
    const [, p] = [...f.pending.entries()][0]!;
    assert.is(p.call.input.source, 'peer:good');
    p.resolve();
  }
  assert.is((await r.done()).status, 'complete');
});

test('no peer has a chunk → wait; slot offered → resumeServer: origin takes what peers lack, peers keep going', async () => {
  const m = makeManifest(5);
  const f = manualFetch();
  const r = run({ open: async () => denied(m), fetch: f.impl, input: { perPeer: 1, parallel: 1 } });
  await until(() => r.history.includes('active.p2p'), 'p2p');
  r.swarm({ type: 'peer.bitfield', peerId: 'a', have: only(5, [0, 1, 2, 3]) });
  r.swarm({ type: 'peer.unchoked', peerId: 'a' });
  for (let i = 0; i < 2; i++) {
    await until(() => f.pending.size === 1, 'peer request');
    [...f.pending.values()][0]!.resolve();
  }
  await until(() => f.pending.size === 1, 'third peer request');
  const peerReq = [...f.pending.values()][0]!;
  r.keeper({ type: 'origin.slotOffered', grant: 'g2', lease: LEASE });
  await until(() => f.pending.size === 2, 'origin request');
  const originReq = [...f.pending.values()].find((p) => p.call.input.source === 'origin')!;
  assert.is(originReq.call.input.index, 4, 'the origin first sends the chunk no peer has');
  assert.is(originReq.call.input.grant, 'g2');
  assert.not.ok(peerReq.call.signal.aborted, 'the switch to resumeServer does not interrupt peers');
  peerReq.resolve();
  originReq.resolve();
  await until(() => f.pending.size > 0, 'last chunk');
  [...f.pending.values()][0]!.resolve();
  const out = await r.done();
  assert.equal(r.history, ['opening', 'active.p2p', 'active.resumeServer', 'assembling', 'releasing', 'complete']);
  assert.ok((out.bytesBySource.origin ?? 0) > 0 && (out.bytesBySource['peer:a'] ?? 0) > 0);
});

test('resumeServer: origin denied → back to p2p; peer requests survive; a peer leaving is re-asked elsewhere', async () => {
  const m = makeManifest(4);
  const f = manualFetch();
  const r = run({ open: async () => granted(m), fetch: f.impl, input: { perPeer: 1, parallel: 1 } });
  await until(() => f.pending.size === 1, 'origin request');
  f.pending.get(0)!.reject(failure('denied', '403'));
  await until(() => r.history.includes('active.p2p'), 'p2p');
  r.keeper({ type: 'origin.slotOffered', grant: 'g2', lease: LEASE });
  r.swarm({ type: 'peer.bitfield', peerId: 'a', have: all(4) });
  r.swarm({ type: 'peer.unchoked', peerId: 'a' });
  await until(() => f.pending.size === 2, 'origin + peer');
  const viaPeer = [...f.pending.values()].find((p) => p.call.input.source === 'peer:a')!;
  const viaOrigin = [...f.pending.values()].find((p) => p.call.input.source === 'origin')!;
  viaOrigin.reject(failure('denied', 'revoked'));
  await until(() => r.history[r.history.length - 1] === 'active.p2p', 'back to p2p');
  assert.ok(viaOrigin.call.signal.aborted || !f.pending.has(viaOrigin.call.input.index));
  assert.not.ok(viaPeer.call.signal.aborted, 'peer request kept');
  // the peer goes away: its request fails as network, and another peer gets the chunk
  r.swarm({ type: 'peer.left', peerId: 'a' });
  viaPeer.reject(failure('network', 'link closed'));
  r.swarm({ type: 'peer.bitfield', peerId: 'b', have: all(4) });
  r.swarm({ type: 'peer.unchoked', peerId: 'b' });
  for (let i = 0; i < 4; i++) {
    await until(() => f.pending.size === 1 || r.actor.getSnapshot().status === 'done', 'next');
    if (r.actor.getSnapshot().status === 'done') break;
    const [, p] = [...f.pending.entries()][0]!;
    assert.is(p.call.input.source, 'peer:b');
    p.resolve();
  }
  const out = await r.done();
  assert.is(out.status, 'complete');
  assert.equal(r.history.filter((s) => s.startsWith('active.')),
    ['active.server', 'active.p2p', 'active.resumeServer', 'active.p2p']);
});

test('a refusal (missing) stops asking that peer for that chunk; an endgame duplicate wins, the other is cancelled', async () => {
  const m = makeManifest(2);
  const f = manualFetch();
  const r = run({ open: async () => denied(m), fetch: f.impl, input: { perPeer: 2, maxSources: 2 } });
  await until(() => r.history.includes('active.p2p'), 'p2p');
  r.swarm({ type: 'peer.bitfield', peerId: 'a', have: all(2) });
  r.swarm({ type: 'peer.unchoked', peerId: 'a' });
  await until(() => f.pending.size === 2, 'two requests to a');
  f.pending.get(1)!.reject(failure('missing', 'not have'));
  await until(() => r.actor.getSnapshot().context.peers.a?.have[1] === false, 'refusal recorded');
  assert.is(r.calls.filter((c) => c.input.source === 'peer:a' && c.input.index === 1).length, 1, 'not asked again');
  const atA = r.calls.find((c) => c.input.source === 'peer:a' && c.input.index === 0)!;
  // b arrives: it takes chunk 1, and (endgame: nothing unrequested left) duplicates chunk 0
  r.swarm({ type: 'peer.bitfield', peerId: 'b', have: all(2) });
  r.swarm({ type: 'peer.unchoked', peerId: 'b' });
  await until(() => r.calls.filter((c) => c.input.source === 'peer:b').length === 2, 'b asked for both');
  // the fake keeps the latest request per index: chunk 0's entry is b's copy now
  f.pending.get(0)!.resolve();
  await until(() => r.actor.getSnapshot().context.have[0] === true, 'chunk 0');
  assert.ok(atA.signal.aborted, "a's losing copy is aborted");
  f.pending.get(1)!.resolve();
  const out = await r.done();
  assert.is(out.status, 'complete');
  assert.is(out.bytesBySource['peer:a'], undefined, 'a delivered nothing');
});

test('swarm-aware: an admitted client also uses peers; a declined chunk goes to peers, no attempt counted', async () => {
  const m = makeManifest(4);
  const f = manualFetch();
  const r = run({ open: async () => ({ ...granted(m), policy: 'swarm-aware' }), fetch: f.impl,
    input: { parallel: 1, perPeer: 1, maxAttempts: 1 }, delays: { declineDelay: 100000 } });
  await until(() => f.pending.size === 1, 'first origin request');
  const first = [...f.pending.values()][0]!;
  assert.is(first.call.input.source, 'origin');
  const declinedIndex = first.call.input.index;
  r.swarm({ type: 'peer.bitfield', peerId: 'a', have: all(4) });
  r.swarm({ type: 'peer.unchoked', peerId: 'a' });
  await until(() => r.calls.some((c) => c.input.source === 'peer:a'), 'peer used while in server');
  assert.ok(r.history.includes('active.server') && !r.history.includes('active.p2p'));
  first.reject(failure('declined', '409 chunk_in_swarm'));
  await until(() => r.actor.getSnapshot().context.declined.includes(declinedIndex), 'declined recorded');
  const ctx = r.actor.getSnapshot().context;
  assert.equal(ctx.attempts, {}, 'a decline is not a failed attempt (maxAttempts 1 would have failed the download)');
  assert.not.ok(ctx.inFlight.includes(declinedIndex));
  for (let i = 0; i < 20 && r.actor.getSnapshot().status !== 'done'; i++) {
    await until(() => f.pending.size > 0 || r.actor.getSnapshot().status === 'done', 'next request');
    for (const p of [...f.pending.values()]) {
      if (p.call.input.source === 'origin') assert.is.not(p.call.input.index, declinedIndex, 'declined chunk not re-asked of the origin');
      p.resolve();
    }
  }
  const out = await r.done();
  assert.is(out.status, 'complete');
  assert.ok((out.bytesBySource['peer:a'] ?? 0) > 0);
});

test('swarm-aware: a declined chunk is asked of the origin again after the decline delay when no peer has it', async () => {
  const m = makeManifest(1);
  let n = 0;
  const r = run({ open: async () => ({ ...granted(m), policy: 'swarm-aware' }), delays: { declineDelay: 5 },
    fetch: async ({ input }) => {
      if (++n === 1) throw failure('declined', '409');
      return { index: input.index, source: input.source, bytes: input.length };
    } });
  const out = await r.done();
  assert.is(out.status, 'complete');
  assert.is(n, 2);
  assert.equal(Object.keys(out.bytesBySource), ['origin']);
});

test.run();
