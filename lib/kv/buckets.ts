/**
 * Every JetStream KV bucket Switchyard uses, with the options it is created with: one spec per bucket, in one
 * place, so the owner, its readers and the guard that recreates a lost bucket (lib/kvguard.ts) agree.
 *
 * Opening creates the bucket when it does not exist; an existing one (made by an earlier run, another worker or
 * an operator's tool, e.g. with 3 replicas on a 3-node cluster) is opened as it is: @nats-io/kv's `create()`
 * only adds the stream when it is missing and never changes an existing stream's configuration.
 */
import { Kvm, type KV, type KvOptions } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { Buckets } from '../../protocol/mod.js';

/** What a bucket is created with when this process is the one that creates it. */
export interface BucketOptions {
  /** values kept per key (1: only the current one) */
  history: number;
  /** entries older than this are dropped by JetStream, ms (absent: kept until deleted) */
  ttlMs?: number;
  /** copies of the bucket's stream in a cluster (default 1; a single server accepts only 1) */
  replicas?: number;
}

/** A bucket's name and creation options. */
export interface BucketSpec {
  readonly name: string;
  readonly options: Readonly<BucketOptions>;
}

/** Links the relay saw negotiated are evidence for reports for this long (actors/signal/links.ts). */
export const LINK_EVIDENCE_TTL_MS = 30 * 60 * 1000;

/** The buckets, by role (names in protocol/subjects.ts `Buckets`). */
export const BucketSpecs = {
  /** admission: `slot.<i>` leases, `wait.<sessionId>` waiters, the `ticket` counter, the workers' `config` */
  admission: { name: Buckets.admission, options: { history: 1 } },
  /** manifests by video id (immutable once published) */
  catalog: { name: Buckets.catalog, options: { history: 1 } },
  /** swarm membership `<videoId>.<peerId>` */
  swarm: { name: Buckets.swarm, options: { history: 1 } },
  /** negotiated links `<videoId>.<a>.<b>`, kept as evidence for a while */
  links: { name: Buckets.links, options: { history: 1, ttlMs: LINK_EVIDENCE_TTL_MS } },
  /** live windows by stream id */
  live: { name: Buckets.live, options: { history: 1 } },
} as const satisfies Record<string, BucketSpec>;

/** Per-deployment changes to a spec: operators run `replicas: 3` on a 3-node cluster. */
export interface BucketOverrides {
  replicas?: number;
  ttlMs?: number;
}

/** The @nats-io/kv options for a spec with overrides applied. */
export function kvOptionsOf(spec: BucketSpec, overrides: BucketOverrides = {}): Partial<KvOptions> {
  const o = { ...spec.options, ...definedOnly(overrides) };
  if (o.replicas !== undefined && !(Number.isInteger(o.replicas) && o.replicas >= 1)) {
    throw new TypeError(`replicas of ${spec.name} must be an integer ≥ 1`);
  }
  return {
    history: o.history,
    ...(o.ttlMs ? { ttl: o.ttlMs } : {}),
    ...(o.replicas ? { replicas: o.replicas } : {}),
    // reads go to the stream leader: a direct get may be answered by any replica, including one still catching up
    // after a cluster node restarted, and a stale answer noted into a mirror hid the real entry (issue 10 faults)
    allow_direct: false,
  };
}

function definedOnly(o: BucketOverrides): BucketOverrides {
  return {
    ...(o.replicas !== undefined ? { replicas: o.replicas } : {}),
    ...(o.ttlMs !== undefined ? { ttlMs: o.ttlMs } : {}),
  };
}

/** Opens (creating it if missing) the bucket of `spec`. */
export function openBucket(nc: NatsConnection, spec: BucketSpec, overrides: BucketOverrides = {}): Promise<KV> {
  return new Kvm(nc).create(spec.name, kvOptionsOf(spec, overrides));
}
