/**
 * The live window's rules (protocol/live.ts): segments append in order at the edge, the window slides to its DVR
 * length (the newest always stays), and anything out of order, of another stream or after the end is refused.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  appendSegment, LIVE_INDEX_SPACE, LIVE_PARTS, liveIndex, livePartRange, LiveSegment, LiveWindow, liveEdge, liveHlsPlaylist, segmentInWindow, validate, type LiveWindow as Window,
} from '../../protocol/mod.js';

const hash = (n: number) => n.toString(16).padStart(64, '0');
const seg = (seq: number, durationSec = 1, streamId = 'live1'): LiveSegment =>
  ({ streamId, seq, sha256: hash(seq + 1), length: 2000 + seq, parts: [1, 2, 3, 4].map((k) => hash(seq * 8 + k)), durationSec, producedAt: 1_000_000 + seq * 1000 });
const empty = (dvrSec: number): Window => ({ streamId: 'live1', rootHash: hash(99), init: { sha256: hash(0), length: 700 },
  initData: 'AAAA', segmentSec: 1, startedAt: 1_000_000, producedBytes: 0, dvrSec, segments: [] });

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

test('the window counts every byte produced, also of segments slid out; the index space is bounded', () => {
  let w = empty(2);
  for (let i = 0; i < 5; i++) w = appendSegment(w, seg(i));
  assert.is(w.producedBytes, 5 * 2000 + (0 + 1 + 2 + 3 + 4));
  assert.is(w.segments.length, 2);
  assert.throws(() => appendSegment(empty(2), seg(LIVE_INDEX_SPACE)), /index space/);
});

test('parts cover a segment exactly, in order, the last one possibly shorter', () => {
  for (const length of [64, 65, 66, 67, 1025, 63_001, 4 * 1024 * 1024]) {
    let at = 0;
    for (let k = 0; k < LIVE_PARTS; k++) {
      const r = livePartRange(length, k);
      assert.is(r.offset, at, `length ${length} part ${k}`);
      assert.ok(r.length > 0);
      at += r.length;
    }
    assert.is(at, length);
  }
  assert.is(liveIndex(3, 2), 3 * LIVE_PARTS + 2);
});

test('a live playlist slides (media sequence = first segment), marks gaps and ends with ENDLIST only at the end', () => {
  const opts = { initUri: 'init.mp4', segmentUri: (n: number) => `s/${n}.m4s`, targetDurationSec: 1, ended: false };
  const text = liveHlsPlaylist([seg(7), seg(8), seg(10, 1.5)], opts);
  assert.match(text, /#EXT-X-MEDIA-SEQUENCE:7\n/);
  assert.match(text, /#EXT-X-TARGETDURATION:2\n/, 'rounded up from the longest segment');
  assert.match(text, /#EXT-X-MAP:URI="init.mp4"/);
  assert.match(text, /s\/8.m4s\n#EXT-X-DISCONTINUITY\n#EXTINF:1.500000,\ns\/10.m4s/);
  assert.not.match(text, /ENDLIST|PLAYLIST-TYPE/);
  assert.match(liveHlsPlaylist([seg(7)], { ...opts, ended: true }), /#EXT-X-ENDLIST\n$/);
});

test('the schemas refuse what a forged announcement could carry', () => {
  assert.ok(validate(LiveSegment, seg(0)));
  for (const bad of [{ ...seg(0), sha256: 'xyz' }, { ...seg(0), seq: -1 }, { ...seg(0), length: 0 },
    { ...seg(0), durationSec: 0 }, { ...seg(0), streamId: 'a.b' }, { ...seg(0), length: 64 * 1024 * 1024 },
    { ...seg(0), parts: seg(0).parts.slice(1) }]) {
    assert.throws(() => validate(LiveSegment, bad));
  }
  assert.ok(validate(LiveWindow, appendSegment(empty(5), seg(0))));
  assert.throws(() => validate(LiveWindow, { ...empty(5), dvrSec: 0 }));
});

test.run();
