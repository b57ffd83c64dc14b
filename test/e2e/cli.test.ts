/**
 * End to end through every layer: ffmpeg makes a video, the real CLI ingests it, the real CLI downloads it through
 * a real nats-server, origin and gateway on 127.0.0.1, and the result is byte-identical.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { generateSampleVideo } from '../../client/media.js';
import { startStack, type Stack } from '../../client/stack.js';
import { createLogger } from '../../lib/logger.js';
import { findEvent, runCli, sha256File } from '../helpers/cli.js';
import { fetchManifest, publishedSha256 } from '../helpers/video.js';

const t = suite<{ stack: Stack; dir: string; video: string; videoId: string }>('e2e: ingest + get with the real CLI');

t.before(async (ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'sy-e2e-'));
  ctx.stack = await startStack({ dataDir: join(ctx.dir, 'stack'), capacity: 2, leaseTtlMs: 2000 }, createLogger('e2e'));
  ctx.video = join(ctx.dir, 'testsrc.mp4');
  await generateSampleVideo(ctx.video, { seconds: 12, kbps: 2000 });
});
t.after(async ({ stack, dir }) => {
  await stack.stop();
  rmSync(dir, { recursive: true, force: true });
});

const common = (s: Stack) => ['--nats', s.natsUrl, '--gateway', s.gatewayUrl];
const keys = (s: Stack) => ['--auth-dir', s.auth.dir];

t('ingest a generated video with the CLI (packaged for streaming), get the published bytes back byte-identical', async (ctx) => {
  // ingest publishes to the catalog: a service's right, so it needs the deployment's keys
  const noKeys = await runCli(['ingest', ctx.video, '--store', ctx.stack.storeLocation, ...common(ctx.stack)]);
  assert.is(noKeys.code, 1);
  assert.match(noKeys.stderr, /operator keys/);
  const ing = await runCli(['ingest', ctx.video, '--json', '--store', ctx.stack.storeLocation, ...common(ctx.stack), ...keys(ctx.stack)]);
  assert.is(ing.code, 0, ing.stderr);
  const info = JSON.parse(ing.stdout.trim()) as {
    videoId: string; size: number; mime: string; chunks: number; segments: number; warnings: string[];
  };
  assert.ok(info.segments > 1, `packaged into HLS/CMAF segments (${info.segments})`);
  assert.ok(info.size > 2 * 1024 * 1024, `video of ${info.size} bytes should be a few MB`);
  assert.is(info.mime, 'video/mp4');
  assert.equal(info.warnings, []);
  ctx.videoId = info.videoId;
  const out = join(ctx.dir, 'out.mp4');
  const get = await runCli(['get', info.videoId, '-o', out, '--json', ...common(ctx.stack)]);
  assert.is(get.code, 0, get.stderr);
  // ingest repackages the video, so "identical" means identical to what the catalog published: the chunks in the store
  assert.is(sha256File(out), await publishedSha256(ctx.stack.store, await fetchManifest(ctx.stack.gatewayUrl, info.videoId)));
  assert.not.ok(existsSync(`${out}.part`), 'partial directory removed after completion');
  const done = findEvent<{ status: string; chunksFetched: number; bytesBySource: { origin: number } }>(get.events, 'done')!;
  assert.is(done.status, 'complete');
  assert.is(done.chunksFetched, info.chunks);
  assert.is(done.bytesBySource.origin, info.size);
  const list = await runCli(['list', '--json', ...common(ctx.stack)]);
  assert.ok((JSON.parse(list.stdout) as Array<{ videoId: string }>).some((v) => v.videoId === info.videoId));
});

t('ingest of a non-video file stores it with a warning; missing and empty files are clear errors', async (ctx) => {
  const text = join(ctx.dir, 'notes.bin');
  writeFileSync(text, Buffer.alloc(100_000, 7));
  const ok = await runCli(['ingest', text, '--store', ctx.stack.storeLocation, ...common(ctx.stack), ...keys(ctx.stack)]);
  assert.is(ok.code, 0, ok.stderr);
  assert.match(ok.stderr, /warning: not recognised as a video/);
  const missing = await runCli(['ingest', join(ctx.dir, 'nope.mp4'), '--store', ctx.stack.storeLocation, ...common(ctx.stack), ...keys(ctx.stack)]);
  assert.is(missing.code, 1);
  assert.match(missing.stderr, /no such file/);
  const empty = join(ctx.dir, 'empty.mp4');
  writeFileSync(empty, '');
  const e = await runCli(['ingest', empty, '--store', ctx.stack.storeLocation, ...common(ctx.stack), ...keys(ctx.stack)]);
  assert.is(e.code, 1);
  assert.match(e.stderr, /empty/);
});

t('get of an unknown or malformed video id fails with a clear message', async (ctx) => {
  const unknown = await runCli(['get', 'vdoesnotexist000', '-o', join(ctx.dir, 'x'), ...common(ctx.stack)]);
  assert.is(unknown.code, 1);
  assert.match(unknown.stderr, /unknown video id/);
  const bad = await runCli(['get', '../etc/passwd', ...common(ctx.stack)]);
  assert.is(bad.code, 2);
  const noNats = await runCli(['get', 'vabc', '--nats', 'nats://127.0.0.1:1', '--gateway', ctx.stack.gatewayUrl]);
  assert.is(noNats.code, 1);
  assert.match(noNats.stderr, /cannot connect to NATS/);
});

t.run();
