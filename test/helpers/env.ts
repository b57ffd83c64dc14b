/**
 * Test environment built from real parts: a private nats-server, origin workers, a filesystem chunk store and
 * helpers to publish test videos. Everything started here is stopped by `close()`.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOrigin, createOriginClient, type Origin, type OriginInit } from '../../actors/origin/mod.js';
import { startNats, type NatsServerHandle } from '../../infra/nats.js';
import { systemClock } from '../../lib/clock.js';
import { createLogger, type Logger } from '../../lib/logger.js';
import { connectNats, type NatsConnection } from '../../lib/nats.js';
import { buildManifest, sha256Hex, type Manifest } from '../../protocol/mod.js';
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
  connect(name?: string): Promise<NatsConnection>;
  publishVideo(bytes: Uint8Array, opts?: { chunkSize?: number; name?: string }): Promise<Manifest>;
  close(): Promise<void>;
}

export async function startEnv(): Promise<TestEnv> {
  const nats = await startNats();
  const logger = createLogger('test');
  const extra: NatsConnection[] = [];
  const connect = async (name = 'test') => {
    const c = await connectNats(nats.url, name);
    extra.push(c);
    return c;
  };
  const nc = await connect('test-env');
  const dir = mkdtempSync(join(tmpdir(), 'sy-test-'));
  const store = createFsChunkStore({ root: join(dir, 'store') });
  const grantSecret = randomBytes(32).toString('hex');
  const origins: Origin[] = [];
  const env: TestEnv = {
    nats, nc, dir, store, logger, grantSecret, origins, connect,
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
