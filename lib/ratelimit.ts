/**
 * Per-key rate limiting (per peer, per address) for anything a stranger can call: a token bucket per key in a
 * map bounded to `maxKeys`. Map order is insertion order, and every use re-inserts its key, so the map stays
 * least-recently-seen first and eviction drops the key idle longest; an evicted key merely starts again with a
 * full bucket, so the bound costs a little precision, never memory.
 */
export interface KeyedRateLimiterInit {
  /** sustained events per second per key */
  ratePerSecond: number;
  /** burst per key (default 2 × the rate, at least 1) */
  burst?: number;
  /** keys remembered at most (default 10,000) */
  maxKeys?: number;
  /** ms clock (default performance.now) */
  now?: () => number;
}

export interface KeyedRateLimiter {
  readonly ratePerSecond: number;
  readonly burst: number;
  /** takes one token for `key`; false when its bucket is empty */
  allow(key: string): boolean;
  /** keys currently tracked (bounded by maxKeys) */
  readonly size: number;
  clear(): void;
}

interface Bucket {
  tokens: number;
  last: number;
}

export function createKeyedRateLimiter(init: KeyedRateLimiterInit): KeyedRateLimiter {
  const rate = init.ratePerSecond;
  if (!(rate > 0) || !Number.isFinite(rate)) throw new TypeError('ratePerSecond must be a finite number > 0');
  const burst = init.burst ?? Math.max(1, rate * 2);
  if (!(burst >= 1) || !Number.isFinite(burst)) throw new TypeError('burst must be a finite number ≥ 1');
  const maxKeys = init.maxKeys ?? 10_000;
  if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new TypeError('maxKeys must be an integer ≥ 1');
  const now = init.now ?? (() => performance.now());
  const buckets = new Map<string, Bucket>();
  return {
    ratePerSecond: rate,
    burst,
    allow(key) {
      const t = now();
      let b = buckets.get(key);
      if (b) {
        buckets.delete(key);
        b.tokens = Math.min(burst, b.tokens + (Math.max(0, t - b.last) / 1000) * rate);
        b.last = t;
      } else {
        b = { tokens: burst, last: t };
        while (buckets.size >= maxKeys) {
          const oldest = buckets.keys().next();
          if (oldest.done) break;
          buckets.delete(oldest.value);
        }
      }
      buckets.set(key, b);
      if (b.tokens < 1) return false;
      b.tokens -= 1;
      return true;
    },
    get size() {
      return buckets.size;
    },
    clear: () => buckets.clear(),
  };
}
