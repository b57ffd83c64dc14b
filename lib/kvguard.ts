/**
 * Keeps a JetStream KV bucket in existence. A bucket can be lost (an operator's mistake, a JetStream store wiped,
 * a stream deleted by a compromised service): without this guard every write then fails until a restart. The
 * guard looks for the bucket's stream every `intervalMs`, recreates it with the options the owner uses, and tells
 * the owner (which restarts its mirror and rewrites what it publishes there). Clients whose state was in the
 * lost bucket learn it from their next request (`unknown_session`) and start over.
 */
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KvOptions } from '@nats-io/kv';
import { kvOptionsOf, type BucketOverrides, type BucketSpec } from './kv/buckets.js';
import { isStreamMissing } from './kv/errors.js';
import type { Logger } from './logger.js';
import type { NatsConnection } from './nats.js';

export interface BucketGuard {
  /** checks now; true when the bucket was missing and has been recreated */
  check(): Promise<boolean>;
  stop(): void;
}

export interface BucketGuardInit {
  /** the bucket's spec (lib/kv/buckets.ts), with this deployment's overrides (replicas) */
  spec?: BucketSpec;
  overrides?: BucketOverrides;
  /** without a spec: the bucket's name and @nats-io/kv options */
  bucket?: string;
  options?: Partial<KvOptions>;
  /** default 2000 ms */
  intervalMs?: number;
  /** called after a recreation, before the next check */
  onRecreated(): Promise<void>;
}

export function guardBucket(init: BucketGuardInit, components: { nc: NatsConnection; logger: Logger }): BucketGuard {
  const bucket = init.spec?.name ?? init.bucket;
  if (!bucket) throw new TypeError('guardBucket needs a spec or a bucket name');
  // the options the owner creates the bucket with: a recreation must not lose e.g. the replicas
  const options = init.spec ? kvOptionsOf(init.spec, init.overrides) : (init.options ?? {});
  let jsm: JetStreamManager | null = null;
  let running: Promise<boolean> | null = null;
  // another process (a gateway, another worker) may recreate the bucket first: a new creation time tells us
  let created: string | null = null;
  const once = async (): Promise<boolean> => {
    jsm ??= await jetstreamManager(components.nc);
    const stream = `KV_${bucket}`;
    try {
      const info = await jsm.streams.info(stream);
      const was = created;
      created = info.created;
      if (was === null || was === info.created) return false;
      components.logger.warn('KV bucket was recreated elsewhere', { bucket });
    } catch (err) {
      if (!isStreamMissing(err)) throw err;
      components.logger.warn('KV bucket lost: recreating it', { bucket });
      await new Kvm(components.nc).create(bucket, options);
      created = (await jsm.streams.info(stream)).created;
    }
    await init.onRecreated();
    return true;
  };
  const check = () => {
    running ??= once().finally(() => (running = null));
    return running;
  };
  const timer = setInterval(() => {
    // a NATS outage makes checks fail for a while: that is not a lost bucket, so only log at debug level
    void check().catch((err) => components.logger.debug('bucket check failed', { bucket, err }));
  }, init.intervalMs ?? 2000);
  timer.unref();
  // the baseline creation time, taken now so that a recreation by anyone later is noticed
  void check().catch((err) => components.logger.debug('first bucket check failed', { bucket, err }));
  return { check, stop: () => clearInterval(timer) };
}
