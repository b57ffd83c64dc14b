/**
 * Real parts for gateway tests: a private nats-server, an origin worker, the lease checker, a filesystem chunk
 * store, the real ingest submitter (and worker when asked), published test videos and a gateway over them.
 * `close()` stops everything in reverse order so the test process exits by itself.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createIngestSubmitter, createIngestWorker, type IngestWorker } from '../../actors/ingest/mod.js';
import {
  createLeaseChecker, createOrigin, createOriginClient, type LeaseChecker, type Origin, type OriginClient,
} from '../../actors/origin/mod.js';
import { createGateway, type Gateway, type GatewayInit } from '../../gateway/mod.js';
import { startNats, type NatsServerHandle } from '../../infra/nats.js';
import { systemClock } from '../../lib/clock.js';
import { createLogger, type Logger } from '../../lib/logger.js';
import { connectNats, type NatsConnection } from '../../lib/nats.js';
import { ServiceRoles, type Manifest } from '../../protocol/mod.js';
import { buildManifest, sha256Hex } from '../../lib/hash.js';
import { createFsChunkStore, type ChunkStore } from '../../store/mod.js';

export const CHUNK_SIZE = 256 * 1024;

export interface Fixture {
  nats: NatsServerHandle;
  nc: NatsConnection;
  origin: Origin;
  client: OriginClient;
  leases: LeaseChecker;
  store: ChunkStore;
  dir: string;
  stagingDir: string;
  grantSecret: string;
  adminToken: string;
  /** every log line of the gateway, to check what was (not) logged */
  logLines: string[];
  gatewayLogger: Logger;
  gateway: Gateway;
  ingestWorker: IngestWorker | null;
  /** publishes bytes as a video; with `store: false` the chunks are left out of the store */
  publish(bytes: Uint8Array, opts?: { name?: string; store?: boolean }): Promise<Manifest>;
  /** another gateway over the same components (closed by `close()`) */
  gatewayWith(init: Partial<GatewayInit>): Promise<Gateway>;
  stagedFiles(): string[];
  close(): Promise<void>;
}

export async function startFixture(opts: { withIngestWorker?: boolean; maxUploadBytes?: number } = {}): Promise<Fixture> {
  const nats = await startNats();
  const nc = await connectNats(nats.url, 'gateway-test', nats.creds(ServiceRoles.admin));
  const logger = createLogger('gateway-test');
  const dir = mkdtempSync(join(tmpdir(), 'sy-gateway-'));
  const stagingDir = join(dir, 'staging');
  const store = createFsChunkStore({ root: join(dir, 'store') });
  const grantSecret = randomBytes(32).toString('hex');
  const adminToken = randomBytes(24).toString('base64url');
  const origin = await createOrigin({ capacity: 2, grantSecret, leaseTtlMs: 2000, sweepIntervalMs: 100 },
    { nc, clock: systemClock, logger: logger.child('origin') });
  await origin.start();
  const client = createOriginClient(nc);
  const leases = await createLeaseChecker({ nc, clock: systemClock, logger: logger.child('leases') });
  const ingest = createIngestSubmitter({ nc, logger: logger.child('ingest') });
  let ingestWorker: IngestWorker | null = null;
  if (opts.withIngestWorker) {
    ingestWorker = createIngestWorker({ stagingDir }, { nc, store, origin: client, logger: logger.child('ingest-worker') });
    await ingestWorker.start();
  }
  const logLines: string[] = [];
  const gatewayLogger = createLogger('gateway', 'debug', (line) => logLines.push(line));
  const gateways: Gateway[] = [];
  const gatewayWith = async (init: Partial<GatewayInit>) => {
    const g = await createGateway({ grantSecret, adminToken, stagingDir, ...init },
      { origin: client, leases, store, ingest, clock: systemClock, logger: gatewayLogger });
    gateways.push(g);
    return g;
  };
  const gateway = await gatewayWith(opts.maxUploadBytes ? { maxUploadBytes: opts.maxUploadBytes } : {});

  return {
    nats, nc, origin, client, leases, store, dir, stagingDir, grantSecret, adminToken, logLines, gatewayLogger,
    gateway, ingestWorker, gatewayWith,
    async publish(bytes, popts = {}) {
      const chunks: string[] = [];
      for (let off = 0; off < bytes.byteLength; off += CHUNK_SIZE) {
        const c = bytes.subarray(off, Math.min(off + CHUNK_SIZE, bytes.byteLength));
        const h = sha256Hex(c);
        if (popts.store !== false) await store.put(h, c);
        chunks.push(h);
      }
      const m = buildManifest({ name: popts.name ?? 'test.bin', mime: 'application/octet-stream', size: bytes.byteLength,
        chunkSize: CHUNK_SIZE, chunks });
      await client.publish(m);
      return m;
    },
    stagedFiles: () => readdirSync(stagingDir),
    async close() {
      for (const g of gateways) await g.stop().catch(() => {});
      await ingestWorker?.stop().catch(() => {});
      await leases.stop().catch(() => {});
      await origin.stop().catch(() => {});
      await nc.drain().catch(() => {});
      await store.close();
      await nats.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Parses a JSON error body and returns its code. */
export function errorCode(res: { json(): unknown }): string {
  return (res.json() as { error: { code: string } }).error.code;
}
