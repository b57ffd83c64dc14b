/**
 * Test videos made with Debian's ffmpeg from lavfi generators (no files shipped): a moving test pattern and a
 * tone, so a player has real frames and audio to decode.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Manifest } from '../../protocol/mod.js';
import type { ChunkStore } from '../../store/mod.js';

export interface TestVideoOptions {
  seconds?: number;
  /** `h264` (+ AAC audio: what browsers play, packaged by stream copy) or `mpeg4` (+ MP3: must be re-encoded) */
  codec?: 'h264' | 'mpeg4';
  audio?: boolean;
  /** keyframe interval in frames (25 fps) */
  gop?: number;
  size?: string;
  /** container by extension: .mp4 (default), .mkv, .avi */
  name?: string;
  /** video bit rate, e.g. '400k' (default: the encoder's) */
  bitrate?: string;
}

/** Writes the video into `dir` and returns its path. */
export function makeTestVideo(dir: string, o: TestVideoOptions = {}): string {
  const seconds = o.seconds ?? 12;
  const codec = o.codec ?? 'h264';
  const path = join(dir, o.name ?? `test-${codec}.mp4`);
  const args = ['-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc=size=${o.size ?? '320x240'}:rate=25`];
  if (o.audio !== false) args.push('-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100');
  args.push('-t', String(seconds));
  if (codec === 'h264') args.push('-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p');
  else args.push('-c:v', 'mpeg4');
  args.push('-g', String(o.gop ?? 25));
  if (o.bitrate) args.push('-b:v', o.bitrate);
  if (o.audio !== false) args.push('-c:a', codec === 'h264' ? 'aac' : 'libmp3lame', '-b:a', '64k');
  args.push(path);
  execFileSync('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 120_000 });
  return path;
}

/**
 * SHA-256 of a video as the catalog published it, from the chunks in the store in manifest order. Ingest packages
 * videos for streaming, so this (not the uploaded file) is what a download must equal.
 */
export async function publishedSha256(store: ChunkStore, manifest: Manifest): Promise<string> {
  const h = createHash('sha256');
  for (const c of manifest.chunks) {
    const data = await store.get(c);
    if (!data) throw new Error(`chunk ${c} is missing from the store`);
    h.update(data);
  }
  return h.digest('hex');
}

/** The manifest the gateway serves for `videoId`. */
export async function fetchManifest(gatewayUrl: string, videoId: string): Promise<Manifest> {
  const r = await fetch(`${gatewayUrl}/videos/${videoId}/manifest`);
  if (!r.ok) throw new Error(`manifest of ${videoId}: HTTP ${r.status}`);
  return (await r.json()) as Manifest;
}
