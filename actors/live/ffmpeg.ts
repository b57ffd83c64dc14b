/**
 * How the live packager drives Debian's ffmpeg: the input (a file played in real time, a test pattern, a network
 * listener, a capture device), one encoding with a keyframe at every segment boundary (so every segment starts
 * playable and can be relayed alone), and HLS/CMAF output with each segment renamed into place only when
 * complete (`temp_file`): the packager's watcher never sees half a segment under its final name.
 */
import { join } from 'node:path';

/** What `switchyard live <input>` accepts. */
export type LiveInput =
  | { kind: 'testsrc' }
  | { kind: 'file'; path: string; loop: boolean }
  | { kind: 'url'; url: string }
  | { kind: 'device'; path: string };

export interface LiveEncoding {
  /** seconds per segment (a keyframe every segment) */
  segmentSec: number;
  /** video bit rate, bits/s (held near constant: `maxrate` = `b:v`) */
  videoBitrate: number;
  /** audio bit rate, bits/s; 0 for no audio */
  audioBitrate: number;
  width: number;
  height: number;
  fps: number;
  /** stop after this many seconds of input (tests, benchmarks); default: until the input ends or stop() */
  durationSec?: number;
}

export const LIVE_ENCODING_DEFAULTS: LiveEncoding = {
  segmentSec: 1, videoBitrate: 800_000, audioBitrate: 64_000, width: 640, height: 360, fps: 25,
};

/** Segment file names: `seg00000.m4s`, … (the number is the segment's `seq`). */
export const SEGMENT_FILE = /^seg(\d{5})\.m4s$/;
export const segmentFile = (seq: number) => `seg${String(seq).padStart(5, '0')}.m4s`;
export const INIT_FILE = 'init.mp4';
export const PLAYLIST_FILE = 'live.m3u8';

const NETWORK = /^(rtmp|srt|udp|rtp|tcp):\/\//;

/** `testsrc`, a network URL (rtmp://, srt://, udp://, …), a device under /dev, or a media file (`loop:` prefix loops it). */
export function parseLiveInput(s: string): LiveInput {
  if (s === 'testsrc') return { kind: 'testsrc' };
  if (NETWORK.test(s)) return { kind: 'url', url: s };
  if (s.startsWith('/dev/')) return { kind: 'device', path: s };
  if (s.startsWith('loop:')) return { kind: 'file', path: s.slice(5), loop: true };
  return { kind: 'file', path: s, loop: false };
}

function inputArgs(input: LiveInput, e: LiveEncoding): { args: string[]; hasAudio: boolean } {
  switch (input.kind) {
    case 'testsrc': {
      const video = ['-re', '-f', 'lavfi', '-i', `testsrc2=size=${e.width}x${e.height}:rate=${e.fps}`];
      if (e.audioBitrate <= 0) return { args: video, hasAudio: false };
      return { args: [...video, '-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'], hasAudio: true };
    }
    case 'file':
      return { args: ['-protocol_whitelist', 'file', '-re', ...(input.loop ? ['-stream_loop', '-1'] : []), '-i', `file:${input.path}`],
        hasAudio: e.audioBitrate > 0 };
    case 'url':
      // a listener: the encoder pushes to us (RTMP needs `-listen 1`; SRT/UDP listen by URL options)
      return { args: ['-protocol_whitelist', 'rtmp,srt,udp,rtp,tcp', ...(input.url.startsWith('rtmp:') ? ['-listen', '1'] : []),
        '-i', input.url], hasAudio: e.audioBitrate > 0 };
    case 'device':
      return { args: ['-f', 'v4l2', '-i', input.path], hasAudio: false };
  }
}

/** ffmpeg's arguments for packaging `input` into `dir` (init.mp4, seg%05d.m4s, live.m3u8). */
export function liveFfmpegArgs(input: LiveInput, dir: string, e: LiveEncoding): { args: string[]; hasAudio: boolean } {
  const { args: inArgs, hasAudio } = inputArgs(input, e);
  const args = ['-v', 'error', '-nostdin', '-y', ...inArgs];
  if (e.durationSec) args.push('-t', String(e.durationSec));
  args.push('-map', '0:v:0');
  if (hasAudio) args.push('-map', input.kind === 'testsrc' ? '1:a:0' : '0:a:0?');
  const gop = Math.max(1, Math.round(e.fps * e.segmentSec));
  args.push('-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-profile:v', 'main', '-pix_fmt', 'yuv420p',
    '-vf', `scale=${e.width}:${e.height},fps=${e.fps}`,
    '-b:v', String(e.videoBitrate), '-maxrate', String(e.videoBitrate), '-bufsize', String(Math.round(e.videoBitrate * e.segmentSec)),
    '-g', String(gop), '-keyint_min', String(gop), '-sc_threshold', '0',
    '-force_key_frames', `expr:gte(t,n_forced*${e.segmentSec})`);
  if (hasAudio) args.push('-c:a', 'aac', '-b:a', String(e.audioBitrate), '-ac', '2', '-ar', '48000');
  args.push('-f', 'hls', '-hls_time', String(e.segmentSec), '-hls_list_size', '10', '-hls_segment_type', 'fmp4',
    '-hls_flags', 'independent_segments+temp_file', '-hls_fmp4_init_filename', INIT_FILE,
    '-hls_segment_filename', join(dir, 'seg%05d.m4s'), join(dir, PLAYLIST_FILE));
  return { args, hasAudio };
}

/**
 * Durations by segment file name from ffmpeg's (sliding) live playlist; `ended` once it wrote `#EXT-X-ENDLIST`.
 * A playlist caught half-written yields what it has so far (an EXTINF without its URI line is left for later).
 */
export function parseLivePlaylist(text: string): { durations: Map<string, number>; ended: boolean } {
  const durations = new Map<string, number>();
  let pending: number | null = null;
  let ended = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#EXTINF:')) {
      const d = Number.parseFloat(line.slice(8));
      pending = Number.isFinite(d) && d > 0 ? d : null;
    } else if (line === '#EXT-X-ENDLIST') ended = true;
    else if (line && !line.startsWith('#') && pending !== null) {
      durations.set(line.split('/').pop()!, pending);
      pending = null;
    }
  }
  return { durations, ended };
}
