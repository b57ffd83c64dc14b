/**
 * ffprobe wrapper: tells whether a file is a playable video and what it is. A file ffprobe cannot read is still
 * ingested (as a plain file) by the caller; this only reports.
 */
import { execFile } from 'node:child_process';
import type { MediaInfo } from '../../protocol/mod.js';

export interface ProbeResult {
  media: MediaInfo | null;
  mime: string;
  /** why the file is not treated as a video, when it is not */
  problem: string | null;
}

interface FfprobeJson {
  format?: { format_name?: string; duration?: string; bit_rate?: string };
  streams?: Array<{ codec_type?: string; codec_name?: string; width?: number; height?: number }>;
}

/** Demuxers that make a "video" of anything (text, pictures, generators). */
const NOT_VIDEO_FORMATS = ['tty', 'bin', 'image2', 'lavfi', 'idf', 'xbin', 'adf'];
/** Codecs of such pseudo-videos. */
const NOT_VIDEO_CODECS = ['ansi', 'bintext', 'xbin', 'idf', 'png', 'bmp'];

function mimeFor(format: string, videoCodec: string | undefined): string {
  const f = format.split(',');
  if (f.includes('mp4') || f.includes('mov')) return 'video/mp4';
  if (f.includes('webm') || f.includes('matroska')) {
    return videoCodec && ['vp8', 'vp9', 'av1'].includes(videoCodec) ? 'video/webm' : 'video/x-matroska';
  }
  if (f.includes('mpegts')) return 'video/mp2t';
  if (f.includes('avi')) return 'video/x-msvideo';
  if (f.includes('ogg')) return 'video/ogg';
  if (f.includes('flv')) return 'video/x-flv';
  return 'application/octet-stream';
}

export function probe(path: string, opts: { timeoutMs?: number; binary?: string } = {}): Promise<ProbeResult> {
  // File protocol only: a staged "video" may be a playlist or a concat list naming http://, tcp:// or other
  // URLs, and ffprobe would otherwise fetch them from the worker's network position (SSRF). The `file:` prefix
  // keeps a name that looks like a URL or an option from being read as one.
  const args = ['-v', 'error', '-protocol_whitelist', 'file', '-print_format', 'json', '-show_format', '-show_streams',
    `file:${path}`];
  return new Promise((resolve) => {
    execFile(opts.binary ?? 'ffprobe', args, { timeout: opts.timeoutMs ?? 30000, maxBuffer: 8 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const plain = (problem: string): ProbeResult => ({ media: null, mime: 'application/octet-stream', problem });
        if (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return resolve(plain('ffprobe is not installed'));
          return resolve(plain(`ffprobe could not read it (${String(stderr || err.message).trim().split('\n')[0]})`));
        }
        let j: FfprobeJson;
        try {
          j = JSON.parse(stdout) as FfprobeJson;
        } catch {
          return resolve(plain('ffprobe printed no usable description'));
        }
        const v = j.streams?.find((s) => s.codec_type === 'video');
        const a = j.streams?.find((s) => s.codec_type === 'audio');
        const format = j.format?.format_name ?? '';
        if (!v && !a) return resolve(plain(`ffprobe found no audio or video streams (format ${format || 'unknown'})`));
        // ffprobe reads nearly anything as something: text as a `tty`/`bin` "video" of characters, a picture as
        // one frame; none of them is a video a player should be handed
        if (NOT_VIDEO_FORMATS.some((f) => format.split(',').includes(f)) || format.endsWith('_pipe') ||
          (v && !a && NOT_VIDEO_CODECS.includes(v.codec_name ?? ''))) {
          return resolve(plain(`ffprobe reads it as ${format || 'unknown'} (${v?.codec_name ?? a?.codec_name}), not a video`));
        }
        const media: MediaInfo = { format };
        const dur = Number(j.format?.duration);
        if (Number.isFinite(dur)) media.durationSec = dur;
        const br = Number(j.format?.bit_rate);
        if (Number.isFinite(br)) media.bitRate = br;
        if (v) media.video = { codec: v.codec_name ?? 'unknown', width: v.width ?? 0, height: v.height ?? 0 };
        if (a) media.audio = { codec: a.codec_name ?? 'unknown' };
        resolve({ media, mime: mimeFor(format, v?.codec_name), problem: null });
      });
  });
}
