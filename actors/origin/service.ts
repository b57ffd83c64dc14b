/**
 * The origin actor: catalog and admission served over NATS in the `origin` queue group, so operators scale it
 * by starting more workers; all of them share one capacity through the admission bucket.
 */
import { Kvm } from '@nats-io/kv';
import {
  Buckets, CatalogGetRequest, CatalogListRequest, CatalogPublishRequest, CatalogVerbs, encode,
  MAX_MANIFEST_MESSAGE_BYTES, OpenRequest, OriginVerbs, parseOriginSubject, QueueGroups, SessionRequest, Subjects,
} from '../../protocol/mod.js';
import type { Clock } from '../../lib/clock.js';
import type { Logger } from '../../lib/logger.js';
import { serve, type NatsConnection, type Subscription } from '../../lib/nats.js';
import { createAdmission, type Admission, type AdmissionInit } from './admission.js';
import { createKvCatalog, openCatalogBucket, type Catalog, type CatalogQuotas } from './catalog.js';

export interface OriginInit extends Partial<Omit<AdmissionInit, 'grantSecret' | 'capacity'>> {
  capacity: number;
  grantSecret: string;
  /** name for logs and metrics */
  workerId?: string;
  /** catalog size limits (videos, bytes per manifest, total bytes) */
  catalogQuotas?: CatalogQuotas;
}

export interface OriginComponents {
  nc: NatsConnection;
  clock: Clock;
  logger: Logger;
}

export interface Origin {
  readonly workerId: string;
  readonly admission: Admission;
  readonly catalog: Catalog;
  /** requests this worker answered, by verb (shows the queue group spreading load) */
  readonly served: Record<string, number>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export const ORIGIN_DEFAULTS = { leaseTtlMs: 10000, grantTtlMs: 30000, sweepIntervalMs: 250, rotateMs: 500 } as const;

export async function createOrigin(init: OriginInit, components: OriginComponents): Promise<Origin> {
  const { nc, logger } = components;
  if (!Number.isInteger(init.capacity) || init.capacity < 0) throw new TypeError('capacity must be an integer ≥ 0');
  const workerId = init.workerId ?? `origin-${process.pid}`;
  const admissionKv = await new Kvm(nc).create(Buckets.admission, { history: 1 });
  const catalog = createKvCatalog(await openCatalogBucket(nc), init.catalogQuotas);
  const admission = createAdmission({
    capacity: init.capacity,
    leaseTtlMs: init.leaseTtlMs ?? ORIGIN_DEFAULTS.leaseTtlMs,
    grantTtlMs: init.grantTtlMs ?? ORIGIN_DEFAULTS.grantTtlMs,
    sweepIntervalMs: init.sweepIntervalMs ?? ORIGIN_DEFAULTS.sweepIntervalMs,
    grantSecret: init.grantSecret,
    ...(init.policy ? { policy: init.policy } : {}),
    rotateMs: init.rotateMs ?? ORIGIN_DEFAULTS.rotateMs,
  }, {
    kv: admissionKv,
    clock: components.clock,
    logger: logger.child('admission'),
    push: (peerId, event, payload) => nc.publish(Subjects.peer(peerId, event), encode(payload)),
  });
  const served: Record<string, number> = {};
  const count = (verb: string) => (served[verb] = (served[verb] ?? 0) + 1);
  const subs: Subscription[] = [];
  const queue = QueueGroups.origin;

  return {
    workerId,
    admission,
    catalog,
    served,
    async start() {
      await admission.start();
      subs.push(
        // the sender is the subject's peer token, which its NATS credential enforces; bodies carry no identity
        serve(nc, { subject: Subjects.originVerbAll(OriginVerbs.open), queue, schema: OpenRequest, logger,
          handler: async (req, msg) => {
            count('open');
            const { peerId } = parseOriginSubject(msg.subject);
            return admission.open({ videoId: req.videoId, peerId }, await catalog.get(req.videoId));
          } }),
        serve(nc, { subject: Subjects.originVerbAll(OriginVerbs.heartbeat), queue, schema: SessionRequest, logger,
          handler: (req, msg) => (count('heartbeat'),
          admission.heartbeat({ sessionId: req.sessionId, peerId: parseOriginSubject(msg.subject).peerId })) }),
        serve(nc, { subject: Subjects.originVerbAll(OriginVerbs.release), queue, schema: SessionRequest, logger,
          handler: (req, msg) => (count('release'),
          admission.release({ sessionId: req.sessionId, peerId: parseOriginSubject(msg.subject).peerId })) }),
        serve(nc, { subject: Subjects.catalog(CatalogVerbs.list), queue, schema: CatalogListRequest, logger,
          handler: async (req) => (count('list'), catalog.list(req)) }),
        serve(nc, { subject: Subjects.catalog(CatalogVerbs.get), queue, schema: CatalogGetRequest, logger,
          handler: async (req) => (count('get'), { manifest: await catalog.get(req.videoId) }) }),
        serve(nc, { subject: Subjects.catalog(CatalogVerbs.publish), queue, schema: CatalogPublishRequest, logger,
          maxBytes: MAX_MANIFEST_MESSAGE_BYTES,
          handler: async (req) => {
            count('publish');
            const r = await catalog.publish(req.manifest);
            return { videoId: req.manifest.videoId, created: r.created };
          } }),
      );
      await nc.flush();
      logger.info('origin worker started', { workerId, capacity: init.capacity });
    },
    async stop() {
      for (const s of subs.splice(0)) s.unsubscribe();
      await admission.stop();
    },
  };
}
