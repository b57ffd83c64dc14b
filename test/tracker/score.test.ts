import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  availability, popcount, rankPeers, rttFactor, throughputFactor, TF_MAX, TF_MIN, type ScoreAsker, type ScoreCandidate,
} from '../../actors/tracker/score.js';
import { encodeBitfield } from '../../protocol/mod.js';

const N = 8;
/** bits for `count` chunks with the listed indexes set */
function bits(indexes: number[], count = N): Uint8Array {
  const have = new Array<boolean>(count).fill(false);
  for (const i of indexes) have[i] = true;
  return new Uint8Array(Buffer.from(encodeBitfield(have), 'base64'));
}
function cand(peerId: string, indexes: number[], uploadBps = 0): ScoreCandidate {
  const b = bits(indexes);
  return { peerId, bits: b, have: popcount(b), uploadBps };
}
const asker = (indexes: number[], extra: Partial<ScoreAsker> = {}): ScoreAsker =>
  ({ peerId: 'me', chunkCount: N, bits: bits(indexes), ...extra });
const ids = (xs: { peerId: string }[]) => xs.map((x) => x.peerId);

test('popcount and availability count set bits per chunk', () => {
  assert.is(popcount(bits([0, 3, 7])), 3);
  assert.equal([...availability(N, [bits([0, 1]), bits([1, 2]), bits([1])])], [1, 3, 1, 0, 0, 0, 0, 0]);
  // spare bits beyond the chunk count never count
  assert.equal([...availability(3, [new Uint8Array([0xff])])], [1, 1, 1]);
});

test('rarest first: one rare chunk outranks two common ones', () => {
  const cs = [cand('common', [1, 2]), cand('rare', [0]), cand('alsoCommon', [1, 2])];
  const avail = availability(N, cs.map((c) => c.bits)); // chunk 0: 1 holder, chunks 1,2: 2 holders
  const out = rankPeers(asker([]), cs, avail, 10);
  // 1/1 for the rare chunk vs 1/2 + 1/2 for the common pair: all tie at 1, the per-asker hash orders them
  assert.equal(out.map((p) => p.score), [1, 1, 1]);
  const rare = out.find((p) => p.peerId === 'rare')!;
  assert.equal([rare.useful, rare.have], [1, 1]);
  assert.equal(out.filter((p) => p.peerId !== 'rare').map((p) => p.useful), [2, 2]);
  // with three holders of the common chunks, the rare peer wins outright
  const cs3 = [...cs, cand('third', [1, 2])];
  const out3 = rankPeers(asker([]), cs3, availability(N, cs3.map((c) => c.bits)), 10);
  assert.is(out3[0]!.peerId, 'rare');
  assert.ok(out3[0]!.score > out3[1]!.score);
});

test('chunks the asker already has are worth nothing; useless peers sort last but stay listed', () => {
  const cs = [cand('useless', [0, 1, 2, 3]), cand('one', [4])];
  const out = rankPeers(asker([0, 1, 2, 3]), cs, availability(N, cs.map((c) => c.bits)), 10);
  assert.equal(ids(out), ['one', 'useless']);
  assert.is(out[1]!.useful, 0);
  assert.is(out[1]!.score, 0);
});

test('RTT divides the score by 1 + rtt/50', () => {
  assert.is(rttFactor(undefined), 1);
  assert.is(rttFactor(50), 2);
  const cs = [cand('far', [0]), cand('near', [1])];
  const avail = availability(N, cs.map((c) => c.bits));
  const out = rankPeers(asker([], { rttMs: { far: 200, near: 10 } }), cs, avail, 10);
  assert.equal(ids(out), ['near', 'far']);
  assert.is(out[0]!.score, 1 / 1.2);
  assert.is(out[1]!.score, 1 / 5);
  // flip the RTTs and the order flips
  assert.equal(ids(rankPeers(asker([], { rttMs: { far: 1, near: 300 } }), cs, avail, 10)), ['far', 'near']);
});

test('throughput: the asker\'s measurement beats self-reported upload rate; factor is relative and clamped', () => {
  assert.is(throughputFactor(0, 100), 1);
  assert.is(throughputFactor(200, 100), 2);
  assert.is(throughputFactor(1e9, 1), TF_MAX);
  assert.is(throughputFactor(1, 1e9), TF_MIN);
  const cs = [cand('a', [0], 1_000_000), cand('b', [1], 100_000)];
  const avail = availability(N, cs.map((c) => c.bits));
  // no measurements: a's self-reported upload rate wins
  assert.equal(ids(rankPeers(asker([]), cs, avail, 10)), ['a', 'b']);
  // the asker measured b fast and a slow: its own table wins
  const out = rankPeers(asker([], { throughputBps: { a: 50_000, b: 5_000_000 } }), cs, avail, 10);
  assert.equal(ids(out), ['b', 'a']);
  assert.ok(out[0]!.score > 1 && out[1]!.score < 1);
});

test('usefulness still dominates moderate link differences', () => {
  // rare chunk holder with a slower link still beats a fast peer holding only a common chunk
  const cs = [cand('rareSlow', [0]), cand('commonFast', [1]), cand('x', [1]), cand('y', [1]), cand('z', [1])];
  const avail = availability(N, cs.map((c) => c.bits));
  const out = rankPeers(asker([], { rttMs: { rareSlow: 25, commonFast: 0 } }), cs, avail, 2);
  assert.is(out[0]!.peerId, 'rareSlow');
});

test('a complete asker prefers the candidates lacking the most chunks', () => {
  const all = [0, 1, 2, 3, 4, 5, 6, 7];
  const cs = [cand('nearlyDone', [0, 1, 2, 3, 4, 5, 6]), cand('fresh', []), cand('half', [0, 1, 2, 3]), cand('seed', all)];
  const out = rankPeers(asker(all), cs, availability(N, cs.map((c) => c.bits)), 10);
  assert.equal(ids(out), ['fresh', 'half', 'nearlyDone', 'seed']);
  assert.equal(out.map((p) => p.useful), [0, 0, 0, 0]);
  assert.equal(out.map((p) => p.complete), [false, false, false, true]);
  assert.is(out[3]!.score, 0);
});

test('want truncates; ties are deterministic per asker', () => {
  const cs = ['p1', 'p2', 'p3', 'p4', 'p5'].map((p) => cand(p, [0]));
  const avail = availability(N, cs.map((c) => c.bits));
  assert.is(rankPeers(asker([]), cs, avail, 2).length, 2);
  assert.is(rankPeers(asker([]), cs, avail, 0).length, 0);
  assert.equal(ids(rankPeers(asker([]), cs, avail, 5)), ids(rankPeers(asker([]), [...cs].reverse(), avail, 5)));
});

test.run();
