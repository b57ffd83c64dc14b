/**
 * Read side of admission for the gateway: does this session still hold the slot its grant names? Answered from
 * a watch-fed mirror of the admission bucket, falling back to one direct KV read when the mirror disagrees (it
 * may lag a fresh grant by a few milliseconds). This is what makes a released or expired slot stop serving at
 * once instead of when the grant token expires.
 *
 * One exception, bounded: a holder that yielded its turn (swarm-aware; it is parked on the wait list) releases the
 * slot once it has *asked* for its share, so the next holder's requests queue at the gateway behind its own instead
 * of the origin idling while they come in (machines/download/turns.ts). In a busy client some of those requests
 * reach the gateway only after the release; for `tailMs` after the park, up to `tailRequests` of them are still
 * admitted (per gateway). A client that asks more after yielding gets at most that many chunks more.
 */
import type { GrantClaims } from '../../protocol/mod.js';
import type { Clock } from '../../lib/clock.js';
import { guardBucket } from '../../lib/kvguard.js';
import { BucketSpecs, createKvStore, openBucket, type BucketOverrides, type MirrorHealth } from '../../lib/kv/mod.js';
import type { Logger } from '../../lib/logger.js';
import type { NatsConnection } from '../../lib/nats.js';
import {
  admissionCodec, CONFIG, configOf, isLease, isWaiter, leaseOf, slotKey, slotOf, waiterOf, waitKey,
  type AdmissionConfig, type AdmissionRecord, type Lease, type Waiter,
} from './records.js';

export type { AdmissionConfig } from './records.js';

export interface LeaseChecker {
  /**
   * true when the claims' session holds the claims' slot with an unexpired lease for the claims' video, or
   * yielded it moments ago and this is one of the few requests it still had on the way (counted: call once per
   * request)
   */
  holds(claims: GrantClaims): Promise<boolean>;
  /** live leases, for dashboards and tests */
  live(): Array<Lease & { slot: number }>;
  /** the wait list, longest waiting first */
  waiting(): Waiter[];
  /** capacity and policy as the origin workers published them (null before any worker started) */
  config(): AdmissionConfig | null;
  /** the mirror's health (watch restarts, staleness, skipped entries) */
  health(): MirrorHealth;
  stop(): Promise<void>;
}

export interface LeaseCheckerInit {
  /** bucket overrides of this deployment (replicas), used if the checker is the one that creates the bucket */
  bucket?: BucketOverrides;
  /** how long after a holder yields its turn the requests it still had on the way are admitted, ms */
  tailMs?: number;
  /** how many of them, per yield and gateway (a client's origin requests in flight) */
  tailRequests?: number;
}

export const LEASE_CHECKER_DEFAULTS = { tailMs: 2000, tailRequests: 4 } as const;
/** sessions whose tails are counted at once: past it the oldest count is forgotten (bounded memory) */
const MAX_TAILS = 4096;

export async function createLeaseChecker(
  components: { nc: NatsConnection; clock: Clock; logger: Logger },
  init: LeaseCheckerInit = {},
): Promise<LeaseChecker> {
  const kv = await openBucket(components.nc, BucketSpecs.admission, init.bucket);
  const store = createKvStore<AdmissionRecord>({ kv, codec: admissionCodec }, components);
  const mirror = store.mirror;
  await store.start();
  // the origin recreates a lost bucket; the gateway only has to watch the new one (or recreate it first)
  const guard = guardBucket({ spec: BucketSpecs.admission, ...(init.bucket ? { overrides: init.bucket } : {}),
    onRecreated: () => mirror.restart() }, components);
  const ok = (l: Lease | undefined, c: GrantClaims) =>
    !!l && l.sessionId === c.s && l.peerId === c.p && l.videoId === c.v && l.expiresAt > components.clock.now();
  const tailMs = init.tailMs ?? LEASE_CHECKER_DEFAULTS.tailMs;
  const tailRequests = init.tailRequests ?? LEASE_CHECKER_DEFAULTS.tailRequests;
  /** per parked session (keyed by its park time too: a later turn's yield starts afresh): tail requests admitted */
  const tails = new Map<string, { since: number; admitted: number }>();
  /** the session parked itself (its waiter entry's `since` is when) and its tail is not spent */
  const inTail = async (c: GrantClaims): Promise<boolean> => {
    const now = components.clock.now();
    const key = waitKey(c.s);
    const w = waiterOf(store.peek(key)?.value) ?? waiterOf((await store.read(key))?.value);
    if (w?.parked !== true || w.peerId !== c.p || w.videoId !== c.v || now - w.since > tailMs) return false;
    const t = tails.get(c.s);
    const seen = t && t.since === w.since ? t : { since: w.since, admitted: 0 };
    if (seen.admitted >= tailRequests) return false;
    seen.admitted++;
    tails.delete(c.s); // re-inserted last: the map's order is oldest first
    tails.set(c.s, seen);
    for (const [s, x] of tails) {
      if (tails.size <= MAX_TAILS && now - x.since <= tailMs) break;
      tails.delete(s);
    }
    return true;
  };
  return {
    async holds(c) {
      const key = slotKey(c.n);
      if (ok(leaseOf(store.peek(key)?.value), c)) return true;
      if (ok(leaseOf((await store.read(key))?.value), c)) return true;
      return tailMs > 0 && tailRequests > 0 && inTail(c);
    },
    live() {
      const now = components.clock.now();
      const out: Array<Lease & { slot: number }> = [];
      for (const e of mirror.entries.values()) {
        const l = leaseOf(e.value);
        if (l && isLease(e.key) && l.expiresAt > now) out.push({ ...l, slot: slotOf(e.key) });
      }
      return out.sort((a, b) => a.slot - b.slot);
    },
    waiting() {
      const now = components.clock.now();
      const out: Waiter[] = [];
      for (const e of mirror.entries.values()) {
        const w = waiterOf(e.value);
        if (w && isWaiter(e.key) && w.expiresAt > now) out.push(w);
      }
      return out.sort((a, b) => a.ticket - b.ticket);
    },
    config() {
      return configOf(store.peek(CONFIG)?.value) ?? null;
    },
    health: () => mirror.health(),
    async stop() {
      guard.stop();
      await store.stop();
    },
  };
}
