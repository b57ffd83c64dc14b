/**
 * Creates every JetStream asset Switchyard uses, with the replica count an operator chooses, before workers
 * start. Workers open what exists as it is (they create a missing bucket with one replica, fine for one NATS
 * server), so on a 3-node cluster this is what makes the state survive the loss of a node: `switchyard
 * provision --replicas 3` (idempotent; an existing asset with another replica count is updated in place).
 */
import { jetstreamManager, JetStreamApiCodes, JetStreamApiError, RetentionPolicy, type StreamConfig } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { BucketSpecs, kvOptionsOf } from '../lib/kv/mod.js';
import type { NatsConnection } from '../lib/nats.js';
import { Streams, Subjects } from '../protocol/mod.js';

export interface ProvisionReport {
  replicas: number;
  /** stream name → what was done */
  assets: Record<string, 'created' | 'updated' | 'kept'>;
}

const kvStream = (bucket: string) => `KV_${bucket}`;

export async function provision(nc: NatsConnection, opts: { replicas: number }): Promise<ProvisionReport> {
  const { replicas } = opts;
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5) throw new RangeError('replicas must be 1–5');
  const jsm = await jetstreamManager(nc);
  const assets: ProvisionReport['assets'] = {};
  const exists = async (name: string) => jsm.streams.info(name).then((i) => i, (err: unknown) => {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return null;
    throw err;
  });
  const kvm = new Kvm(nc);
  // the same specs the workers open their buckets with (lib/kv/buckets.ts), with the operator's replica count
  for (const spec of Object.values(BucketSpecs)) {
    const info = await exists(kvStream(spec.name));
    if (!info) {
      await kvm.create(spec.name, kvOptionsOf(spec, { replicas }));
      assets[kvStream(spec.name)] = 'created';
    } else if (info.config.num_replicas !== replicas) {
      await jsm.streams.update(info.config.name, { ...info.config, num_replicas: replicas });
      assets[kvStream(spec.name)] = 'updated';
    } else assets[kvStream(spec.name)] = 'kept';
  }
  const ingest: Partial<StreamConfig> & { name: string } = {
    name: Streams.ingest, subjects: [Subjects.ingestJob], retention: RetentionPolicy.Workqueue, num_replicas: replicas,
  };
  const info = await exists(Streams.ingest);
  if (!info) {
    await jsm.streams.add(ingest);
    assets[Streams.ingest] = 'created';
  } else if (info.config.num_replicas !== replicas) {
    await jsm.streams.update(Streams.ingest, { ...info.config, num_replicas: replicas });
    assets[Streams.ingest] = 'updated';
  } else assets[Streams.ingest] = 'kept';
  return { replicas, assets };
}
