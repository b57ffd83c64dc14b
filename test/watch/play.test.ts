/**
 * `switchyard play` end to end: a real stack (nats-server, origin, gateway) on 127.0.0.1, a video ingested by the
 * real CLI (packaged as HLS/CMAF in one fMP4 file by the Debian ffmpeg), the real CLI as a child process with a throttled
 * download, and Debian ffprobe/ffmpeg reading its playlist over HTTP while the download is still running.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createOriginClient } from '../../actors/origin/client.js';
import { generateSampleVideo } from '../../client/media.js';
import { startStack, type Stack } from '../../client/stack.js';
import { buildManifest, sha256Hex } from '../../lib/hash.js';
import { createLogger } from '../../lib/logger.js';
import { hlsPlaylist, type Manifest } from '../../protocol/mod.js';
import { launchBrowser } from '../helpers/browser.js';
import { runCli, startCli, type CliRun } from '../helpers/cli.js';
import { waitFor } from '../helpers/env.js';
import { rawRequest as raw } from '../helpers/http.js';
import { chunksOnDisk } from '../helpers/disk.js';

const CHUNK = 64 * 1024;

function run(cmd: string, args: string[], timeoutMs = 60000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** The video as the catalog published it (the packaged file), from the store in manifest order. */
async function publishedBytes(stack: Stack, m: Manifest): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (const c of m.chunks) parts.push((await stack.store.get(c))!);
  return new Uint8Array(Buffer.concat(parts));
}

async function publish(stack: Stack, bytes: Uint8Array, o: { name: string; mime: string }): Promise<Manifest> {
  const chunks: string[] = [];
  for (let off = 0; off < bytes.byteLength; off += CHUNK) {
    const c = bytes.subarray(off, Math.min(off + CHUNK, bytes.byteLength));
    const h = sha256Hex(c);
    await stack.store.put(h, c);
    chunks.push(h);
  }
  const m = buildManifest({ name: o.name, mime: o.mime, size: bytes.byteLength, chunkSize: CHUNK, chunks });
  await createOriginClient(stack.nc).publish(m);
  return m;
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const common = (s: Stack) => ['--nats', s.natsUrl, '--gateway', s.gatewayUrl];

async function listening(cli: CliRun): Promise<{ port: number; playlist: string | null; file: string }> {
  return waitFor(() => cli.events.find((e) => e.event === 'listening') as unknown as
    { port: number; playlist: string | null; file: string } | undefined, `listening (${cli.stderr()})`, 30000);
}

async function stopCli(cli: CliRun): Promise<number | null> {
  cli.child.kill('SIGINT');
  return cli.exited;
}

const t = suite<{ stack: Stack; dir: string; source: Uint8Array; manifest: Manifest }>('play: a player reads while it downloads');

t.before(async (ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'sy-play-'));
  ctx.stack = await startStack({ dataDir: join(ctx.dir, 'stack'), capacity: 2, leaseTtlMs: 2000 }, createLogger('play-test'));
  const src = join(ctx.dir, 'in.mp4');
  await generateSampleVideo(src, { seconds: 12, width: 320, height: 240, kbps: 1500 });
  // the real ingest: it packages the video as HLS/CMAF in one fMP4 file and publishes a streamable manifest
  const ing = await runCli(['ingest', src, '--json', '--chunk-size', String(CHUNK), '--store', ctx.stack.storeLocation,
    ...common(ctx.stack), '--auth-dir', ctx.stack.auth.dir]);
  assert.is(ing.code, 0, ing.stderr);
  const { videoId } = JSON.parse(ing.stdout.trim()) as { videoId: string };
  ctx.manifest = await createOriginClient(ctx.stack.nc).manifest(videoId);
  ctx.source = await publishedBytes(ctx.stack, ctx.manifest);
});
t.after(async ({ stack, dir }) => {
  await stack.stop();
  rmSync(dir, { recursive: true, force: true });
});

t('ffprobe reads the playlist while the download is still in progress; ffmpeg decodes it all', async (ctx) => {
  const { manifest, source } = ctx;
  assert.ok(manifest.stream && manifest.chunks.length >= 20, `${manifest.chunks.length} chunks`);
  const out = join(ctx.dir, 'watched.mp4');
  // ~300 KB/s: the ~2 MB download takes several seconds
  const cli = startCli(['play', manifest.videoId, '--out', out, '--json', '--rate', '300000', ...common(ctx.stack)],
    { timeoutMs: 120000 });
  try {
    const urls = await listening(cli);
    assert.is(urls.playlist, `http://127.0.0.1:${urls.port}/${manifest.videoId}.m3u8`);
    assert.is(urls.file, `http://127.0.0.1:${urls.port}/${manifest.videoId}.mp4`);
    // a range at the very end, asked at once: answered when its chunk arrives, not refused
    const tail = raw(urls.port, `/${manifest.videoId}.mp4`, { headers: { Range: 'bytes=-1000' } });
    const decode = run('ffmpeg', ['-v', 'error', '-i', urls.playlist!, '-f', 'null', '-'], 90000);
    const probe = await run('ffprobe', ['-v', 'error', '-show_format', '-show_streams', '-of', 'json', urls.playlist!]);
    const probedAt = Date.now();
    const doneWhenProbed = cli.events.some((e) => e.event === 'done');
    const chunksWhenProbed = chunksOnDisk(`${out}.part`);
    assert.is(probe.code, 0, probe.stderr);
    const info = JSON.parse(probe.stdout) as { format: { duration?: string }; streams: Array<{ codec_type: string; codec_name: string; width?: number }> };
    const video = info.streams.find((s) => s.codec_type === 'video');
    assert.ok(video, 'a video stream');
    assert.is(video!.codec_name, 'h264');
    assert.is(video!.width, 320);
    assert.ok(info.streams.some((s) => s.codec_type === 'audio'), 'an audio stream');
    assert.ok(Math.abs(Number(info.format.duration) - 12) < 0.5, `duration ${info.format.duration}`);
    assert.not.ok(doneWhenProbed, 'ffprobe finished before the download did');
    assert.ok(chunksWhenProbed < manifest.chunks.length, `${chunksWhenProbed} of ${manifest.chunks.length} chunks on disk`);

    const end = await tail;
    assert.is(end.status, 206);
    assert.is(end.headers['content-range'], `bytes ${source.byteLength - 1000}-${source.byteLength - 1}/${source.byteLength}`);
    assert.is(sha(end.body), sha(source.subarray(source.byteLength - 1000)));

    const decoded = await decode;
    assert.is(decoded.code, 0, decoded.stderr);
    assert.is(decoded.stderr.trim(), '');
    const done = await waitFor(() => cli.events.find((e) => e.event === 'done'), 'done', 60000);
    assert.is(done.status, 'complete');
    process.stdout.write(`  ffprobe answered ${(done.at! - probedAt) / 1000} s before the download completed, ` +
      `with ${chunksWhenProbed} of ${manifest.chunks.length} chunks\n`);
    await waitFor(() => cli.events.find((e) => e.event === 'serving'), 'serving');

    // the completed file, and the server keeps serving after completion
    assert.is(sha(readFileSync(out)), sha(source));
    const pl = await raw(urls.port, `/${manifest.videoId}.m3u8`);
    assert.is(pl.status, 200);
    assert.is(pl.headers['content-type'], 'application/vnd.apple.mpegurl');
    assert.is(pl.body.toString(), hlsPlaylist(manifest.stream!, `${manifest.videoId}.mp4`));
    const whole = await raw(urls.port, `/${manifest.videoId}.mp4`);
    assert.is(whole.status, 200);
    assert.is(whole.headers['accept-ranges'], 'bytes');
    assert.is(sha(whole.body), sha(source));
  } finally {
    const code = await stopCli(cli);
    assert.is(code, 0, cli.stderr());
  }
  assert.ok(cli.events.some((e) => e.event === 'stopped'), 'stopped cleanly');
  assert.not.ok(existsSync(`${out}.part`), '.part removed on exit');
  assert.is(sha(readFileSync(out)), sha(source));
});

/** The little of the DOM the in-page function uses (the project compiles without lib.dom). */
interface VideoEl {
  muted: boolean;
  src: string;
  duration: number;
  currentTime: number;
  videoWidth: number;
  error: { code: number } | null;
  onloadedmetadata: (() => void) | null;
  onerror: (() => void) | null;
  play(): Promise<void>;
}
interface VideoDoc {
  createElement(tag: 'video'): VideoEl;
  body: { appendChild(e: VideoEl): void };
}

t('Chromium plays the file URL in a <video>, asked for while the download runs', async (ctx) => {
  const { manifest, source } = ctx;
  const out = join(ctx.dir, 'browser.mp4');
  const cli = startCli(['play', manifest.videoId, '-o', out, '--json', '--rate', '300000', ...common(ctx.stack)],
    { timeoutMs: 120000 });
  const browser = await launchBrowser();
  try {
    const urls = await listening(cli);
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${urls.port}/`);
    const r = await page.evaluate(async (src) => {
      const doc = (globalThis as unknown as { document: VideoDoc }).document;
      const v = doc.createElement('video');
      v.muted = true;
      v.src = src;
      doc.body.appendChild(v);
      const duration = await new Promise<number | string>((resolve) => {
        v.onloadedmetadata = () => resolve(v.duration);
        v.onerror = () => resolve(`error ${v.error?.code}`);
        setTimeout(() => resolve('no metadata in 20 s'), 20000);
      });
      await v.play().catch(() => {});
      await new Promise<void>((resolve) => {
        const t0 = Date.now();
        const tick = () => (v.currentTime > 1 || Date.now() - t0 > 20000 ? resolve() : setTimeout(tick, 50));
        tick();
      });
      return { duration, currentTime: v.currentTime, width: v.videoWidth };
    }, `/${manifest.videoId}.mp4`);
    const doneWhenPlaying = cli.events.some((e) => e.event === 'done');
    assert.ok(typeof r.duration === 'number' && Math.abs(r.duration - 12) < 0.5, `duration ${r.duration}`);
    assert.is(r.width, 320);
    assert.ok(r.currentTime > 1, `played to ${r.currentTime} s`);
    // Chromium's MP4 reader first asks for the file's last bytes (looking for an index at the end); the player's
    // reads set the download's playhead, so that chunk and then the first ones come first, not last
    assert.not.ok(doneWhenPlaying, 'Chromium played before the download completed');
    await waitFor(() => cli.events.find((e) => e.event === 'serving'), 'serving', 60000);
  } finally {
    await browser.close();
    assert.is(await stopCli(cli), 0, cli.stderr());
  }
  assert.is(sha(readFileSync(out)), sha(source));
});

t('Range: exact bytes for aligned and unaligned ranges, 416, HEAD, 404 and no way out of the fixed routes', async (ctx) => {
  const { manifest, source } = ctx;
  const out = join(ctx.dir, 'ranges.mp4');
  const cli = startCli(['play', manifest.videoId, '-o', out, '--json', ...common(ctx.stack)], { timeoutMs: 120000 });
  try {
    const { port } = await listening(cli);
    const path = `/${manifest.videoId}.mp4`;
    const size = source.byteLength;
    const cases: Array<[number, number]> = [[0, CHUNK - 1], [CHUNK, 3 * CHUNK - 1], [1000, 200_000],
      [CHUNK - 1, CHUNK], [size - 1, size - 1], [5 * CHUNK + 7, size - 1]];
    const replies = await Promise.all(cases.map(([a, b]) => raw(port, path, { headers: { Range: `bytes=${a}-${b}` } })));
    for (const [i, [a, b]] of cases.entries()) {
      const r = replies[i]!;
      assert.is(r.status, 206, `${a}-${b}`);
      assert.is(r.headers['content-range'], `bytes ${a}-${b}/${size}`);
      assert.is(Number(r.headers['content-length']), b - a + 1);
      assert.is(sha(r.body), sha(source.subarray(a, b + 1)), `${a}-${b}`);
    }
    const open = await raw(port, path, { headers: { Range: `bytes=${size - 5000}-` } });
    assert.is(open.status, 206);
    assert.is(sha(open.body), sha(source.subarray(size - 5000)));
    const past = await raw(port, path, { headers: { Range: `bytes=${size}-` } });
    assert.is(past.status, 416);
    assert.is(past.headers['content-range'], `bytes */${size}`);
    assert.is((await raw(port, path, { headers: { Range: 'bytes=0-1,5-6' } })).status, 416);
    const head = await raw(port, path, { method: 'HEAD' });
    assert.is(head.status, 200);
    assert.is(Number(head.headers['content-length']), size);
    assert.is(head.headers['accept-ranges'], 'bytes');
    assert.is(head.headers['content-type'], 'video/mp4');
    assert.is(head.body.byteLength, 0);
    const headRange = await raw(port, path, { method: 'HEAD', headers: { Range: 'bytes=10-19' } });
    assert.is(headRange.status, 206);
    assert.is(headRange.headers['content-length'], '10');
    for (const p of ['/nope', '/../../etc/passwd', `/${manifest.videoId}.mp4/../../x`, '/%2e%2e/%2e%2e/etc/passwd',
      `/${manifest.videoId}.MP4`, `/stream.mp4`, '//etc/passwd']) {
      assert.is((await raw(port, p)).status, 404, p);
    }
    assert.is((await raw(port, path, { method: 'POST' })).status, 405);
    assert.is((await raw(port, path, { headers: { Host: 'evil.example:80' } })).status, 403);
    const index = await raw(port, '/');
    assert.is(index.status, 200);
    assert.match(index.body.toString(), `/${manifest.videoId}.m3u8`);
    await waitFor(() => cli.events.find((e) => e.event === 'serving'), 'serving', 60000);
  } finally {
    assert.is(await stopCli(cli), 0, cli.stderr());
  }
  assert.is(sha(readFileSync(out)), sha(source));
});

t('a video that is not streamable: the whole file with Range, a warning, no playlist', async (ctx) => {
  const bytes = new Uint8Array(300_000).map((_, i) => (i * 7919) & 0xff);
  const m = await publish(ctx.stack, bytes, { name: 'notes.bin', mime: 'application/octet-stream' });
  const out = join(ctx.dir, 'notes.bin');
  const cli = startCli(['play', m.videoId, '-o', out, ...common(ctx.stack)], { timeoutMs: 60000 });
  try {
    const fileUrl = `/${m.videoId}.bin`;
    await waitFor(() => cli.stdout().includes(fileUrl), `the file URL on stdout (${cli.stderr()})`, 30000);
    assert.not.match(cli.stdout(), '.m3u8');
    assert.match(cli.stderr(), /warning: .* not packaged for streaming/);
    const port = Number(/127\.0\.0\.1:(\d+)\//.exec(cli.stdout())![1]);
    assert.is((await raw(port, `/${m.videoId}.m3u8`)).status, 404);
    const r = await raw(port, fileUrl, { headers: { Range: 'bytes=70000-140000' } });
    assert.is(r.status, 206);
    assert.is(r.headers['content-type'], 'application/octet-stream');
    assert.is(sha(r.body), sha(bytes.subarray(70000, 140001)));
    await waitFor(() => cli.stderr().includes('still serving'), 'completion', 30000);
  } finally {
    assert.is(await stopCli(cli), 0, cli.stderr());
  }
  assert.is(sha(readFileSync(out)), sha(bytes));
});

t.run();
