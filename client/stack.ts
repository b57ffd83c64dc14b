/**
 * Starts a whole local Switchyard in one process: nats-server (unless given), origin workers, ingest worker,
 * tracker, signalling relay and gateway, each the same role (infra/roles.ts) `switchyard worker` runs as its own
 * process in production, on its own NATS connection. Used by `switchyard serve`, the demo and end-to-end tests.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Origin } from '../actors/origin/mod.js';
import type { Tracker } from '../actors/tracker/mod.js';
import type { LiveDirectory } from '../actors/live/registry.js';
import type { Gateway } from '../gateway/mod.js';
import type { SwarmView } from '../gateway/swarmview.js';
import { loadAuth, serviceCredentials, type AuthMaterial } from '../infra/auth.js';
import { startNats, type NatsServerHandle } from '../infra/nats.js';
import { connectMintedPeer, type PeerMinter } from '../infra/peercreds.js';
import {
  startGatewayRole, startIngestRole, startOriginRole, startSignalRole, startTrackerRole, stagingDirOf,
  type RoleContext, type RunningRole,
} from '../infra/roles.js';
import type { Logger } from '../lib/logger.js';
import { connectNats, type NatsConnection } from '../lib/nats.js';
import { openChunkStore, type ChunkStore } from '../store/mod.js';
import { ServiceRoles, type OriginPolicy, type ServiceRole } from '../protocol/mod.js';

export interface StackOptions {
  /** use this NATS instead of starting one */
  natsUrl?: string;
  /** directory for the fs store, staging and (if started here) the NATS store */
  dataDir: string;
  /** chunk store location (directory or mongodb:// URL); default `<dataDir>/store` */
  store?: string;
  capacity: number;
  originWorkers?: number;
  leaseTtlMs?: number;
  grantSecret?: string;
  /** the gateway's grant secret when it must differ from the origin's (tests of a misconfigured deployment) */
  gatewayGrantSecret?: string;
  adminToken?: string;
  port?: number;
  host?: string;
  /** tracker re-announce interval (ms) */
  trackerIntervalMs?: number;
  /** origin egress cap in bytes/s (bandwidth emulation u_s) */
  originRate?: number;
  /** origin policy (default server-first, the seeds' rule) */
  policy?: OriginPolicy;
  /** swarm-aware: target origin egress per video as a multiple of its size (the cost/time knob; see admission) */
  egressTarget?: number;
  /** operator keys (created on first use when this stack starts NATS); default `<dataDir>/auth` */
  authDir?: string;
  /** when set, minting a peer credential needs one of these keys */
  apiKeys?: readonly string[];
  /** peer credential lifetime (default 1 h) */
  peerCredentialTtlMs?: number;
  /** a slot with no chunk traffic this long is reclaimed (default 15 s; 0 never) */
  idleMs?: number;
  /**
   * bytes/s of origin bandwidth reserved for urgent chunks (streaming playheads without a slot; default 1 MiB/s);
   * 0 disables urgent grants at the origin and the urgent route at the gateway
   */
  urgentBps?: number;
  /** chunks per urgent grant (default 4) */
  urgentMaxChunks?: number;
  /** the NATS WebSocket URL browsers are told (watch page); default the started server's `wsUrl` */
  natsWsUrl?: string;
}

export interface Stack {
  natsUrl: string;
  /** NATS over WebSocket for browser peers (when this stack started NATS) */
  wsUrl?: string;
  /** the NATS server this stack started, if it did (tests pause and resume it) */
  natsServer: NatsServerHandle | null;
  auth: AuthMaterial;
  minter: PeerMinter;
  /** an in-process peer connection with a minted credential (tests, benchmarks) */
  connectPeer(opts?: { peerId?: string; label?: string }): Promise<{ peerId: string; nc: NatsConnection }>;
  /** a service connection (tests, benchmarks, tools) */
  connectService(role: ServiceRole, name?: string): Promise<NatsConnection>;
  gatewayUrl: string;
  store: ChunkStore;
  storeLocation: string;
  grantSecret: string;
  adminToken: string;
  origins: Origin[];
  gateway: Gateway;
  tracker: Tracker;
  /** the gateway's view of the swarm (swarm-aware policy decisions) */
  swarmView: SwarmView;
  /** live streams' windows, as the gateway sees them */
  live: LiveDirectory;
  nc: NatsConnection;
  stop(): Promise<void>;
}

export async function startStack(opts: StackOptions, logger: Logger): Promise<Stack> {
  const stops: Array<() => Promise<unknown>> = [];
  const stopAll = async () => {
    for (const s of stops.splice(0).reverse()) await s().catch((err) => logger.warn('stop failed', { err }));
  };
  try {
    let nats: NatsServerHandle | null = null;
    const authDir = opts.authDir ?? join(opts.dataDir, 'auth');
    let auth: AuthMaterial;
    if (!opts.natsUrl) {
      mkdirSync(join(opts.dataDir, 'nats'), { recursive: true });
      nats = await startNats({ storeDir: join(opts.dataDir, 'nats'), authDir });
      const n = nats;
      stops.push(() => n.stop());
      auth = n.auth;
    } else {
      // joining a NATS someone else runs: its operator keys must be here already (never made up on the spot)
      const loaded = loadAuth(authDir);
      if (!loaded) throw new Error(`no operator keys in ${authDir}: services need the keys of the NATS at ${opts.natsUrl}`);
      auth = loaded;
    }
    const natsUrl = opts.natsUrl ?? nats!.url;
    const grantSecret = opts.grantSecret ?? randomBytes(32).toString('hex');
    const adminToken = opts.adminToken ?? randomBytes(16).toString('hex');
    const storeLocation = opts.store ?? join(opts.dataDir, 'store');
    const store = await openChunkStore(storeLocation);
    stops.push(() => store.close());
    const conn = async (name: string, role: ServiceRole) => {
      const c = await connectNats(natsUrl, name, serviceCredentials(auth, role));
      stops.push(() => c.drain().catch(() => c.close()));
      return c;
    };
    const nc = await conn('stack', ServiceRoles.admin);
    const ctx: RoleContext = { natsUrl, auth, logger };
    const started = async <T>(r: Promise<RunningRole<T>>): Promise<T> => {
      const role = await r;
      stops.push(() => role.stop());
      return role.service;
    };
    const origins: Origin[] = [];
    for (let i = 0; i < (opts.originWorkers ?? 1); i++) {
      origins.push(await started(startOriginRole(ctx, { capacity: opts.capacity, grantSecret, workerId: `origin-${i}`,
        ...(opts.policy ? { policy: opts.policy } : {}),
        ...(opts.egressTarget !== undefined ? { egressTarget: opts.egressTarget } : {}),
        ...(opts.leaseTtlMs ? { leaseTtlMs: opts.leaseTtlMs } : {}),
        ...(opts.idleMs !== undefined ? { idleMs: opts.idleMs } : {}),
        ...(opts.urgentBps === 0 ? { urgentMaxChunks: 0 } : opts.urgentMaxChunks !== undefined ? { urgentMaxChunks: opts.urgentMaxChunks } : {}) })));
    }
    const tracker = await started(startTrackerRole(ctx, { workerId: 'tracker',
      ...(opts.trackerIntervalMs ? { intervalMs: opts.trackerIntervalMs } : {}) }));
    await started(startSignalRole(ctx, { workerId: 'signal' }));
    const stagingDir = stagingDirOf(opts.dataDir);
    await started(startIngestRole(ctx, { workerId: 'ingest', stagingDir, store }));
    const g = await started(startGatewayRole(ctx, { workerId: 'gateway', grantSecret: opts.gatewayGrantSecret ?? grantSecret,
      adminToken, store, stagingDir, host: opts.host ?? '127.0.0.1', port: opts.port ?? 0,
      ...(nats ? { wsUrl: nats.wsUrl } : {}), ...(opts.natsWsUrl ? { natsWsUrl: opts.natsWsUrl } : {}),
      ...(opts.apiKeys ? { apiKeys: opts.apiKeys } : {}),
      ...(opts.peerCredentialTtlMs ? { peerCredentialTtlMs: opts.peerCredentialTtlMs } : {}),
      ...(opts.urgentBps !== undefined ? { urgentBps: opts.urgentBps } : {}),
      ...(opts.originRate ? { originRate: opts.originRate } : {}),
      ...(opts.trackerIntervalMs ? { trackerIntervalMs: opts.trackerIntervalMs } : {}) }));
    const connectPeer = async (p: { peerId?: string; label?: string } = {}) => {
      const peer = await connectMintedPeer(natsUrl, g.minter, p);
      stops.push(() => peer.nc.close());
      return peer;
    };
    return { natsUrl, ...(nats ? { wsUrl: nats.wsUrl } : {}), natsServer: nats, auth, minter: g.minter, connectPeer,
      connectService: (role, name) => conn(name ?? role, role), gatewayUrl: g.url, store, storeLocation, grantSecret,
      adminToken, origins, gateway: g.gateway, tracker, swarmView: g.swarm, live: g.live, nc,
      stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
