/**
 * Starting one Switchyard role against a NATS someone else runs: an origin worker, a tracker, a signalling relay,
 * an ingest worker or a gateway. Each role holds only its own service credential and its own NATS connection,
 * so any number of each can join or leave while downloads run: origin, tracker and relay are queue-group
 * members, ingest is a JetStream work-queue consumer, and a gateway keeps no state of its own (leases, swarm and
 * live windows are mirrors of KV buckets; byte budgets and rate limits are per gateway by design).
 * `switchyard worker` runs roles as processes; `startStack` runs them all in one process.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createLeaseChecker, createOrigin, createOriginClient, type Origin, type OriginInit } from '../actors/origin/mod.js';
import { createIngestSubmitter, createIngestWorker, type IngestWorker } from '../actors/ingest/mod.js';
import { createSignalRelay, type SignalRelay } from '../actors/signal/mod.js';
import { createTracker, type Tracker } from '../actors/tracker/mod.js';
import { createLiveDirectory, type LiveDirectory } from '../actors/live/registry.js';
import { createActivityPublisher, createGateway, createTelemetryAggregator, type Gateway } from '../gateway/mod.js';
import { createSwarmView, type SwarmView } from '../gateway/swarmview.js';
import { createInspectAggregator } from '../gateway/inspector/aggregator.js';
import { systemClock, type Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import { connectNats, type NatsConnection } from '../lib/nats.js';
import { createTokenBucket } from '../lib/tokenbucket.js';
import { ServiceRoles, type OriginPolicy, type ServiceRole } from '../protocol/mod.js';
import type { ChunkStore } from '../store/mod.js';
import type { BucketOverrides } from '../lib/kv/buckets.js';
import { serviceCredentials, type AuthMaterial } from './auth.js';
import { createPeerMinter, type PeerMinter } from './peercreds.js';

/** What every role needs: where NATS is, the operator keys it trusts, a logger. */
export interface RoleContext {
  /** one URL or a comma-separated list (a cluster) */
  natsUrl: string;
  auth: AuthMaterial;
  logger: Logger;
  clock?: Clock;
  /** this deployment's bucket overrides (replicas 3 on a 3-node cluster), for buckets a role creates or recreates */
  bucket?: BucketOverrides;
}

/** A started role; `stop()` leaves its queue group or consumer and closes its connection. */
export interface RunningRole<T> {
  role: ServiceRole;
  name: string;
  service: T;
  nc: NatsConnection;
  stop(): Promise<void>;
}

async function withConnection<T>(ctx: RoleContext, role: ServiceRole, name: string,
  start: (nc: NatsConnection) => Promise<{ service: T; stop: () => Promise<unknown> }>): Promise<RunningRole<T>> {
  const nc = await connectNats(ctx.natsUrl, name, serviceCredentials(ctx.auth, role));
  try {
    const { service, stop } = await start(nc);
    return {
      role, name, service, nc,
      async stop() {
        await stop().catch((err) => ctx.logger.warn('stop failed', { name, err }));
        await nc.drain().catch(() => nc.close());
      },
    };
  } catch (err) {
    await nc.close();
    throw err;
  }
}

export type OriginRoleInit = OriginInit & { workerId: string };

export function startOriginRole(ctx: RoleContext, init: OriginRoleInit): Promise<RunningRole<Origin>> {
  return withConnection(ctx, ServiceRoles.origin, init.workerId, async (nc) => {
    const o = await createOrigin({ ...(ctx.bucket ? { bucket: ctx.bucket } : {}), ...init }, { nc, clock: ctx.clock ?? systemClock, logger: ctx.logger.child(init.workerId) });
    await o.start();
    return { service: o, stop: () => o.stop() };
  });
}

export function startTrackerRole(ctx: RoleContext, init: { workerId: string; intervalMs?: number }): Promise<RunningRole<Tracker>> {
  return withConnection(ctx, ServiceRoles.tracker, init.workerId, async (nc) => {
    const t = await createTracker({ workerId: init.workerId, ...(init.intervalMs ? { intervalMs: init.intervalMs } : {}),
      ...(ctx.bucket ? { bucket: ctx.bucket } : {}) },
      { nc, clock: ctx.clock ?? systemClock, logger: ctx.logger.child(init.workerId) });
    await t.start();
    return { service: t, stop: () => t.stop() };
  });
}

export function startSignalRole(ctx: RoleContext, init: { workerId: string }): Promise<RunningRole<SignalRelay>> {
  return withConnection(ctx, ServiceRoles.signal, init.workerId, async (nc) => {
    const r = createSignalRelay(ctx.bucket ? { bucket: ctx.bucket } : {}, { nc, logger: ctx.logger.child(init.workerId) });
    await r.start();
    return { service: r, stop: () => r.stop() };
  });
}

export function startIngestRole(ctx: RoleContext,
  init: { workerId: string; stagingDir: string; store: ChunkStore }): Promise<RunningRole<IngestWorker>> {
  return withConnection(ctx, ServiceRoles.ingest, init.workerId, async (nc) => {
    mkdirSync(init.stagingDir, { recursive: true });
    const w = createIngestWorker({ stagingDir: init.stagingDir },
      { nc, store: init.store, origin: createOriginClient(nc), logger: ctx.logger.child(init.workerId) });
    await w.start();
    return { service: w, stop: () => w.stop() };
  });
}

export interface GatewayRoleInit {
  workerId: string;
  grantSecret: string;
  adminToken: string;
  store: ChunkStore;
  /** where uploads are staged for ingest workers (a volume they share) */
  stagingDir: string;
  host?: string;
  port?: number;
  /** the NATS URL peers are told (default ctx.natsUrl) */
  peerNatsUrl?: string;
  /** the NATS WebSocket URL peers are told with their credential */
  wsUrl?: string;
  /** the NATS WebSocket URL the watch page tells browsers, when they reach it by another name (default wsUrl) */
  natsWsUrl?: string;
  apiKeys?: readonly string[];
  peerCredentialTtlMs?: number;
  urgentBps?: number;
  /** origin egress cap in bytes/s (bandwidth emulation) */
  originRate?: number;
  /** the tracker's announce interval (the swarm view calls a peer fresh for 3 of them) */
  trackerIntervalMs?: number;
}

/** The gateway and what it reads: lease mirror, swarm view, live windows, telemetry, activity notices. */
export interface GatewayRole {
  gateway: Gateway;
  url: string;
  minter: PeerMinter;
  swarm: SwarmView;
  live: LiveDirectory;
}

export function startGatewayRole(ctx: RoleContext, init: GatewayRoleInit): Promise<RunningRole<GatewayRole>> {
  return withConnection(ctx, ServiceRoles.gateway, init.workerId, async (nc) => {
    const stops: Array<() => Promise<unknown>> = [];
    const stopAll = async () => {
      for (const s of stops.splice(0).reverse()) await s().catch((err) => ctx.logger.warn('stop failed', { err }));
    };
    try {
      const clock = ctx.clock ?? systemClock;
      const logger = ctx.logger.child(init.workerId);
      const minter = createPeerMinter({ signingSeed: ctx.auth.signingSeed, accountPublicKey: ctx.auth.account.publicKey,
        ...(init.peerCredentialTtlMs ? { ttlMs: init.peerCredentialTtlMs } : {}) });
      const bucket = ctx.bucket ? { bucket: ctx.bucket } : {};
      const leases = await createLeaseChecker({ nc, clock, logger: logger.child('leases') }, bucket);
      stops.push(() => leases.stop());
      const swarm = await createSwarmView({ freshMs: 3 * (init.trackerIntervalMs ?? 5000), ...bucket },
        { nc, clock, logger: logger.child('swarmview') });
      stops.push(() => swarm.stop());
      const live = await createLiveDirectory({ nc, logger: logger.child('live'), ...bucket });
      stops.push(() => live.stop());
      const telemetry = createTelemetryAggregator({ nc, clock, logger: logger.child('telemetry') });
      telemetry.start();
      stops.push(async () => telemetry.stop());
      // clients' machine transitions (sy.inspect.*) for the /inspector page
      const inspector = createInspectAggregator({}, { nc, clock, logger: logger.child('inspector') });
      inspector.start();
      stops.push(async () => inspector.stop());
      const activity = createActivityPublisher({}, { nc, logger: logger.child('activity') });
      activity.start();
      stops.push(async () => activity.stop());
      mkdirSync(init.stagingDir, { recursive: true });
      const gateway = await createGateway(
        { host: init.host ?? '127.0.0.1', port: init.port ?? 0, grantSecret: init.grantSecret, adminToken: init.adminToken,
          stagingDir: init.stagingDir, ...(init.urgentBps !== undefined ? { urgentBps: init.urgentBps } : {}),
          ...(init.natsWsUrl ?? init.wsUrl ? { natsWsUrl: (init.natsWsUrl ?? init.wsUrl)! } : {}),
          credentials: { minter, natsUrl: init.peerNatsUrl ?? ctx.natsUrl, ...(init.wsUrl ? { wsUrl: init.wsUrl } : {}),
            ...(init.apiKeys ? { apiKeys: init.apiKeys } : {}) } },
        { origin: createOriginClient(nc), leases, store: init.store, ingest: createIngestSubmitter({ nc, logger }), clock,
          logger, telemetry, inspector, activity, swarm, live, ...(init.originRate ? { egress: createTokenBucket(init.originRate) } : {}) },
      );
      const url = await gateway.start();
      stops.push(() => gateway.stop());
      return { service: { gateway, url, minter, swarm, live }, stop: stopAll };
    } catch (err) {
      await stopAll();
      throw err;
    }
  });
}

/** Default staging directory under a data directory (gateways and ingest workers must share it). */
export const stagingDirOf = (dataDir: string): string => join(dataDir, 'staging');

export type { OriginPolicy };
