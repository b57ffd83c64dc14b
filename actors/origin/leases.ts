/**
 * Read side of admission for the gateway: does this session still hold the slot its grant names? Answered from
 * a watch-fed mirror of the admission bucket, falling back to one direct KV read when the mirror disagrees (it
 * may lag a fresh grant by a few milliseconds). This is what makes a released or expired slot stop serving at
 * once instead of when the grant token expires.
 */
import type { GrantClaims } from '../../protocol/mod.js';
import type { Clock } from '../../lib/clock.js';
import { guardBucket } from '../../lib/kvguard.js';
import { BucketSpecs, createKvStore, openBucket, type BucketOverrides, type MirrorHealth } from '../../lib/kv/mod.js';
import type { Logger } from '../../lib/logger.js';
import type { NatsConnection } from '../../lib/nats.js';
import {
  admissionCodec, CONFIG, configOf, isLease, isWaiter, leaseOf, slotKey, slotOf, waiterOf, type AdmissionConfig,
  type AdmissionRecord, type Lease, type Waiter,
} from './records.js';

export type { AdmissionConfig } from './records.js';

export interface LeaseChecker {
  /** true when the claims' session holds the claims' slot with an unexpired lease for the claims' video */
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
}

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
  return {
    async holds(c) {
      const key = slotKey(c.n);
      if (ok(leaseOf(store.peek(key)?.value), c)) return true;
      return ok(leaseOf((await store.read(key))?.value), c);
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
