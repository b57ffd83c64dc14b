/**
 * Streamable videos: ingest packages a video as HLS with CMAF (fragmented MP4) segments in ONE file (init segment
 * first, then the media segments back to back), and the manifest records where each segment lies in it. Chunks
 * stay fixed-size byte ranges of that file, so the swarm, the stores and every chunk check are unchanged; a
 * player asks for a segment, and the segment's byte range says which chunks it needs. The playlist is derived
 * from the manifest (never stored), and the segment table is bound into the root hash (manifest.ts), so a peer
 * that checked the root trusts the table as much as the chunk list.
 */
import { Type, type Static } from '@sinclair/typebox';

/** Most segments one manifest may list (2 s segments: 55 hours). */
export const MAX_SEGMENTS = 100_000;

export const ByteRange = Type.Object({
  offset: Type.Integer({ minimum: 0 }),
  length: Type.Integer({ minimum: 1 }),
});
export type ByteRange = Static<typeof ByteRange>;

export const StreamSegment = Type.Object({
  offset: Type.Integer({ minimum: 0 }),
  length: Type.Integer({ minimum: 1 }),
  /** presentation duration in seconds (the EXTINF value) */
  durationSec: Type.Number({ exclusiveMinimum: 0, maximum: 3600 }),
});
export type StreamSegment = Static<typeof StreamSegment>;

export const StreamInfo = Type.Object({
  /** the only packaging today: HLS media playlist over one fragmented-MP4 file with byte ranges */
  format: Type.Literal('hls-cmaf'),
  /** `#EXT-X-TARGETDURATION`: the longest segment, rounded up */
  targetDurationSec: Type.Integer({ minimum: 1, maximum: 3600 }),
  /** the init segment (ftyp + moov) */
  init: ByteRange,
  segments: Type.Array(StreamSegment, { minItems: 1, maxItems: MAX_SEGMENTS }),
  /** RFC 6381 codecs (`avc1.64001f,mp4a.40.2`) when known; a player may use it to pick a decoder early */
  codecs: Type.Optional(Type.String({ maxLength: 128, pattern: '^[A-Za-z0-9.,_-]*$' })),
});
export type StreamInfo = Static<typeof StreamInfo>;

/**
 * What a schema cannot check: init first, segments contiguous after it in order, the last one ending exactly at
 * the end of the file, and the target duration covering every segment. Returns a reason, or null.
 */
export function streamInconsistency(s: StreamInfo, size: number): string | null {
  if (s.init.offset !== 0) return 'init segment does not start the file';
  let end = s.init.offset + s.init.length;
  for (let i = 0; i < s.segments.length; i++) {
    const seg = s.segments[i]!;
    if (seg.offset !== end) return `segment ${i} does not follow the previous one`;
    if (seg.durationSec > s.targetDurationSec + 0.5) return `segment ${i} is longer than the target duration`;
    end = seg.offset + seg.length;
  }
  if (end !== size) return 'segments do not end at the end of the file';
  return null;
}

/**
 * The stream's lines in the root-hash text (manifest.ts): every field that a player or a peer acts on. Numbers
 * are written as JavaScript prints them, which round-trips exactly through JSON.
 */
export function streamRootText(s: StreamInfo): string {
  let t = `stream ${s.format} ${s.targetDurationSec} ${s.codecs ?? '-'}\ninit ${s.init.offset} ${s.init.length}\n`;
  for (const seg of s.segments) t += `seg ${seg.offset} ${seg.length} ${seg.durationSec}\n`;
  return t;
}

/** Chunk indexes `[first, last]` covering bytes `[offset, offset + length)` for chunks of `chunkSize`. */
export function chunksOfRange(chunkSize: number, offset: number, length: number): { first: number; last: number } {
  return { first: Math.floor(offset / chunkSize), last: Math.floor((offset + Math.max(1, length) - 1) / chunkSize) };
}

/** Start time (seconds) of each segment. */
export function segmentStarts(s: StreamInfo): number[] {
  const out: number[] = [];
  let t = 0;
  for (const seg of s.segments) {
    out.push(t);
    t += seg.durationSec;
  }
  return out;
}

/** Total presentation duration in seconds. */
export function streamDuration(s: StreamInfo): number {
  let t = 0;
  for (const seg of s.segments) t += seg.durationSec;
  return t;
}

/** Index of the segment playing at `timeSec` (clamped to the stream). */
export function segmentAtTime(s: StreamInfo, timeSec: number): number {
  let t = 0;
  for (let i = 0; i < s.segments.length; i++) {
    t += s.segments[i]!.durationSec;
    if (timeSec < t) return i;
  }
  return s.segments.length - 1;
}

/** Index of the segment holding byte `offset`, or -1 (the init segment, or past the end). */
export function segmentAtOffset(s: StreamInfo, offset: number): number {
  let lo = 0;
  let hi = s.segments.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const seg = s.segments[mid]!;
    if (offset < seg.offset) hi = mid - 1;
    else if (offset >= seg.offset + seg.length) lo = mid + 1;
    else return mid;
  }
  return -1;
}

/**
 * The HLS media playlist (VOD) for a stream: every segment, and the init segment as `EXT-X-MAP`, is a byte range
 * of the one file at `uri`. Players that read byte-range playlists (hls.js, ffmpeg, mpv, VLC, Safari) need
 * nothing else.
 */
export function hlsPlaylist(s: StreamInfo, uri: string): string {
  const quoted = uri.replace(/"/g, '%22');
  const lines = [
    '#EXTM3U',
    '#EXT-X-VERSION:7',
    `#EXT-X-TARGETDURATION:${s.targetDurationSec}`,
    '#EXT-X-MEDIA-SEQUENCE:0',
    '#EXT-X-PLAYLIST-TYPE:VOD',
    '#EXT-X-INDEPENDENT-SEGMENTS',
    `#EXT-X-MAP:URI="${quoted}",BYTERANGE="${s.init.length}@${s.init.offset}"`,
  ];
  for (const seg of s.segments) {
    lines.push(`#EXTINF:${seg.durationSec.toFixed(6)},`, `#EXT-X-BYTERANGE:${seg.length}@${seg.offset}`, uri);
  }
  lines.push('#EXT-X-ENDLIST', '');
  return lines.join('\n');
}
