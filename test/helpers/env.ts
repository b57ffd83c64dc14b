/**
 * Test environment built from real parts: a private nats-server, origin workers, a filesystem chunk store and
 * helpers to publish test videos. Everything started here is stopped by `close()`.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOrigin, createOriginClient, type Origin, type OriginInit } from '../../actors/origin/mod.js';
import { createSignalRelay, type SignalRelay } from '../../actors/signal/mod.js';
import { createTracker, type Tracker } from '../../actors/tracker/mod.js';
import { startNats, type NatsServerHandle } from '../../infra/nats.js';
import { connectMintedPeer, minterFor, type PeerMinter } from '../../infra/peercreds.js';
import { systemClock } from '../../lib/clock.js';
import type { OpenGranted, OpenReply } from '../../protocol/mod.js';
import { createLogger, type Logger } from '../../lib/logger.js';
import { connectNats, type NatsConnection } from '../../lib/nats.js';
import { ServiceRoles, type Manifest } from '../../protocol/mod.js';
import { buildManifest, sha256Hex } from '../../lib/hash.js';
import { createFsChunkStore, type ChunkStore } from '../../store/mod.js';

export interface TestEnv {
  nats: NatsServerHandle;
  nc: NatsConnection;
  dir: string;
  store: ChunkStore;
  logger: Logger;
  grantSecret: string;
  origins: Origin[];
  startOrigin(init: Partial<OriginInit> & { capacity: number }): Promise<Origin>;
  /** a service connection (may publish and subscribe anything in the application account) */
  connect(name?: string): Promise<NatsConnection>;
  /** a peer connection with a minted credential: the permissions a real peer has */
  connectPeer(peerId?: string): Promise<{ peerId: string; nc: NatsConnection }>;
  minter: PeerMinter;
  /** a tracker (announce interval 1 s) and a signalling relay on their own service connections; stopped by close() */
  startSwarmServices(): Promise<{ tracker: Tracker; relay: SignalRelay }>;
  publishVideo(bytes: Uint8Array, opts?: { chunkSize?: number; name?: string }): Promise<Manifest>;
  close(): Promise<void>;
}

export async function startEnv(): Promise<TestEnv> {
  const nats = await startNats();
  const logger = createLogger('test');
  const extra: NatsConnection[] = [];
  const connect = async (name = 'test') => {
    const c = await connectNats(nats.url, name, nats.creds(ServiceRoles.admin));
    extra.push(c);
    return c;
  };
  const minter = minterFor(nats.auth);
  const connectPeer = async (peerId?: string) => {
    const p = await connectMintedPeer(nats.url, minter, peerId ? { peerId } : {});
    extra.push(p.nc);
    return p;
  };
  const nc = await connect('test-env');
  const dir = mkdtempSync(join(tmpdir(), 'sy-test-'));
  const store = createFsChunkStore({ root: join(dir, 'store') });
  const grantSecret = randomBytes(32).toString('hex');
  const origins: Origin[] = [];
  const services: Array<{ stop(): Promise<void> }> = [];
  const env: TestEnv = {
    nats, nc, dir, store, logger, grantSecret, origins, connect, connectPeer, minter,
    async startSwarmServices() {
      const tracker = await createTracker({ intervalMs: 1000 },
        { nc: await connect('tracker'), clock: systemClock, logger: logger.child('tracker') });
      await tracker.start();
      services.push(tracker);
      const relay = createSignalRelay({}, { nc: await connect('relay'), logger: logger.child('relay') });
      await relay.start();
      services.push(relay);
      return { tracker, relay };
    },
    async startOrigin(init) {
      const onc = await connect(`origin-${origins.length}`);
      const o = await createOrigin({ grantSecret, leaseTtlMs: 2000, sweepIntervalMs: 100, workerId: `origin-${origins.length}`, ...init },
        { nc: onc, clock: systemClock, logger: logger.child(`origin-${origins.length}`) });
      await o.start();
      origins.push(o);
      return o;
    },
    async publishVideo(bytes, opts = {}) {
      const chunkSize = opts.chunkSize ?? 256 * 1024;
      const chunks: string[] = [];
      for (let off = 0; off < bytes.byteLength; off += chunkSize) {
        const c = bytes.subarray(off, Math.min(off + chunkSize, bytes.byteLength));
        const h = sha256Hex(c);
        await store.put(h, c);
        chunks.push(h);
      }
      const m = buildManifest({ name: opts.name ?? 'test.bin', mime: 'application/octet-stream', size: bytes.byteLength,
        chunkSize, chunks });
      await createOriginClient(nc).publish(m);
      return m;
    },
    async close() {
      for (const s of services.splice(0).reverse()) await s.stop().catch(() => {});
      for (const o of origins.splice(0)) await o.stop().catch(() => {});
      for (const c of extra.splice(0)) await c.close().catch(() => {});
      await store.close();
      await nats.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return env;
}

/** Polls `fn` until it returns a truthy value or the deadline passes (then throws with `what`). */
export async function waitFor<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 10000, everyMs = 20): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The open reply as a grant; anything else fails the test that expected one. */
export function granted(r: OpenReply): OpenGranted {
  if (r.status !== 'granted') throw new Error(`expected a grant, got ${r.status}`);
  return r;
}
