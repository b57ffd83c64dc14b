/**
 * Token bucket for bandwidth emulation and client rate limits: `rate` bytes per second with a burst of `burst`
 * bytes. `take(n)` waits until n bytes may pass; requests larger than the burst are let through in slices so a
 * large chunk cannot stall forever. Waiters are served in order, so one big request cannot starve small ones.
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
  const takeNow = async (bytes: number, signal?: AbortSignal) => {
    let left = bytes;
    while (left > 0) {
      refill();
      const slice = Math.min(left, burst);
      if (tokens >= slice) {
        tokens -= slice;
        left -= slice;
        continue;
      }
      await sleep(Math.max(1, ((slice - tokens) / rate) * 1000), signal);
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
