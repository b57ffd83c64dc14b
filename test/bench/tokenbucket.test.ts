/**
 * lib/tokenbucket.ts holds its rate: two concurrent takers ask for random-size pieces (seeded, 1 B .. 256 KiB,
 * some above the burst) for 5 s at 2 MiB/s; bytes let through / elapsed must be within ±10 % of the rate.
 * The only timing assertion in test/bench (bandwidth emulation depends on it).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createTokenBucket } from '../../lib/tokenbucket.js';
import { rng } from '../../bench/lib/prng.js';

const MiB = 1024 * 1024;

test('2 MiB/s over 5 s with two concurrent takers: within ±10 %', async () => {
  const rate = 2 * MiB;
  const bucket = createTokenBucket(rate);
  const runMs = 5000;
  const t0 = performance.now();
  const taker = async (seed: number) => {
    const next = rng(seed);
    let bytes = 0;
    let pieces = 0;
    while (performance.now() - t0 < runMs) {
      const n = 1 + Math.floor(next() * 256 * 1024);
      await bucket.take(n);
      bytes += n;
      pieces++;
    }
    return { bytes, pieces };
  };
  const [a, b] = await Promise.all([taker(1), taker(2)]);
  const elapsed = (performance.now() - t0) / 1000;
  const measured = (a!.bytes + b!.bytes) / elapsed;
  const err = measured / rate - 1;
  console.log(`  ${(measured / MiB).toFixed(3)} MiB/s over ${elapsed.toFixed(2)} s (${(err * 100).toFixed(1)} %), ` +
    `${a!.pieces} + ${b!.pieces} pieces`);
  assert.ok(Math.abs(err) <= 0.1, `measured ${measured} B/s for ${rate} B/s`);
  // both takers were served (waiters are queued in order, neither starves)
  assert.ok(a!.bytes > 0.3 * (a!.bytes + b!.bytes) && b!.bytes > 0.3 * (a!.bytes + b!.bytes), 'both takers got a fair share');
});

test('a busy event loop does not cost rate: 125 KB/s in 63 KB takes, the loop blocked 15 ms of every 20', async () => {
  const rate = 125_000;
  const bucket = createTokenBucket(rate);
  const busy = setInterval(() => {
    const until = performance.now() + 15;
    while (performance.now() < until) { /* a loaded process */ }
  }, 20);
  const t0 = performance.now();
  let bytes = 0;
  try {
    while (performance.now() - t0 < 4000) {
      await bucket.take(63_000);
      bytes += 63_000;
    }
  } finally {
    clearInterval(busy);
  }
  const measured = bytes / ((performance.now() - t0) / 1000);
  console.log(`  ${Math.round(measured)} B/s under load for ${rate} B/s`);
  assert.ok(Math.abs(measured / rate - 1) <= 0.1, `measured ${measured} B/s`);
});

test.run();
