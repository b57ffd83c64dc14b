/**
 * Packages a video for streaming: Debian's ffmpeg writes HLS with CMAF (fragmented MP4) segments into ONE file
 * (`-hls_flags single_file`: init segment, then the media segments back to back) plus a byte-range playlist,
 * which is parsed into the manifest's StreamInfo (protocol/stream.ts). One file keeps chunks, stores, the swarm
 * and every check exactly as they are for plain files; segments are just byte ranges of it.
 *
 * Streams are copied when the browser can decode them as they are (H.264 video, AAC audio), else re-encoded to
 * H.264 + AAC with a keyframe at every segment boundary. Copied video splits at its own keyframes, so a source
 * with rare keyframes gets long segments (the target duration says so); re-encoding is the price of short ones.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, open, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_SEGMENTS, streamInconsistency, type StreamInfo, type StreamSegment } from '../../protocol/mod.js';
import type { ProbeResult } from './probe.js';

/** Segment length ffmpeg aims for, in seconds: short enough to start fast, long enough to keep overhead low. */
export const DEFAULT_SEGMENT_SEC = 2;

export interface PackageOptions {
  segmentSec?: number;
  /** where the packaged file is written (a temp dir inside it; removed by `cleanup`) */
  workDir?: string;
  /** default 2 h: a long transcode is legitimate, a wedged ffmpeg is not */
  timeoutMs?: number;
  binary?: string;
  signal?: AbortSignal;
}

export interface Packaged {
  /** the fragmented MP4 holding init + segments */
  path: string;
  stream: StreamInfo;
  /** `copy` when no stream was re-encoded */
  mode: 'copy' | 'transcode';
  cleanup(): Promise<void>;
}

/** What to do with each stream of the probed input: copy what MSE plays as is, re-encode the rest. */
export function packagingPlan(p: ProbeResult): { video: 'copy' | 'encode'; audio: 'copy' | 'encode' | 'none' } {
  const v = p.media?.video?.codec;
  const a = p.media?.audio?.codec;
  return { video: v === 'h264' ? 'copy' : 'encode', audio: a === undefined ? 'none' : a === 'aac' ? 'copy' : 'encode' };
}

export function ffmpegArgs(input: string, dir: string, plan: ReturnType<typeof packagingPlan>, segmentSec: number): string[] {
  const args = ['-v', 'error', '-nostdin', '-y', '-protocol_whitelist', 'file', '-i', `file:${input}`,
    '-map', '0:v:0'];
  if (plan.audio !== 'none') args.push('-map', '0:a:0');
  if (plan.video === 'copy') args.push('-c:v', 'copy');
  else {
    args.push('-c:v', 'libx264', '-preset', 'veryfast', '-crf', '23', '-pix_fmt', 'yuv420p', '-sc_threshold', '0',
      '-force_key_frames', `expr:gte(t,n_forced*${segmentSec})`);
  }
  if (plan.audio === 'copy') args.push('-c:a', 'copy');
  else if (plan.audio === 'encode') args.push('-c:a', 'aac', '-b:a', '128k', '-ac', '2');
  args.push('-f', 'hls', '-hls_time', String(segmentSec), '-hls_playlist_type', 'vod', '-hls_segment_type', 'fmp4',
    '-hls_flags', 'single_file+independent_segments', '-hls_segment_filename', `file:${join(dir, 'media.mp4')}`,
    `file:${join(dir, 'media.m3u8')}`);
  return args;
}

/**
 * StreamInfo from ffmpeg's single-file playlist: `#EXT-X-MAP:…BYTERANGE="len@off"`, then `#EXTINF:d,` and
 * `#EXT-X-BYTERANGE:len@off` per segment. Throws on anything else it cannot account for.
 */
export function parseSingleFilePlaylist(text: string): Omit<StreamInfo, 'codecs'> {
  const range = (s: string) => {
    const m = /^(\d+)@(\d+)$/.exec(s.trim());
    if (!m) throw new Error(`bad byte range ${JSON.stringify(s)}`);
    return { length: Number(m[1]), offset: Number(m[2]) };
  };
  let init: { offset: number; length: number } | null = null;
  let target = 0;
  let duration: number | null = null;
  const segments: StreamSegment[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#EXT-X-TARGETDURATION:')) target = Number(line.slice(22));
    else if (line.startsWith('#EXT-X-MAP:')) {
      const m = /BYTERANGE="([^"]+)"/.exec(line);
      if (!m) throw new Error('init segment without a byte range');
      init = range(m[1]!);
    } else if (line.startsWith('#EXTINF:')) duration = Number(line.slice(8).split(',')[0]);
    else if (line.startsWith('#EXT-X-BYTERANGE:')) {
      if (duration === null || !(duration > 0)) throw new Error('segment without a duration');
      segments.push({ ...range(line.slice(17)), durationSec: Math.round(duration * 1e6) / 1e6 });
      duration = null;
    }
  }
  if (!init) throw new Error('no init segment');
  if (segments.length === 0) throw new Error('no segments');
  if (segments.length > MAX_SEGMENTS) throw new Error(`more than ${MAX_SEGMENTS} segments`);
  const longest = Math.max(...segments.map((s) => s.durationSec));
  return { format: 'hls-cmaf', targetDurationSec: Math.max(1, target, Math.ceil(longest)), init, segments };
}

/** RFC 6381 codecs from the init segment's `avcC` box (and AAC-LC when there is audio), or undefined. */
export function codecsOf(init: Uint8Array, hasAudio: boolean): string | undefined {
  const at = indexOfAscii(init, 'avcC');
  if (at < 0 || at + 8 > init.length) return undefined;
  const hex = (b: number) => b.toString(16).padStart(2, '0');
  const video = `avc1.${hex(init[at + 5]!)}${hex(init[at + 6]!)}${hex(init[at + 7]!)}`;
  return hasAudio ? `${video},mp4a.40.2` : video;
}

function indexOfAscii(buf: Uint8Array, s: string): number {
  outer: for (let i = 0; i + s.length <= buf.length; i++) {
    for (let k = 0; k < s.length; k++) if (buf[i + k] !== s.charCodeAt(k)) continue outer;
    return i;
  }
  return -1;
}

function run(binary: string, args: string[], timeoutMs: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(binary, args, { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024, ...(signal ? { signal } : {}) },
      (err, _stdout, stderr) => {
        if (!err) return resolve();
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return reject(new Error(`${binary} is not installed`));
        reject(new Error(String(stderr || err.message).trim().split('\n').slice(-1)[0] || 'ffmpeg failed'));
      });
  });
}

/** Packages `input` (already probed as a video); throws with ffmpeg's reason when it cannot. */
export async function packageForStreaming(input: string, probed: ProbeResult, opts: PackageOptions = {}): Promise<Packaged> {
  const segmentSec = opts.segmentSec ?? DEFAULT_SEGMENT_SEC;
  const dir = await mkdtemp(join(opts.workDir ?? tmpdir(), 'switchyard-hls-'));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  try {
    const plan = packagingPlan(probed);
    await run(opts.binary ?? 'ffmpeg', ffmpegArgs(input, dir, plan, segmentSec), opts.timeoutMs ?? 2 * 3600_000,
      opts.signal);
    const path = join(dir, 'media.mp4');
    const parsed = parseSingleFilePlaylist(await readFile(join(dir, 'media.m3u8'), 'utf8'));
    const { size } = await stat(path);
    const head = new Uint8Array(Math.min(parsed.init.length, 1024 * 1024));
    const fh = await open(path, 'r');
    try {
      await fh.read(head, 0, head.length, 0);
    } finally {
      await fh.close();
    }
    const codecs = codecsOf(head, plan.audio !== 'none');
    const stream: StreamInfo = { ...parsed, ...(codecs ? { codecs } : {}) };
    const why = streamInconsistency(stream, size);
    if (why) throw new Error(`ffmpeg's playlist does not describe its file: ${why}`);
    const mode = plan.video === 'copy' && plan.audio !== 'encode' ? 'copy' : 'transcode';
    return { path, stream, mode, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
