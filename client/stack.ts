/**
 * Starts a whole local Switchyard in one process: nats-server (unless given), origin workers, ingest worker,
 * tracker, signalling relay, lease checker and gateway. Used by `switchyard serve`, the demo and end-to-end tests; in production each part
 * runs as its own process (see infra/).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createLeaseChecker, createOrigin, createOriginClient, type Origin } from '../actors/origin/mod.js';
import { createIngestSubmitter, createIngestWorker } from '../actors/ingest/mod.js';
import { createSignalRelay } from '../actors/signal/mod.js';
import { createTracker, type Tracker } from '../actors/tracker/mod.js';
import { createActivityPublisher, createGateway, createTelemetryAggregator, type Gateway } from '../gateway/mod.js';
import { createSwarmView, type SwarmView } from '../gateway/swarmview.js';
import { createLiveDirectory, type LiveDirectory } from '../actors/live/registry.js';
import { loadAuth, serviceCredentials, type AuthMaterial } from '../infra/auth.js';
import { startNats, type NatsServerHandle } from '../infra/nats.js';
import { connectMintedPeer, createPeerMinter, type PeerMinter } from '../infra/peercreds.js';
import { systemClock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import { createTokenBucket } from '../lib/tokenbucket.js';
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
    const minter = createPeerMinter({ signingSeed: auth.signingSeed, accountPublicKey: auth.account.publicKey,
      ...(opts.peerCredentialTtlMs ? { ttlMs: opts.peerCredentialTtlMs } : {}) });
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
    const origins: Origin[] = [];
    for (let i = 0; i < (opts.originWorkers ?? 1); i++) {
      const o = await createOrigin({ capacity: opts.capacity, grantSecret, workerId: `origin-${i}`,
        ...(opts.policy ? { policy: opts.policy } : {}),
        ...(opts.leaseTtlMs ? { leaseTtlMs: opts.leaseTtlMs } : {}),
        ...(opts.idleMs !== undefined ? { idleMs: opts.idleMs } : {}),
        ...(opts.urgentBps === 0 ? { urgentMaxChunks: 0 } : opts.urgentMaxChunks !== undefined ? { urgentMaxChunks: opts.urgentMaxChunks } : {}) },
        { nc: await conn(`origin-${i}`, ServiceRoles.origin), clock: systemClock, logger: logger.child(`origin-${i}`) });
      await o.start();
      stops.push(() => o.stop());
      origins.push(o);
    }
    const originClient = createOriginClient(nc);
    const tracker = await createTracker({ ...(opts.trackerIntervalMs ? { intervalMs: opts.trackerIntervalMs } : {}) },
      { nc: await conn('tracker', ServiceRoles.tracker), clock: systemClock, logger: logger.child('tracker') });
    await tracker.start();
    stops.push(() => tracker.stop());
    const relay = createSignalRelay({}, { nc: await conn('signal', ServiceRoles.signal), logger: logger.child('signal') });
    await relay.start();
    stops.push(() => relay.stop());
    const stagingDir = join(opts.dataDir, 'staging');
    mkdirSync(stagingDir, { recursive: true });
    const ingest = createIngestWorker({ stagingDir }, { nc: await conn('ingest', ServiceRoles.ingest), store, origin: originClient, logger: logger.child('ingest') });
    await ingest.start();
    stops.push(() => ingest.stop());
    const leases = await createLeaseChecker({ nc, clock: systemClock, logger: logger.child('leases') });
    stops.push(() => leases.stop());
    const swarm = await createSwarmView({ freshMs: 3 * (opts.trackerIntervalMs ?? 5000) },
      { nc, clock: systemClock, logger: logger.child('swarmview') });
    stops.push(() => swarm.stop());
    const gatewayNc = await conn('gateway', ServiceRoles.gateway);
    const live = await createLiveDirectory({ nc: gatewayNc, logger: logger.child('live') });
    stops.push(() => live.stop());
    const telemetry = createTelemetryAggregator({ nc: gatewayNc, clock: systemClock,
      logger: logger.child('telemetry') });
    telemetry.start();
    stops.push(() => telemetry.stop());
    const activity = createActivityPublisher({}, { nc: gatewayNc, logger: logger.child('activity') });
    activity.start();
    stops.push(() => activity.stop());
    const gateway = await createGateway(
      { host: opts.host ?? '127.0.0.1', port: opts.port ?? 0, grantSecret: opts.gatewayGrantSecret ?? grantSecret,
        adminToken, stagingDir, ...(opts.urgentBps !== undefined ? { urgentBps: opts.urgentBps } : {}),
        ...(opts.natsWsUrl ? { natsWsUrl: opts.natsWsUrl } : {}),
        credentials: { minter, natsUrl, ...(nats ? { wsUrl: nats.wsUrl } : {}),
          ...(opts.apiKeys ? { apiKeys: opts.apiKeys } : {}) } },
      { origin: originClient, leases, store, ingest: createIngestSubmitter({ nc, logger }), clock: systemClock,
        logger: logger.child('gateway'), telemetry, activity, swarm, live, ...(opts.originRate ? { egress: createTokenBucket(opts.originRate) } : {}) },
    );
    const gatewayUrl = await gateway.start();
    stops.push(() => gateway.stop());
    const connectPeer = async (p: { peerId?: string; label?: string } = {}) => {
      const peer = await connectMintedPeer(natsUrl, minter, p);
      stops.push(() => peer.nc.close());
      return peer;
    };
    return { natsUrl, ...(nats ? { wsUrl: nats.wsUrl } : {}), natsServer: nats, auth, minter, connectPeer,
      connectService: (role, name) => conn(name ?? role, role), gatewayUrl, store, storeLocation, grantSecret, adminToken, origins, gateway, tracker, swarmView: swarm, live, nc,
      stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
