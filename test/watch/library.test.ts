/**
 * The Node library (`import … from 'switchyard'`, api/): the documented example runs as written against a real
 * stack; `play` serves the playlist while the download runs and the player's read steers it; `seed` serves a
 * finished file to a peer that the full origin turns away (a finished download keeps serving until it is closed);
 * listeners that throw break nothing.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { download, play, seed } from '../../api/mod.js';
import { ingestFile } from '../../actors/ingest/ingest.js';
import { createOriginClient } from '../../actors/origin/client.js';
import { startStack, type Stack } from '../../client/stack.js';
import { createLogger } from '../../lib/logger.js';
import { chunkLength, type Manifest } from '../../protocol/mod.js';
import { makeTestVideo, publishedSha256 } from '../helpers/video.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const t = suite<{ stack: Stack; dir: string; manifest: Manifest; sha: string }>('library: download, play, seed');
const logger = createLogger('library', 'error');
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

t.before(async (ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'sy-lib-'));
  ctx.stack = await startStack({ dataDir: join(ctx.dir, 'stack'), capacity: 1, leaseTtlMs: 3000 }, logger);
  const src = makeTestVideo(ctx.dir, { seconds: 10, bitrate: '600k' });
  const origin = createOriginClient(ctx.stack.nc);
  ctx.manifest = (await ingestFile({ path: src, chunkSize: 64 * 1024 }, { store: ctx.stack.store, publish: (m) => origin.publish(m), logger }))
    .manifest;
  ctx.sha = await publishedSha256(ctx.stack.store, ctx.manifest);
});
t.after(async ({ stack, dir }) => {
  await stack.stop();
  rmSync(dir, { recursive: true, force: true });
});

t('examples/download.mjs runs as documented and gets the published bytes', async (ctx) => {
  const out = join(ctx.dir, 'example.mp4');
  const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [join(ROOT, 'examples', 'download.mjs'), ctx.manifest.videoId, out],
      { cwd: ctx.dir, env: { ...process.env, SWITCHYARD_GATEWAY: ctx.stack.gatewayUrl }, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /mode server/);
  const last = JSON.parse(r.stdout.trim().split('\n').pop()!) as { status: string; bytesBySource: Record<string, number> };
  assert.is(last.status, 'complete');
  assert.is(sha256(readFileSync(out)), ctx.sha);
});

t('play: the playlist is served while the download runs; a read moves the playhead; stop() cleans up', async (ctx) => {
  const out = join(ctx.dir, 'played.mp4');
  const p = await play(ctx.manifest.videoId, { gateway: ctx.stack.gatewayUrl, output: out, downloadRate: 150_000, logger });
  try {
    const modes: string[] = [];
    p.download.on('state', ({ mode }) => modes.push(mode));
    // a listener that throws is reported and ignored: the download goes on
    p.download.on('progress', () => {
      throw new Error('a buggy listener');
    });
    assert.ok(p.urls.playlist, 'a streamable video has a playlist');
    const playlist = await (await fetch(p.urls.playlist!)).text();
    assert.match(playlist, /#EXT-X-MAP:URI=".+\.mp4",BYTERANGE="\d+@0"/);
    // the last segment first: a seek to the end is served long before the download would reach it in order
    const last = ctx.manifest.stream!.segments.at(-1)!;
    const res = await fetch(p.urls.file, { headers: { range: `bytes=${last.offset}-${last.offset + last.length - 1}` } });
    assert.is(res.status, 206);
    const body = new Uint8Array(await res.arrayBuffer());
    assert.is(body.byteLength, last.length);
    assert.not.ok(p.download.partial.have().length === ctx.manifest.chunks.length, 'served before the download completed');
    const result = await p.download.done;
    assert.is(result.status, 'complete');
    assert.ok(modes.includes('server'), modes.join(','));
    assert.is(sha256(readFileSync(out)), ctx.sha);
  } finally {
    await p.stop();
  }
  await p.stop(); // idempotent
});

t('seed: a finished file serves a peer the full origin turns away', async (ctx) => {
  const file = join(ctx.dir, 'example.mp4');
  const s = await seed(ctx.manifest.videoId, { file, gateway: ctx.stack.gatewayUrl, logger });
  // the origin's one slot is held by a download that never finishes (capped at 1 byte/s after its first chunk)
  const holder = await download(ctx.manifest.videoId, { gateway: ctx.stack.gatewayUrl, output: join(ctx.dir, 'h.mp4'),
    downloadRate: 1, uploads: false, logger });
  let d: Awaited<ReturnType<typeof download>> | null = null;
  try {
    assert.is(s.held, ctx.manifest.chunks.length);
    await new Promise<void>((resolve) => {
      if (holder.mode() === 'server') resolve();
      holder.on('state', ({ mode }) => mode === 'server' && resolve());
    });
    d = await download(ctx.manifest.videoId, { gateway: ctx.stack.gatewayUrl, output: join(ctx.dir, 'p.mp4'), logger });
    const result = await d.done;
    // done, not closed: its swarm still serves what it holds (the `.part/` goes at close, not at assembly)
    const last = ctx.manifest.chunks.length - 1;
    assert.is((await d.partial.readChunk(last)).byteLength, chunkLength(ctx.manifest, last));
    assert.ok(existsSync(`${join(ctx.dir, 'p.mp4')}.part`), '.part/ kept until close()');
    await d.close();
    assert.not.ok(existsSync(`${join(ctx.dir, 'p.mp4')}.part`), '.part/ removed at close()');
    assert.is(result.status, 'complete');
    const fromPeers = Object.entries(result.bytesBySource).filter(([k]) => k.startsWith('peer:'))
      .reduce((a, [, v]) => a + v, 0);
    assert.ok(fromPeers > 0, `bytes from the seeder (${JSON.stringify(result.bytesBySource)})`);
    assert.ok(s.stats().uploadedBytes > 0);
    assert.is(sha256(readFileSync(join(ctx.dir, 'p.mp4'))), ctx.sha);
  } finally {
    await d?.close();
    await holder.close();
    await s.stop();
  }
});

t.run();
