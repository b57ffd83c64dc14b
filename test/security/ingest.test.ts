/**
 * Ingest jobs are data anyone with publish rights on `sy.ingest.job` can write. Over a real nats-server, origin,
 * ingest worker and fs store: a job naming /etc/passwd, a symlink planted in staging that points outside, or a
 * `..` path never reaches the catalog, and the file it names is never deleted, whether the job arrives as a core
 * NATS publish from some service connection or through JetStream. A genuine staged upload still ingests.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createIngestWorker, ensureIngestStream, type IngestWorker } from '../../actors/ingest/mod.js';
import { createOriginClient } from '../../actors/origin/mod.js';
import type { NatsConnection } from '../../lib/nats.js';
import {
  decode, DEFAULT_CHUNK_SIZE, encode, IngestDone, MAX_MANIFEST_MESSAGE_BYTES, Subjects, type IngestJob,
} from '../../protocol/mod.js';
import { buildManifest, sha256Hex } from '../../lib/hash.js';
import { startEnv, type TestEnv } from '../helpers/env.js';

interface Ctx {
  env: TestEnv;
  worker: IngestWorker;
  staging: string;
  outside: string;
  /** a service connection that is not the ingest role's */
  svc: NatsConnection;
}
const t = suite<Ctx>('security: ingest jobs cannot name files outside staging');

t.before(async (ctx) => {
  ctx.env = await startEnv();
  await ctx.env.startOrigin({ capacity: 1 });
  ctx.staging = join(ctx.env.dir, 'staging');
  ctx.outside = join(ctx.env.dir, 'outside');
  mkdirSync(ctx.staging, { recursive: true });
  mkdirSync(ctx.outside, { recursive: true });
  const inc = await ctx.env.connect('ingest');
  ctx.worker = createIngestWorker({ stagingDir: ctx.staging },
    { nc: inc, store: ctx.env.store, origin: createOriginClient(inc), logger: ctx.env.logger.child('ingest') });
  await ctx.worker.start();
  ctx.svc = await ctx.env.connect('compromised-service');
  await ensureIngestStream(ctx.svc);
});
t.after(async ({ env, worker }) => {
  await worker.stop();
  await env.close();
});

/** Sends a job and waits for its done notice. */
async function run(nc: NatsConnection, job: IngestJob, via: 'core' | 'jetstream'): Promise<IngestDone> {
  const sub = nc.subscribe(Subjects.ingestDone(job.jobId), { max: 1, timeout: 15_000 });
  if (via === 'core') nc.publish(Subjects.ingestJob, encode(job));
  else await jetstream(nc).publish(Subjects.ingestJob, encode(job));
  for await (const m of sub) return decode(IngestDone, m.data, { maxBytes: MAX_MANIFEST_MESSAGE_BYTES, what: 'done' });
  throw new Error('no done notice');
}

/** The video id a file would get if it were ingested with default chunks. */
function videoIdOf(bytes: Uint8Array): string {
  const chunks: string[] = [];
  for (let off = 0; off < bytes.byteLength; off += DEFAULT_CHUNK_SIZE) {
    chunks.push(sha256Hex(bytes.subarray(off, Math.min(off + DEFAULT_CHUNK_SIZE, bytes.byteLength))));
  }
  return buildManifest({ name: 'x', mime: 'application/octet-stream', size: bytes.byteLength, chunkSize: DEFAULT_CHUNK_SIZE,
    chunks }).videoId;
}

async function assertNotInCatalog(env: TestEnv, bytes: Uint8Array) {
  const client = createOriginClient(env.nc);
  const id = videoIdOf(bytes);
  assert.not.ok((await client.list()).some((v) => v.videoId === id), 'listed in the catalog');
  try {
    await client.manifest(id);
    assert.unreachable('the catalog has it');
  } catch (err) {
    assert.is((err as { code?: string }).code, 'unknown_video');
  }
}

let n = 0;
const job = (path: string): IngestJob => ({ jobId: `evil${n++}`, path, name: 'evil', removeAfter: true });

for (const via of ['core', 'jetstream'] as const) {
  t(`/etc/passwd via ${via}: refused, not catalogued, not deleted`, async ({ env, svc }) => {
    const passwd = readFileSync('/etc/passwd');
    const done = await run(svc, job('/etc/passwd'), via);
    assert.is(done.ok, false);
    if (!done.ok) assert.is(done.error.code, 'ingest_failed');
    assert.ok(existsSync('/etc/passwd'));
    await assertNotInCatalog(env, passwd);
  });

  t(`a symlink in staging pointing outside, via ${via}: refused, target kept`, async ({ env, svc, staging, outside }) => {
    const secret = randomBytes(5000);
    const target = join(outside, `secret-${via}.bin`);
    writeFileSync(target, secret);
    const link = join(staging, `upload-link-${via}`);
    symlinkSync(target, link);
    const done = await run(svc, job(link), via);
    assert.is(done.ok, false);
    assert.ok(existsSync(target), 'the target was deleted');
    assert.ok(readFileSync(target).equals(secret));
    await assertNotInCatalog(env, secret);
    // a `..` walk out of staging is judged by where it leads
    const walked = await run(svc, job(join(staging, '..', 'outside', `secret-${via}.bin`)), via);
    assert.is(walked.ok, false);
    assert.ok(existsSync(target));
    await assertNotInCatalog(env, secret);
  });
}

t('a symlinked directory inside staging leading out is refused too', async ({ env, svc, staging, outside }) => {
  const secret = randomBytes(3000);
  writeFileSync(join(outside, 'dir-secret.bin'), secret);
  symlinkSync(outside, join(staging, 'linkdir'));
  const done = await run(svc, job(join(staging, 'linkdir', 'dir-secret.bin')), 'jetstream');
  assert.is(done.ok, false);
  assert.ok(existsSync(join(outside, 'dir-secret.bin')));
  await assertNotInCatalog(env, secret);
});

t('a genuine staged upload is ingested and then removed', async ({ env, svc, staging }) => {
  const bytes = randomBytes(70_000);
  const path = join(staging, 'upload-genuine');
  writeFileSync(path, bytes);
  const done = await run(svc, { jobId: 'good1', path, name: 'good.bin', removeAfter: true }, 'jetstream');
  assert.is(done.ok, true, JSON.stringify(done));
  assert.not.ok(existsSync(path), 'staged upload left behind');
  assert.is((await createOriginClient(env.nc).manifest(videoIdOf(bytes))).size, bytes.byteLength);
});

t('a failed ingest of a staged upload also removes it', async ({ svc, staging }) => {
  const path = join(staging, 'upload-empty');
  writeFileSync(path, '');
  const done = await run(svc, { jobId: 'empty1', path, name: 'empty.bin', removeAfter: true }, 'core');
  assert.is(done.ok, false);
  assert.not.ok(existsSync(path));
});

t.run();
