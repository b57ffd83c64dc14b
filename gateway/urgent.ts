/**
 * The gateway's reserved share for urgent chunks (issue 8 item 2). Urgent grants hold no slot, so what bounds
 * them here is bandwidth: a token bucket of `bps` bytes per second that never waits. A request finds tokens or
 * is refused at once (429 `urgent_share_spent`): a player in a hurry is better served by a quick "no" (it turns
 * to its peers) than by a queue. A chunk may overdraw the bucket when any token is left, so a share smaller
 * than a chunk still passes one chunk now and then instead of none ever; the long-run rate stays `bps`.
 *
 * Each urgent grant also has its own byte budget (the total length of the chunks it covers, in its claims), so
 * one grant fetched twice cannot double its bytes. The table of budgets is bounded: entries leave once their
 * grant expired, and the oldest go first beyond `maxGrants`.
 */
import { QuotaExceededError, UrgentShareSpentError, type GrantClaims } from '../protocol/mod.js';

export interface UrgentShareInit {
  /** reserved bytes per second for urgent chunks; 0 disables the urgent route */
  bps: number;
  /** bucket depth in bytes (default one second of `bps`) */
  burst?: number;
  /** grants tracked at once (default 10,000) */
  maxGrants?: number;
  now?: () => number;
}

export interface UrgentShare {
  readonly bps: number;
  /** charges `bytes` to the share and to the grant's budget, or throws (UrgentShareSpentError / QuotaExceededError) */
  admit(claims: GrantClaims, bytes: number): void;
  /** gives the bytes back when a response never left */
  refund(claims: GrantClaims, bytes: number): void;
}

export const URGENT_SHARE_DEFAULTS = {
  /** 1 MiB/s: a few segments of a modest stream, small beside a deployment's slot traffic */
  bps: 1024 * 1024,
  maxGrants: 10_000,
} as const;

const grantKey = (c: GrantClaims) => `${c.s}.${c.exp}.${(c.c ?? []).join(',')}`;

export function createUrgentShare(init: UrgentShareInit): UrgentShare {
  const bps = init.bps;
  if (!(bps >= 0) || !Number.isFinite(bps)) throw new TypeError('urgent share must be a finite number of bytes/s ≥ 0');
  const burst = init.burst ?? bps;
  const maxGrants = init.maxGrants ?? URGENT_SHARE_DEFAULTS.maxGrants;
  const now = init.now ?? Date.now;
  let tokens = burst;
  let last = now();
  // insertion order is issue order, close enough to expiry order for the sweep at the front
  const used = new Map<string, { bytes: number; exp: number }>();

  const forgetExpired = (t: number) => {
    for (const [k, e] of used) {
      if (e.exp > t && used.size <= maxGrants) break;
      used.delete(k);
    }
  };

  return {
    bps,
    admit(claims, bytes) {
      const t = now();
      forgetExpired(t);
      const key = grantKey(claims);
      const e = used.get(key) ?? { bytes: 0, exp: claims.exp };
      if (e.bytes + bytes > (claims.b ?? 0)) {
        throw new QuotaExceededError(`this urgent grant covers ${claims.b ?? 0} bytes and has used them`);
      }
      if (bps <= 0) throw new UrgentShareSpentError('this gateway reserves no share for urgent chunks');
      tokens = Math.min(burst, tokens + ((t - last) / 1000) * bps);
      last = t;
      if (tokens <= 0) {
        throw new UrgentShareSpentError(`the urgent share (${bps} bytes/s) is spent for now; retry shortly or ask peers`);
      }
      tokens -= bytes;
      e.bytes += bytes;
      used.set(key, e);
    },
    refund(claims, bytes) {
      tokens = Math.min(burst, tokens + bytes);
      const e = used.get(grantKey(claims));
      if (e) e.bytes = Math.max(0, e.bytes - bytes);
    },
  };
}
