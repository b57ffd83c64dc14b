/**
 * bench/lib/ideal.ts: the zero-overhead chunk-level schedule bench:swarm prints beside each capacity 1 crowd. It
 * must never beat the fluid bound for one copy from the origin, must come closer to it as chunks get finer, and
 * must reduce to the origin alone when there is nobody to share with.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { idealChunkSchedule } from '../../bench/lib/ideal.js';
import { egressBound } from '../../lib/bounds.js';

const MiB = 1024 * 1024;
const base = { F: 32 * MiB, us: 4 * MiB, ui: 1 * MiB };

test('one peer: the origin sends it the file, nothing else', () => {
  const r = idealChunkSchedule({ ...base, N: 1, chunkBytes: 256 * 1024 });
  assert.ok(Math.abs(r.D_s - 8) < 1e-6, String(r.D_s));
  assert.ok(Math.abs(r.idleUploadBytes - base.ui * 8) < 1, String(r.idleUploadBytes)); // nobody to upload to
});

test('never sooner than the fluid bound for one copy; closer to it with finer chunks', () => {
  for (const N of [5, 10, 20]) {
    const bound = egressBound({ N, ...base }, 1);
    const coarse = idealChunkSchedule({ ...base, N, chunkBytes: 1024 * 1024 });
    const fine = idealChunkSchedule({ ...base, N, chunkBytes: 64 * 1024 });
    assert.ok(coarse.D_s >= bound - 1e-6 && fine.D_s >= bound - 1e-6, JSON.stringify({ N, bound, coarse, fine }));
    assert.ok(fine.D_s < coarse.D_s, JSON.stringify({ N, coarse: coarse.D_s, fine: fine.D_s }));
    // what the grain costs is idle upload: the ramp at the start is part of it
    assert.ok(coarse.idleUploadBytes > fine.idleUploadBytes && coarse.rampIdleBytes <= coarse.idleUploadBytes);
  }
});

test('the idle upload is the whole gap: Σ u_i × D = (N−1)·F of peer uploads + idle', () => {
  // every peer receives every chunk once, the origin sends each once: peers upload (N−1)·F, and the upload
  // capacity that did not go to that was idle
  for (const N of [3, 10]) {
    const r = idealChunkSchedule({ ...base, N, chunkBytes: 256 * 1024 });
    const capacity = N * base.ui * r.D_s;
    assert.ok(Math.abs(capacity - r.idleUploadBytes - (N - 1) * base.F) < 1, JSON.stringify({ N, r }));
  }
});

test('forwarding a chunk before it is whole: never later than whole chunks, never sooner than the fluid bound', () => {
  for (const N of [5, 10, 20]) {
    const bound = egressBound({ N, ...base }, 1);
    const p = { ...base, N, chunkBytes: 256 * 1024 };
    const whole = idealChunkSchedule(p);
    const early = idealChunkSchedule({ ...p, forwardAfterBytes: 64 * 1024 });
    assert.ok(early.D_s < whole.D_s && early.D_s >= bound - 1e-6, JSON.stringify({ N, bound, whole, early }));
    // forwarding once all of it arrived is what peers do today
    assert.equal(idealChunkSchedule({ ...p, forwardAfterBytes: 256 * 1024 }), whole);
  }
});

test('the same parameters and seed give the same schedule; a bad parameter is refused', () => {
  const p = { ...base, N: 8, chunkBytes: 256 * 1024, seed: 7 };
  assert.equal(idealChunkSchedule(p), idealChunkSchedule(p));
  assert.throws(() => idealChunkSchedule({ ...p, N: 0 }), /whole number/);
  assert.throws(() => idealChunkSchedule({ ...p, ui: 0 }), /positive/);
  assert.throws(() => idealChunkSchedule({ ...p, forwardAfterBytes: 0 }), /forwardAfterBytes/);
});

test.run();
