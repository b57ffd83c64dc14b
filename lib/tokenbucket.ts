/**
 * Token bucket for bandwidth emulation and client rate limits: `rate` bytes per second with a burst of `burst`
 * bytes. `take(n)` waits until n bytes may pass (a request larger than the burst waits its whole size at the
 * rate). Waiters are served in order, so one big request cannot starve small ones.
 */
import { sleep } from './abort.js';

export interface TokenBucket {
  readonly rate: number;
  take(bytes: number, signal?: AbortSignal): Promise<void>;
}

export function createTokenBucket(rate: number, burst = Math.max(16 * 1024, Math.floor(rate / 10))): TokenBucket {
  if (!(rate > 0)) throw new RangeError('token bucket rate must be > 0');
  let tokens = burst;
  let last = performance.now();
  let queue: Promise<void> = Promise.resolve();
  const refill = () => {
    const now = performance.now();
    tokens = Math.min(burst, tokens + ((now - last) / 1000) * rate);
    last = now;
  };
  // Bytes are taken at once and a deficit is waited off (a debt): a timer that fires late (a busy event loop) does
  // not lose rate, since the refill counts the real time elapsed. Slicing at the burst and discarding what a late
  // timer accrued above it made a 125 KB/s bucket deliver ~8 % less under load, enough to make a live origin that
  // needs exactly its rate fall seconds behind.
  const takeNow = async (bytes: number, signal?: AbortSignal) => {
    refill();
    tokens -= bytes;
    if (tokens >= 0) return;
    try {
      await sleep((-tokens / rate) * 1000, signal);
    } catch (err) {
      tokens += bytes; // given up: the bytes never pass
      throw err;
    }
  };
  return {
    rate,
    take(bytes, signal) {
      const p = queue.then(() => takeNow(bytes, signal));
      queue = p.catch(() => {});
      return p;
    },
  };
}
