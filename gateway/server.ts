/**
 * The gateway: Switchyard's HTTP edge, built js-libp2p style from an Init (configuration) and Components
 * (already running collaborators). It owns only its fastify instance; the NATS connection, lease checker,
 * store and ingest submitter belong to the caller, which starts them before and stops them after.
 */
import type { TokenBucket } from '../lib/tokenbucket.js';
import type { SwarmView } from './swarmview.js';
import { mkdir } from 'node:fs/promises';
import Fastify, { type FastifyInstance } from 'fastify';
import type { IngestSubmitter } from '../actors/ingest/types.js';
import type { OriginClient } from '../actors/origin/client.js';
import type { LeaseChecker } from '../actors/origin/leases.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { ChunkStore } from '../store/types.js';
import { createErrorHandler, notFoundHandler } from './errors.js';
import { createManifestCache } from './manifests.js';
import { registerOpenApi } from './openapi.js';
import { catalogRoutes } from './routes/catalog.js';
import { credentialRoutes } from './routes/credentials.js';
import type { PeerMinter } from '../infra/peercreds.js';
import { chunkRoutes } from './routes/chunks.js';
import { urgentRoutes } from './routes/urgent.js';
import { liveRoutes } from './routes/live.js';
import type { LiveDirectory } from '../actors/live/registry.js';
import { createUrgentShare, URGENT_SHARE_DEFAULTS } from './urgent.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { inspectorRoutes } from './routes/inspector.js';
import type { InspectAggregator } from './inspector/aggregator.js';
import { opsRoutes } from './routes/ops.js';
import { uploadRoutes } from './routes/upload.js';
import { watchRoutes } from './routes/watch.js';
import { createStatsCollector, type GatewayStats } from './stats.js';
import type { TelemetryAggregator } from './telemetry.js';
import type { ActivityPublisher } from './activity.js';
import { createSessionBudget } from './budget.js';
import { registerRateLimit, type RateLimitInit } from './ratelimit.js';

export interface GatewayInit {
  /** default 127.0.0.1 */
  host?: string;
  /** default 0: a free port */
  port?: number;
  /** HMAC secret shared with the origin workers, to verify grants */
  grantSecret: string;
  /** enables uploads; without it POST /videos answers 403 */
  adminToken?: string;
  /** uploads are streamed here; ingest workers must be able to read it (same machine or shared volume) */
  stagingDir: string;
  /** default 4 GiB */
  maxUploadBytes?: number;
  /** peer credentials: without a minter, `/auth/peer` does not exist (peers then need credentials from elsewhere) */
  credentials?: {
    minter: PeerMinter;
    natsUrl?: string;
    wsUrl?: string;
    apiKeys?: readonly string[];
    mintsPerMinute?: number;
  };
  /** byte budget of one grant session = manifest size × this + 4 chunks (default 1.25) */
  sessionBudgetFactor?: number;
  /**
   * bytes per second reserved for chunks under urgent grants (streaming playheads, no slot); default 1 MiB/s,
   * 0 disables the urgent route (every urgent chunk answers 429 urgent_share_spent)
   */
  urgentBps?: number;
  /** HTTP rate limit per grant session (chunk requests) or per address (everything else) */
  rateLimit?: RateLimitInit;
  /** nats-server's WebSocket URL as browsers reach it (the watch page); default `credentials.wsUrl` */
  natsWsUrl?: string;
}

export interface GatewayComponents {
  origin: Pick<OriginClient, 'listPage' | 'manifest'>;
  leases: Pick<LeaseChecker, 'holds' | 'live'> & Partial<Pick<LeaseChecker, 'waiting' | 'config'>>;
  store: ChunkStore;
  ingest: IngestSubmitter;
  clock: Clock;
  /** origin egress cap (bandwidth emulation); none in production by default */
  egress?: TokenBucket;
  /** tracker knowledge for the swarm-aware policy */
  swarm?: SwarmView;
  /** client telemetry for the dashboard (owned by the caller); without it the dashboard shows the origin only */
  telemetry?: Pick<TelemetryAggregator, 'peers'> & Partial<Pick<TelemetryAggregator, 'liveViewers' | 'onStatus'>>;
  /** publishes which sessions this gateway served (owned by the caller, which starts and stops it) */
  activity?: Pick<ActivityPublisher, 'served'>;
  /** live streams' windows (owned by the caller); without it there is no live segment route */
  live?: Pick<LiveDirectory, 'get' | 'peek' | 'all'>;
  /** clients' machine transitions (owned by the caller); without it there is no `/inspector` */
  inspector?: Pick<InspectAggregator, 'state'>;
  logger: Logger;
}

export interface Gateway {
  app: FastifyInstance;
  /** listens; resolves to the base URL, e.g. http://127.0.0.1:41234 */
  start(): Promise<string>;
  stop(): Promise<void>;
  stats(): GatewayStats;
}

export const GATEWAY_DEFAULTS = { host: '127.0.0.1', port: 0, maxUploadBytes: 4 * 1024 ** 3 } as const;

/**
 * Node refuses request heads above 16 KiB, so no path parameter can be longer; letting every one reach
 * validation means an overlong id gets the same 400 as any other bad id, not a 404 for "no such route".
 * (find-my-way's limit exists to bound regex parameters, which no route here uses.)
 */
const MAX_PARAM_LENGTH = 16 * 1024;

export async function createGateway(init: GatewayInit, components: GatewayComponents): Promise<Gateway> {
  if (!init.grantSecret) throw new TypeError('grantSecret is required: the gateway must verify grants');
  if (!init.stagingDir) throw new TypeError('stagingDir is required');
  const maxUploadBytes = init.maxUploadBytes ?? GATEWAY_DEFAULTS.maxUploadBytes;
  if (!Number.isSafeInteger(maxUploadBytes) || maxUploadBytes < 1) throw new TypeError('maxUploadBytes must be a positive integer');
  const logger = components.logger;
  await mkdir(init.stagingDir, { recursive: true });

  const errorHandler = createErrorHandler(logger);
  const app = Fastify({
    logger: false,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    return503OnClosing: true,
    // idle keep-alive connections (in-process clients share one pool) must not hold stop() for the 72 s timeout
    forceCloseConnections: 'idle',
    // Undecodable URLs are rejected by the router before any route; send them through the same error path.
    frameworkErrors: (err, request, reply) => errorHandler(err, request, reply),
  });
  const stats = createStatsCollector();
  const manifests = createManifestCache(components.origin);

  app.addHook('onResponse', async (request, reply) => {
    stats.responded(reply.statusCode);
    logger.debug('http', { method: request.method, url: request.url.split('?')[0], status: reply.statusCode,
      ms: Math.round(reply.elapsedTime) });
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);

  // before every route: the limiter hooks only the routes registered after it
  await registerRateLimit(app, { grantSecret: init.grantSecret, ...init.rateLimit });
  await registerOpenApi(app, '0.1.0');
  await app.register(opsRoutes, { leases: components.leases, stats, openapi: () => app.swagger(),
    ...(components.telemetry ? { telemetry: components.telemetry } : {}) });
  await app.register(catalogRoutes, { origin: components.origin, manifests });
  if (init.credentials) await app.register(credentialRoutes, init.credentials);
  const budget = createSessionBudget(init.sessionBudgetFactor !== undefined ? { factor: init.sessionBudgetFactor } : {});
  await app.register(chunkRoutes, {
    grantSecret: init.grantSecret, leases: components.leases, manifests, store: components.store,
    clock: components.clock, stats, ...(components.egress ? { egress: components.egress } : {}),
    budget,
    ...(components.activity ? { activity: components.activity } : {}),
    ...(components.swarm ? { swarm: components.swarm } : {}), policy: () => components.leases.config?.()?.policy,
    egressTarget: () => components.leases.config?.()?.egressTarget,
    contended: (videoId: string) => (components.leases.waiting?.().length ?? 0) > 0 ||
      (components.swarm !== undefined && components.swarm.leechers(videoId) > (components.leases.config?.()?.capacity ?? Infinity)),
  });
  const urgentShare = createUrgentShare({ bps: init.urgentBps ?? URGENT_SHARE_DEFAULTS.bps });
  await app.register(urgentRoutes, {
    grantSecret: init.grantSecret, manifests, store: components.store, clock: components.clock, stats,
    share: urgentShare,
    ...(components.egress ? { egress: components.egress } : {}),
  });
  if (components.live) {
    await app.register(liveRoutes, {
      grantSecret: init.grantSecret, live: components.live, leases: components.leases, store: components.store,
      clock: components.clock, stats, share: urgentShare, budget,
      ...(components.egress ? { egress: components.egress } : {}),
      ...(components.activity ? { activity: components.activity } : {}),
    });
  }
  await app.register(uploadRoutes, {
    ...(init.adminToken ? { adminToken: init.adminToken } : {}),
    stagingDir: init.stagingDir, maxUploadBytes, ingest: components.ingest, logger,
  });
  await app.register(dashboardRoutes, {
    leases: components.leases, origin: components.origin, stats, clock: components.clock,
    logger: logger.child('dashboard'), ...(components.telemetry ? { telemetry: components.telemetry } : {}),
    ...(components.live ? { live: components.live } : {}),
  });
  if (components.inspector) await app.register(inspectorRoutes, { inspector: components.inspector });
  const natsWsUrl = init.natsWsUrl ?? init.credentials?.wsUrl;
  // the watch page's start grant is paid from the urgent share: none without one
  await app.register(watchRoutes, { ...(natsWsUrl ? { natsWsUrl } : {}), manifests, logger: logger.child('watch'),
    ...(components.live ? { live: components.live } : {}),
    ...(urgentShare.bps > 0 ? { start: { grantSecret: init.grantSecret, clock: components.clock } } : {}) });
  await app.ready();

  let started: Promise<string> | null = null;
  let stopped: Promise<void> | null = null;
  return {
    app,
    start() {
      started ??= app.listen({ host: init.host ?? GATEWAY_DEFAULTS.host, port: init.port ?? GATEWAY_DEFAULTS.port })
        .then((url) => {
          logger.info('gateway listening', { url });
          return url;
        });
      return started;
    },
    stop() {
      stopped ??= app.close();
      return stopped;
    },
    stats: () => stats.snapshot(),
  };
}
