/**
 * The live window's rules (protocol/live.ts): segments append in order at the edge, the window slides to its DVR
 * length (the newest always stays), and anything out of order, of another stream or after the end is refused.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  appendSegment, LiveSegment, LiveWindow, liveEdge, segmentInWindow, validate, type LiveWindow as Window,
} from '../../protocol/mod.js';

const hash = (n: number) => n.toString(16).padStart(64, '0');
const seg = (seq: number, durationSec = 1, streamId = 'live1'): LiveSegment =>
  ({ streamId, seq, sha256: hash(seq + 1), length: 1000 + seq, durationSec, producedAt: 1_000_000 + seq * 1000 });
const empty = (dvrSec: number): Window => ({ streamId: 'live1', init: { sha256: hash(0), length: 700 }, dvrSec, segments: [] });

test('segments append at the edge and the window slides to its DVR length', () => {
  let w = empty(3);
  assert.is(liveEdge(w), null);
  for (let i = 0; i < 10; i++) w = appendSegment(w, seg(i));
  assert.is(liveEdge(w), 9);
  assert.equal(w.segments.map((s) => s.seq), [7, 8, 9], 'the last 3 s');
  assert.is(segmentInWindow(w, 8)?.sha256, hash(9));
  assert.is(segmentInWindow(w, 6), undefined, 'slid out');
  assert.is(segmentInWindow(w, 10), undefined, 'not produced yet');
  assert.is(segmentInWindow(w, 7.5), undefined);
});

test('uneven segments: the window covers at least the DVR length, and the newest always stays', () => {
  let w = empty(2.5);
  for (const [i, d] of [[0, 1], [1, 2], [2, 0.5], [3, 1.5]] as const) w = appendSegment(w, seg(i, d));
  // from the edge back: 1.5 + 0.5 = 2 < 2.5, + 2 = 4 ≥ 2.5: segments 1..3 stay
  assert.equal(w.segments.map((s) => s.seq), [1, 2, 3]);
  let one = empty(0.1);
  one = appendSegment(appendSegment(one, seg(0, 5)), seg(1, 5));
  assert.equal(one.segments.map((s) => s.seq), [1], 'a segment longer than the window still stays');
});

test('a gap, a repeat, another stream or a segment after the end is refused', () => {
  const w = appendSegment(appendSegment(empty(10), seg(0)), seg(1));
  assert.throws(() => appendSegment(w, seg(3)), /does not follow 1/);
  assert.throws(() => appendSegment(w, seg(1)), /does not follow 1/);
  assert.throws(() => appendSegment(w, seg(2, 1, 'other')), /offered to live1/);
  assert.throws(() => appendSegment({ ...w, ended: {} }, seg(2)), /has ended/);
  // a window may start at any seq (a packager restarted mid-stream numbers on; a viewer joins late)
  assert.is(liveEdge(appendSegment(empty(10), seg(41))), 41);
});

test('the schemas refuse what a forged announcement could carry', () => {
  assert.ok(validate(LiveSegment, seg(0)));
  for (const bad of [{ ...seg(0), sha256: 'xyz' }, { ...seg(0), seq: -1 }, { ...seg(0), length: 0 },
    { ...seg(0), durationSec: 0 }, { ...seg(0), streamId: 'a.b' }, { ...seg(0), length: 64 * 1024 * 1024 }]) {
    assert.throws(() => validate(LiveSegment, bad));
  }
  assert.ok(validate(LiveWindow, appendSegment(empty(5), seg(0))));
  assert.throws(() => validate(LiveWindow, { ...empty(5), dvrSec: 0 }));
});

test.run();
