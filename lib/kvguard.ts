/**
 * Keeps a JetStream KV bucket in existence. A bucket can be lost (an operator's mistake, a JetStream store wiped,
 * a stream deleted by a compromised service): without this guard every write then fails until a restart. The
 * guard looks for the bucket's stream every `intervalMs`, recreates it with the options the owner uses, and tells
 * the owner (which restarts its mirror and rewrites what it publishes there). Clients whose state was in the
 * lost bucket learn it from their next request (`unknown_session`) and start over.
 */
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KvOptions } from '@nats-io/kv';
import type { Logger } from './logger.js';
import type { NatsConnection } from './nats.js';

export interface BucketGuard {
  /** checks now; true when the bucket was missing and has been recreated */
  check(): Promise<boolean>;
  stop(): void;
}

export interface BucketGuardInit {
  bucket: string;
  options: Partial<KvOptions>;
  /** default 2000 ms */
  intervalMs?: number;
  /** called after a recreation, before the next check */
  onRecreated(): Promise<void>;
}

function isMissing(err: unknown): boolean {
  const e = err as { code?: unknown; api_error?: { err_code?: number }; message?: string } | null;
  return e?.api_error?.err_code === 10059 || /stream not found/i.test(String(e?.message ?? ''));
}

export function guardBucket(init: BucketGuardInit, components: { nc: NatsConnection; logger: Logger }): BucketGuard {
  let jsm: JetStreamManager | null = null;
  let running: Promise<boolean> | null = null;
  // another process (a gateway, another worker) may recreate the bucket first: a new creation time tells us
  let created: string | null = null;
  const once = async (): Promise<boolean> => {
    jsm ??= await jetstreamManager(components.nc);
    const stream = `KV_${init.bucket}`;
    try {
      const info = await jsm.streams.info(stream);
      const was = created;
      created = info.created;
      if (was === null || was === info.created) return false;
      components.logger.warn('KV bucket was recreated elsewhere', { bucket: init.bucket });
    } catch (err) {
      if (!isMissing(err)) throw err;
      components.logger.warn('KV bucket lost: recreating it', { bucket: init.bucket });
      await new Kvm(components.nc).create(init.bucket, init.options);
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
    void check().catch((err) => components.logger.debug('bucket check failed', { bucket: init.bucket, err }));
  }, init.intervalMs ?? 2000);
  timer.unref();
  // the baseline creation time, taken now so that a recreation by anyone later is noticed
  void check().catch(() => {});
  return { check, stop: () => clearInterval(timer) };
}
