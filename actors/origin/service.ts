/**
 * The origin actor: catalog and admission served over NATS in the `origin` queue group, so operators scale it
 * by starting more workers; all of them share one capacity through the admission bucket.
 */
import {
  CatalogGetRequest, CatalogListRequest, CatalogPublishRequest, CatalogVerbs, encode,
  MAX_MANIFEST_MESSAGE_BYTES, OpenRequest, OriginVerbs, parseOriginSubject, QueueGroups, RateLimitedError,
  HeartbeatRequest, ReleaseRequest, segmentInWindow, Subjects, toSwitchyardError, UnknownVideoError, UrgentRequest, type Manifest,
  type UrgentTarget,
} from '../../protocol/mod.js';
import type { Clock } from '../../lib/clock.js';
import type { Logger } from '../../lib/logger.js';
import { createInflight, leaveQueueGroups, serve, type Msg, type NatsConnection, type Subscription } from '../../lib/nats.js';
import { createKeyedRateLimiter, type KeyedRateLimiter } from '../../lib/ratelimit.js';
import { guardBucket, type BucketGuard } from '../../lib/kvguard.js';
import { BucketSpecs, openBucket, type BucketOverrides } from '../../lib/kv/buckets.js';
import { createLiveDirectory, serveLiveWindows, type LiveDirectory } from '../live/registry.js';
import { createActivityLog } from './activity.js';
import { createAdmission, type Admission, type AdmissionInit } from './admission.js';
import { createUrgentIssuer, URGENT_DEFAULTS, type UrgentIssuer } from './urgent.js';
import {
  createKvCatalog, openCatalogBucket, type Catalog, type CatalogQuotas,
} from './catalog.js';

export interface OriginInit extends Partial<Omit<AdmissionInit, 'grantSecret' | 'capacity'>> {
  capacity: number;
  grantSecret: string;
  /** name for logs and metrics */
  workerId?: string;
  /** catalog size limits (videos, bytes per manifest, total bytes) */
  catalogQuotas?: CatalogQuotas;
  /** chunks per urgent grant (default 4); 0 disables urgent grants (the gateway's urgent share is off) */
  urgentMaxChunks?: number;
  /** lifetime of an urgent grant (default 5 s) */
  urgentGrantTtlMs?: number;
  /** this deployment's bucket overrides (replicas), used when this worker creates or recreates a bucket */
  bucket?: BucketOverrides;
}

export interface OriginComponents {
  nc: NatsConnection;
  clock: Clock;
  logger: Logger;
}

/**
 * What this worker's admission answers were (metrics): `served` counts requests by verb, this what they got.
 * Counts only ever grow; they are this worker's, not the cluster's.
 */
export interface OriginStats {
  /** open replies: a slot at once (`granted`) or a place on the wait list (`denied`) */
  opens: { granted: number; denied: number };
  /** heartbeat replies: a renewed grant (`granted`) or still queued (`waiting`) */
  heartbeats: { granted: number; waiting: number };
  /** pushes this worker sent, by event: `slot-offered` (a waiter got a freed slot), `slot-revoked` */
  pushes: Record<string, number>;
  /** open, heartbeat, release and urgent requests answered with an error, by code (`rate_limited`, `unknown_session`, …) */
  errors: Record<string, number>;
}

export interface Origin {
  readonly workerId: string;
  readonly admission: Admission;
  readonly catalog: Catalog;
  /** urgent grants for streaming clients' playheads (counted in `urgent.stats()`) */
  readonly urgent: UrgentIssuer;
  /** requests this worker answered, by verb (shows the queue group spreading load) */
  readonly served: Record<string, number>;
  /** admission outcomes of this worker (a copy) */
  stats(): OriginStats;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export const ORIGIN_DEFAULTS = {
  leaseTtlMs: 10000, grantTtlMs: 30000, sweepIntervalMs: 250,
  /** a slot with no chunk traffic for this long is reclaimed */
  idleMs: 15000,
  /** per peer and worker: opens (a re-open after a lost session is normal; a loop is not) */
  opensPerSecond: 2, opensBurst: 10,
  /** per peer and worker: heartbeats and releases (one heartbeat per ttl/3 is normal) */
  heartbeatsPerSecond: 5, heartbeatsBurst: 20,
} as const;

export async function createOrigin(init: OriginInit, components: OriginComponents): Promise<Origin> {
  const { nc, logger } = components;
  if (!Number.isInteger(init.capacity) || init.capacity < 0) throw new TypeError('capacity must be an integer ≥ 0');
  const workerId = init.workerId ?? `origin-${process.pid}`;
  const admissionKv = await openBucket(nc, BucketSpecs.admission, init.bucket);
  const catalog = createKvCatalog(await openCatalogBucket(nc, init.bucket), init.catalogQuotas);
  const outcomes: OriginStats = { opens: { granted: 0, denied: 0 }, heartbeats: { granted: 0, waiting: 0 }, pushes: {}, errors: {} };
  const bump = (m: Record<string, number>, key: string) => (m[key] = (m[key] ?? 0) + 1);
  /** counts a handler's error by code and passes it on unchanged (serve() answers it) */
  const counted = <A extends unknown[], R>(fn: (...a: A) => Promise<R> | R) => async (...a: A): Promise<R> => {
    try {
      return await fn(...a);
    } catch (err) {
      bump(outcomes.errors, toSwitchyardError(err).code);
      throw err;
    }
  };
  const activity = createActivityLog({ nc, clock: components.clock, logger: logger.child('activity') });
  const admission = createAdmission({
    capacity: init.capacity,
    leaseTtlMs: init.leaseTtlMs ?? ORIGIN_DEFAULTS.leaseTtlMs,
    grantTtlMs: init.grantTtlMs ?? ORIGIN_DEFAULTS.grantTtlMs,
    sweepIntervalMs: init.sweepIntervalMs ?? ORIGIN_DEFAULTS.sweepIntervalMs,
    grantSecret: init.grantSecret,
    ...(init.policy ? { policy: init.policy } : {}),
    ...(init.egressTarget !== undefined ? { egressTarget: init.egressTarget } : {}),
    idleMs: init.idleMs ?? ORIGIN_DEFAULTS.idleMs,
  }, {
    kv: admissionKv,
    clock: components.clock,
    logger: logger.child('admission'),
    push: (peerId, event, payload) => {
      bump(outcomes.pushes, event);
      nc.publish(Subjects.peer(peerId, event), encode(payload));
    },
    lastServed: (sessionId) => activity.lastServed(sessionId),
  });
  const urgent = createUrgentIssuer({
    maxChunks: init.urgentMaxChunks ?? URGENT_DEFAULTS.maxChunks,
    grantTtlMs: init.urgentGrantTtlMs ?? URGENT_DEFAULTS.grantTtlMs,
    grantSecret: init.grantSecret,
  }, { admission, clock: components.clock });
  // per peer (the subject's token): a stranger looping opens or heartbeats costs a typed refusal, not KV writes
  const opens = createKeyedRateLimiter({ ratePerSecond: ORIGIN_DEFAULTS.opensPerSecond, burst: ORIGIN_DEFAULTS.opensBurst });
  const beats = createKeyedRateLimiter({ ratePerSecond: ORIGIN_DEFAULTS.heartbeatsPerSecond, burst: ORIGIN_DEFAULTS.heartbeatsBurst });
  const urgents = createKeyedRateLimiter({ ratePerSecond: URGENT_DEFAULTS.requestsPerSecond, burst: URGENT_DEFAULTS.requestsBurst });
  const sender = (msg: Msg, limiter: KeyedRateLimiter, verb: string): string => {
    const { peerId } = parseOriginSubject(msg.subject);
    if (!limiter.allow(peerId)) {
      throw new RateLimitedError(`too many ${verb} requests from ${peerId}: at most ${limiter.ratePerSecond}/s`);
    }
    return peerId;
  };
  const served: Record<string, number> = {};
  const count = (verb: string) => (served[verb] = (served[verb] ?? 0) + 1);
  const subs: Subscription[] = [];
  const inflight = createInflight();
  const queue = QueueGroups.origin;
  const guards: BucketGuard[] = [];
  let live: LiveDirectory | null = null;
  /** a video's manifest, or for a live stream what admission and urgent grants need of its window */
  const target = async (videoId: string): Promise<{ manifest?: Manifest; rootHash: string; urgent: Manifest | UrgentTarget }> => {
    try {
      const manifest = await catalog.get(videoId);
      return { manifest, rootHash: manifest.rootHash, urgent: manifest };
    } catch (err) {
      if (!(err instanceof UnknownVideoError) || !live) throw err;
      const w = await live.get(videoId);
      return { rootHash: w.rootHash, urgent: { videoId, lengthOf: (seq) => segmentInWindow(live?.peek(videoId) ?? w, seq)?.length } };
    }
  };

  return {
    workerId,
    admission,
    catalog,
    urgent,
    served,
    stats: () => ({ opens: { ...outcomes.opens }, heartbeats: { ...outcomes.heartbeats }, pushes: { ...outcomes.pushes },
      errors: { ...outcomes.errors } }),
    async start() {
      activity.start();
      await admission.start();
      live = await createLiveDirectory({ nc, logger: logger.child('live'), ...(init.bucket ? { bucket: init.bucket } : {}) });
      const overrides = init.bucket ? { overrides: init.bucket } : {};
      guards.push(
        guardBucket({ spec: BucketSpecs.admission, ...overrides, onRecreated: () => admission.recover() },
          { nc, logger }),
        guardBucket({ spec: BucketSpecs.catalog, ...overrides, onRecreated: async () => {
          logger.warn('catalog lost with its bucket: videos must be published again');
        } }, { nc, logger }),
      );
      subs.push(
        // the sender is the subject's peer token, which its NATS credential enforces; bodies carry no identity
        serve(nc, { subject: Subjects.originVerbAll(OriginVerbs.open), queue, inflight, schema: OpenRequest, logger,
          handler: counted(async (req: OpenRequest, msg: Msg) => {
            count('open');
            const peerId = sender(msg, opens, 'open');
            const t = await target(req.videoId);
            const reply = await admission.open({ videoId: req.videoId, peerId },
              { rootHash: t.rootHash, ...(t.manifest ? { size: t.manifest.size } : {}) });
            outcomes.opens[reply.status]++;
            return reply;
          }) }),
        serve(nc, { subject: Subjects.originVerbAll(OriginVerbs.heartbeat), queue, inflight, schema: HeartbeatRequest, logger,
          handler: counted(async (req: HeartbeatRequest, msg: Msg) => {
            count('heartbeat');
            const reply = await admission.heartbeat({ sessionId: req.sessionId, peerId: sender(msg, beats, 'heartbeat'),
              ...(req.need !== undefined ? { need: req.need } : {}) });
            outcomes.heartbeats[reply.status]++;
            return reply;
          }) }),
        serve(nc, { subject: Subjects.originVerbAll(OriginVerbs.release), queue, inflight, schema: ReleaseRequest, logger,
          handler: counted((req: ReleaseRequest, msg: Msg) => {
            count('release');
            return admission.release({ sessionId: req.sessionId, peerId: sender(msg, beats, 'release'),
              ...(req.park === true ? { park: true } : {}) });
          }) }),
        serve(nc, { subject: Subjects.originVerbAll(OriginVerbs.urgent), queue, inflight, schema: UrgentRequest, logger,
          handler: counted(async (req: UrgentRequest, msg: Msg) => {
            count('urgent');
            let peerId: string;
            try {
              peerId = sender(msg, urgents, 'urgent');
            } catch (err) {
              urgent.refused();
              throw err;
            }
            return urgent.issue({ ...req, peerId }, (await target(req.videoId)).urgent);
          }) }),
        serveLiveWindows({ nc, directory: live, inflight, logger: logger.child('live') }),
        serve(nc, { subject: Subjects.catalog(CatalogVerbs.list), queue, inflight, schema: CatalogListRequest, logger,
          handler: async (req) => {
            count('list');
            return catalog.list(req);
          } }),
        serve(nc, { subject: Subjects.catalog(CatalogVerbs.get), queue, inflight, schema: CatalogGetRequest, logger,
          handler: async (req) => {
            count('get');
            return { manifest: await catalog.get(req.videoId) };
          } }),
        serve(nc, { subject: Subjects.catalog(CatalogVerbs.publish), queue, inflight, schema: CatalogPublishRequest, logger,
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
      // a graceful leave: every request the queue group routed here is answered before the state it reads goes
      await leaveQueueGroups(subs.splice(0), inflight, logger);
      for (const g of guards.splice(0)) g.stop();
      activity.stop();
      await admission.stop();
      await live?.stop();
      live = null;
    },
  };
}
