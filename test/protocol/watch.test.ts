/**
 * The watch page's start window (protocol/watch.ts): the init segment and whole segments from the start until
 * the asked seconds are covered, never more chunks than allowed and never half a segment; the first-frame subset;
 * and the start chunk URL the page and its HTML's preload must agree on.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { firstFrameChunks, startChunkPath, startWindow, type StreamInfo } from '../../protocol/mod.js';

/** init of 1000 B, then `n` segments of `len` bytes and 2 s each, back to back */
function stream(n: number, len: number): StreamInfo {
  const segments = Array.from({ length: n }, (_, i) => ({ offset: 1000 + i * len, length: len, durationSec: 2 }));
  return { init: { offset: 0, length: 1000 }, segments, targetDurationSec: 2 } as StreamInfo;
}

test('covers the init segment and whole segments until the seconds are reached', () => {
  const s = stream(10, 100_000);
  const chunkSize = 65536;
  // 4 s: segments 0 and 1 (bytes 0 .. 200999), chunks 0..3
  assert.equal(startWindow(s, chunkSize, 4, 16), [0, 1, 2, 3]);
  // 5 s needs a third segment (bytes up to 300999): chunks 0..4
  assert.equal(startWindow(s, chunkSize, 5, 16), [0, 1, 2, 3, 4]);
  // 0 s still means the first segment: a player cannot start with less
  assert.equal(startWindow(s, chunkSize, 0, 16), [0, 1]);
});

test('never more chunks than allowed, and only whole segments', () => {
  const s = stream(10, 100_000);
  // 4 chunks allow segments 0 and 1 (chunks 0..3); a third segment would need chunk 4
  assert.equal(startWindow(s, 65536, 60, 4), [0, 1, 2, 3]);
  // 3 chunks: segment 1 ends in chunk 3, so only segment 0 fits (chunks 0..1), not half of segment 1
  assert.equal(startWindow(s, 65536, 60, 3), [0, 1]);
  // the init segment and the first segment do not fit in one chunk: no window at all
  assert.equal(startWindow(s, 65536, 60, 1), []);
});

test('the first frame needs the init segment and the first segment only', () => {
  const s = stream(10, 100_000);
  assert.equal(firstFrameChunks(s, 65536, [0, 1, 2, 3, 4]), [0, 1]);
  assert.equal(firstFrameChunks(s, 65536, []), []);
});

test('the start chunk URL carries the grant in its query, encoded', () => {
  assert.is(startChunkPath('vabc', 3, 'a.b+c/d'), '/videos/vabc/urgent/3?grant=a.b%2Bc%2Fd');
});

test.run();
