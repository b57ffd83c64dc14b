/**
 * The incremental piece picker (machines/download/pieceIndex.ts) against the straightforward reference rules
 * (peers.ts `pickPeerRequestsReference`, `originOrderReference`): the same picks in the same order on random
 * scenarios (offline and streaming; haves, bitfield replacements, leaves, refusals, chunks verified, endgame),
 * and its structures stay consistent and bounded.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  originOrder, originOrderReference, pickPeerRequests, pickPeerRequestsReference, type PeerFetch, type PickInput,
} from '../../machines/download/peers.js';
import { PieceIndex, RankSet } from '../../machines/download/pieceIndex.js';
import { rng } from '../../bench/lib/prng.js';

test('RankSet: add, delete, next agree with a plain set, sizes stay within the universe', () => {
  const rand = rng(7);
  for (const n of [1, 31, 32, 33, 1000, 1024, 40000]) {
    const s = new RankSet(n);
    const ref = new Set<number>();
    for (let k = 0; k < 3000; k++) {
      const x = Math.floor(rand() * n);
      if (rand() < 0.6) {
        s.add(x);
        ref.add(x);
      } else {
        s.delete(x);
        ref.delete(x);
      }
      if (k % 97 === 0) {
        const from = Math.floor(rand() * (n + 2));
        const want = [...ref].filter((y) => y >= from).sort((a, b) => a - b)[0] ?? -1;
        assert.is(s.next(from), want, `next(${from}) of ${n}`);
      }
    }
    assert.is(s.size, ref.size);
    assert.ok(s.size <= n);
    const all: number[] = [];
    for (let x = s.next(0); x !== -1; x = s.next(x + 1)) all.push(x);
    assert.equal(all, [...ref].sort((a, b) => a - b));
  }
});

/** One random scenario: the index (through the record the machine keeps) and the reference pick the same. */
function scenario(seed: number, streaming: boolean) {
  const rand = rng(seed);
  const count = 1 + Math.floor(rand() * 150);
  const self = `me-${seed}`;
  const have = Array.from({ length: count }, () => rand() < 0.2);
  const idx = new PieceIndex(count, self, have);
  const nPeers = 1 + Math.floor(rand() * 7);
  let inFlight: PeerFetch[] = [];
  let originBusy: number[] = [];
  const perPeer = 1 + Math.floor(rand() * 4);
  const maxSources = 1 + Math.floor(rand() * 3);
  let playhead = Math.floor(rand() * count);
  const pid = () => `p${Math.floor(rand() * nPeers)}`;
  const verify = (i: number) => {
    if (have[i]) return;
    have[i] = true;
    idx.clientGot(i);
    inFlight = inFlight.filter((f) => f.index !== i);
    originBusy = originBusy.filter((x) => x !== i);
  };
  for (let step = 0; step < 120 && have.includes(false); step++) {
    const r = rand();
    const id = pid();
    if (r < 0.12) {
      const density = rand();
      idx.bitfield(id, Array.from({ length: count }, () => rand() < density));
    } else if (r < 0.45) idx.have(id, Math.floor(rand() * count));
    else if (r < 0.5) {
      idx.leave(id);
      inFlight = inFlight.filter((f) => f.peerId !== id);
    } else if (r < 0.6) idx.setFlags(id, { unchoked: rand() < 0.8, failures: rand() < 0.1 ? 3 : 0 });
    else if (r < 0.65) idx.drop(id, Math.floor(rand() * count));
    else if (r < 0.8 && inFlight.length > 0) verify(inFlight[Math.floor(rand() * inFlight.length)]!.index);
    else if (r < 0.85) {
      const missing = have.flatMap((h, i) => (h ? [] : [i]));
      if (missing.length > 0) verify(missing[Math.floor(rand() * missing.length)]!);
    } else if (r < 0.9) {
      const i = Math.floor(rand() * count);
      if (!have[i] && !originBusy.includes(i)) originBusy.push(i);
    } else if (r < 0.95) playhead = Math.floor(rand() * count);
    const peers = idx.view();
    const b: [number, number] = [playhead, Math.min(count, playhead + 1 + Math.floor(rand() * 10))];
    const deadline = streaming
      ? Object.assign((i: number) => (i >= b[0] && i < b[1] ? i - b[0] : Number.MAX_SAFE_INTEGER), { window: b })
      : undefined;
    const x: PickInput = { self, have, peers, peerInFlight: inFlight, originBusy, perPeer, maxSources,
      ...(deadline ? { deadline } : {}) };
    const want = pickPeerRequestsReference(x);
    const got = pickPeerRequests(x);
    assert.equal(got, want, `seed ${seed} step ${step}`);
    // a plain record (no index attached) takes the throwaway-index path: the same again
    assert.equal(pickPeerRequests({ ...x, peers: { ...peers } }), want, `seed ${seed} step ${step} (plain record)`);
    const busy = [...originBusy, ...inFlight.map((f) => f.index)];
    const free = Math.floor(rand() * 6);
    assert.equal(originOrder(have, peers, busy, free), originOrderReference(have, peers, busy, free), `origin order ${seed}`);
    assert.equal(originOrder(have, peers, busy, free, self), originOrderReference(have, peers, busy, free, self),
      `shuffled origin order ${seed}`);
    inFlight = [...inFlight, ...got];
    const err = idx.check();
    assert.is(err, null, `seed ${seed} step ${step}: ${err}`);
  }
}

test('equivalence with the reference picker: offline, random scenarios', () => {
  for (let seed = 1; seed <= 150; seed++) scenario(seed, false);
});

test('equivalence with the reference picker: streaming (deadline window first), random scenarios', () => {
  for (let seed = 1001; seed <= 1150; seed++) scenario(seed, true);
});

test('endgame: duplicates only once everything a ready peer holds is requested, ≤ maxSources, same as the reference', () => {
  const count = 10;
  const have = Array.from({ length: count }, (_, i) => i < 8);
  const idx = new PieceIndex(count, 'me', have);
  for (const id of ['a', 'b', 'c']) {
    idx.bitfield(id, new Array<boolean>(count).fill(true));
    idx.setFlags(id, { unchoked: true });
  }
  const x: PickInput = { self: 'me', have, peers: idx.view(), peerInFlight: [{ index: 8, peerId: 'a' }, { index: 9, peerId: 'a' }],
    originBusy: [], perPeer: 4, maxSources: 2 };
  const got = pickPeerRequests(x);
  assert.equal(got, pickPeerRequestsReference(x));
  assert.equal(got, [{ index: 8, peerId: 'b' }, { index: 9, peerId: 'b' }]);
});

test('bounds: buckets and counts never outgrow the chunk and peer counts; a departed peer leaves nothing behind', () => {
  const rand = rng(3);
  const count = 500;
  const idx = new PieceIndex(count, 'me', []);
  for (let round = 0; round < 20; round++) {
    for (let k = 0; k < 10; k++) idx.bitfield(`p${k}`, Array.from({ length: count }, () => rand() < 0.5));
    for (let k = 0; k < 2000; k++) idx.have(`p${Math.floor(rand() * 10)}`, Math.floor(rand() * count));
    for (let k = 0; k < 5; k++) idx.leave(`p${k}`);
  }
  assert.is(idx.check(), null);
  assert.ok(idx.peerIds().length <= 10);
  for (let i = 0; i < count; i++) assert.ok(idx.availability(i) >= 0 && idx.availability(i) <= 10);
  for (const id of idx.peerIds()) idx.leave(id);
  assert.equal(idx.peerIds(), []);
  for (let i = 0; i < count; i++) assert.is(idx.availability(i), 0);
  assert.is(idx.check(), null);
  const json = JSON.parse(JSON.stringify(idx));
  assert.equal(json, { count, peers: 0, missing: count });
  // the record handed to the context is plain data: JSON and Object.values see only the peers
  idx.bitfield('x', [true]);
  const rec = idx.view();
  assert.equal(Object.keys(rec), ['x']);
  assert.is(JSON.parse(JSON.stringify(rec)).x.haveCount, 1);
  assert.is(PieceIndex.of(rec), idx);
  assert.is(PieceIndex.of({ ...rec }), undefined);
});

test.run();
