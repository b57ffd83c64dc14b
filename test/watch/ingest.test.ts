/**
 * Streamable ingest with Debian's ffmpeg: H.264/AAC is packaged by stream copy, other codecs are re-encoded, the
 * manifest records init + segments as byte ranges bound into the root hash, the derived playlist plays in
 * ffprobe/ffmpeg from the stored chunks, and input ffmpeg cannot package is delivered as a plain file with a
 * warning.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ingestFile } from '../../actors/ingest/ingest.js';
import { parseSingleFilePlaylist } from '../../actors/ingest/package.js';
import { checkManifest, computeRootHash } from '../../lib/hash.js';
import { createLogger } from '../../lib/logger.js';
import {
  BadManifestError, chunksOfRange, hlsPlaylist, segmentAtOffset, segmentAtTime, streamDuration, type Manifest,
} from '../../protocol/mod.js';
import { createFsChunkStore, type ChunkStore } from '../../store/mod.js';
import { makeTestVideo } from '../helpers/video.js';

const dir = mkdtempSync(join(tmpdir(), 'sy-watch-ingest-'));
const store: ChunkStore = createFsChunkStore({ root: join(dir, 'store') });
const logger = createLogger('test', 'error');
const published: Manifest[] = [];
const components = { store, logger, publish: async (m: Manifest) => published.push(m) };

/** The stored file, reassembled from the chunk store in manifest order. */
async function storedBytes(m: Manifest): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for (const h of m.chunks) {
    const c = await store.get(h);
    assert.ok(c, `chunk ${h} is in the store`);
    parts.push(c!);
  }
  return Buffer.concat(parts);
}

function ffprobeJson(target: string): { format: { duration: string }; streams: Array<{ codec_name: string }> } {
  const out = execFileSync('ffprobe', ['-v', 'error', '-protocol_whitelist', 'file', '-print_format', 'json',
    '-show_format', '-show_streams', target], { encoding: 'utf8', timeout: 60_000 });
  return JSON.parse(out);
}

test('H.264/AAC is packaged by stream copy into one fMP4 whose segments the manifest binds', async () => {
  const src = makeTestVideo(dir, { seconds: 12, codec: 'h264', gop: 25 });
  const r = await ingestFile({ path: src, name: 'clip.mov' }, components);
  const m = r.manifest;
  assert.equal(r.warnings, []);
  assert.ok(m.stream, 'manifest has a stream');
  const s = m.stream!;
  assert.is(m.mime, 'video/mp4');
  assert.is(m.name, 'clip.mp4', 'listed under the packaged container');
  assert.is(s.format, 'hls-cmaf');
  assert.is(s.init.offset, 0);
  assert.ok(s.segments.length >= 5 && s.segments.length <= 7, `about 6 segments of 2 s (got ${s.segments.length})`);
  assert.ok(Math.abs(streamDuration(s) - 12) < 0.2, `durations add up to 12 s (${streamDuration(s)})`);
  assert.match(s.codecs ?? '', /^avc1\.[0-9a-f]{6},mp4a\.40\.2$/);
  checkManifest(m, m.videoId);
  // the byte ranges cover the stored file exactly, and each segment starts with a movie fragment
  const bytes = await storedBytes(m);
  assert.is(bytes.length, m.size);
  assert.is(bytes.subarray(4, 8).toString('latin1'), 'ftyp');
  for (const seg of s.segments) {
    const kind = bytes.subarray(seg.offset + 4, seg.offset + 8).toString('latin1');
    assert.ok(['moof', 'styp', 'sidx'].includes(kind), `segment at ${seg.offset} starts with a fragment box (${kind})`);
  }
  // the derived playlist over the stored bytes is what ffprobe and ffmpeg read as a 12 s H.264 + AAC video
  const out = join(dir, 'play');
  execFileSync('mkdir', ['-p', out]);
  writeFileSync(join(out, 'v.mp4'), bytes);
  writeFileSync(join(out, 'v.m3u8'), hlsPlaylist(s, 'v.mp4'));
  const probed = ffprobeJson(join(out, 'v.m3u8'));
  assert.ok(Math.abs(Number(probed.format.duration) - 12) < 0.5, `ffprobe duration ${probed.format.duration}`);
  assert.equal(probed.streams.map((x) => x.codec_name).sort(), ['aac', 'h264']);
  execFileSync('ffmpeg', ['-v', 'error', '-protocol_whitelist', 'file', '-i', join(out, 'v.m3u8'), '-f', 'null', '-'],
    { timeout: 60_000 });
  // what a player needs: which chunks a segment spans, which segment plays at a time
  const mid = s.segments[3]!;
  const { first, last } = chunksOfRange(m.chunkSize, mid.offset, mid.length);
  assert.ok(first <= last && last < m.chunks.length);
  assert.is(segmentAtOffset(s, mid.offset + 1), 3);
  assert.is(segmentAtOffset(s, 0), -1, 'the init segment is no media segment');
  assert.is(segmentAtTime(s, 0), 0);
  assert.is(segmentAtTime(s, 1e9), s.segments.length - 1);
});

test('other codecs are re-encoded to H.264 + AAC with keyframes at segment boundaries', async () => {
  const src = makeTestVideo(dir, { seconds: 8, codec: 'mpeg4', gop: 250, name: 'old.avi' });
  const r = await ingestFile({ path: src, segmentSec: 2 }, components);
  const s = r.manifest.stream;
  assert.ok(s, 'streamable after re-encoding');
  assert.is(r.manifest.name, 'old.mp4');
  assert.ok(s!.segments.length >= 3, `the rare keyframes of the source do not make one long segment (${s!.segments.length})`);
  assert.ok(s!.targetDurationSec <= 3);
  assert.equal(r.manifest.media?.video?.codec, 'h264');
  assert.equal(r.manifest.media?.audio?.codec, 'aac');
});

test('input ffmpeg cannot package is stored as the plain file, with a warning', async () => {
  const src = makeTestVideo(dir, { seconds: 3, codec: 'h264', name: 'plain.mp4' });
  const r = await ingestFile({ path: src, ffmpeg: '/bin/false' }, components);
  assert.is(r.manifest.stream, undefined);
  assert.ok(r.warnings.some((w) => w.includes('could not package it for streaming')), r.warnings.join('; '));
  assert.ok((await storedBytes(r.manifest)).equals(readFileSync(src)), 'the original bytes are delivered');
  // a file that is no video at all is stored plain too, and `stream: false` opts out of packaging
  const junk = join(dir, 'junk.bin');
  writeFileSync(junk, Buffer.from('not a video, just bytes\n'.repeat(100)));
  const j = await ingestFile({ path: junk }, components);
  assert.is(j.manifest.stream, undefined);
  assert.ok(j.warnings.some((w) => w.includes('not recognised as a video')));
  const off = await ingestFile({ path: src, stream: false }, components);
  assert.is(off.manifest.stream, undefined);
  assert.equal(off.warnings, []);
});

test('the segment table is bound into the root hash: an edited table is refused', async () => {
  const m = published.find((x) => x.stream)!;
  const edited: Manifest = JSON.parse(JSON.stringify(m));
  edited.stream!.segments[1]!.durationSec += 1;
  edited.stream!.targetDurationSec += 1;
  assert.throws(() => checkManifest(edited), (e: Error) => e instanceof BadManifestError);
  // consistent ranges are required even before the root is compared
  const gap: Manifest = JSON.parse(JSON.stringify(m));
  gap.stream!.segments[2]!.offset += 1;
  assert.throws(() => checkManifest(gap), (e: Error) => /does not follow/.test(e.message));
  // a manifest without a stream hashes as before streaming existed
  assert.is(computeRootHash(m.size, m.chunkSize, m.chunks), computeRootHash(m.size, m.chunkSize, m.chunks, undefined));
  assert.is.not(computeRootHash(m.size, m.chunkSize, m.chunks), m.rootHash);
});

test('the derived playlist parses back to the same table', () => {
  const m = published.find((x) => x.stream)!;
  const back = parseSingleFilePlaylist(hlsPlaylist(m.stream!, 'x.mp4'));
  assert.equal(back.init, m.stream!.init);
  assert.equal(back.segments, m.stream!.segments);
  assert.throws(() => parseSingleFilePlaylist('#EXTM3U\n#EXTINF:2,\nx.mp4\n'), /init segment|duration|range/);
});

test.after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test.run();
