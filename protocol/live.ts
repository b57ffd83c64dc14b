/**
 * Live streams (issue 9): the manifest growing at its edge (design brief §8). A live packager cuts the source into
 * CMAF segments of about a second and announces each the moment it is complete, hashed and stored
 * (`Subjects.live(id, 'segment')`); the stream's window is the init segment plus the segments of the last
 * `dvrSec` seconds. Trust does not come from a signature but from who may publish: only the packager (an ingest
 * service) may announce on those subjects (protocol/permissions.ts), so a viewer that got a segment's bytes from
 * another peer checks them against the hash it heard from NATS, exactly as it checks a VOD chunk against its
 * manifest. The end of the stream is announced too, naming the ordinary video the recording became.
 *
 * Pure: the window's rules (order, sliding, lookup); hashing stays at the edges.
 */
import { Type, type Static } from '@sinclair/typebox';
import { BadRequestError } from './errors.js';
import { MAX_CHUNK_SIZE, Sha256Hex, VideoId } from './manifest.js';

/** Largest live segment (a peer relays a segment as one chunk of the wire): 1 s of 32 Mbit/s. */
export const MAX_LIVE_SEGMENT_BYTES = MAX_CHUNK_SIZE;
/** Largest init segment: it travels inside the window record (base64), so it stays small. */
export const MAX_LIVE_INIT_BYTES = 64 * 1024;
/**
 * The swarm's index space for a live stream: a segment's wire index is its `seq`, so peers agree on indexes
 * without agreeing on a window. 16,384 one-second segments is 4.5 hours; the packager ends a stream there (the
 * recording becomes a video and a new stream can start). Bitfields of this size are 2 KiB.
 */
export const LIVE_INDEX_SPACE = 16384;
/**
 * Parts per segment on the wire. A viewer relays a part as soon as it verified it (against the part hashes in the
 * announcement), so a segment crosses several hops of the swarm in little more than one part's time per hop
 * instead of one segment's: the pipelining that keeps the swarm useful a second or two behind the edge.
 */
export const LIVE_PARTS = 4;
/** The swarm's index space for a live stream: part `k` of segment `seq` is index `seq * LIVE_PARTS + k`. */
export const LIVE_CHUNK_SPACE = LIVE_INDEX_SPACE * LIVE_PARTS;
export const liveIndex = (seq: number, part: number): number => seq * LIVE_PARTS + part;
/** The byte range of part `k` of a segment of `length` bytes (the last part may be shorter). */
export function livePartRange(length: number, k: number): { offset: number; length: number } {
  const size = Math.ceil(length / LIVE_PARTS);
  const offset = Math.min(length, k * size);
  return { offset, length: Math.max(0, Math.min(size, length - offset)) };
}
/** Longest window a viewer can be handed at once (2 h of 1 s segments). */
export const MAX_LIVE_WINDOW_SEGMENTS = 7200;

export const LiveSegment = Type.Object({
  streamId: VideoId,
  /** 0, 1, 2, … in production order, without gaps */
  seq: Type.Integer({ minimum: 0 }),
  sha256: Sha256Hex,
  length: Type.Integer({ minimum: 64, maximum: MAX_LIVE_SEGMENT_BYTES }),
  /** SHA-256 of each of the LIVE_PARTS parts (livePartRange), so a part can be checked and relayed on its own */
  parts: Type.Array(Sha256Hex, { minItems: LIVE_PARTS, maxItems: LIVE_PARTS }),
  durationSec: Type.Number({ exclusiveMinimum: 0, maximum: 30 }),
  /** ms since the epoch when the packager had it complete (latency is measured from here) */
  producedAt: Type.Integer({ minimum: 0 }),
});
export type LiveSegment = Static<typeof LiveSegment>;

export const LiveWindow = Type.Object({
  streamId: VideoId,
  /**
   * what two peers of this run of the stream agree on in their handshake (a stream restarted under the same id
   * gets a new one, so old segments never mix with new ones)
   */
  rootHash: Sha256Hex,
  /** the init segment (codecs, timescale): every viewer needs it first; its bytes ride in the window (`initData`) */
  init: Type.Object({ sha256: Sha256Hex, length: Type.Integer({ minimum: 1, maximum: MAX_LIVE_INIT_BYTES }) }),
  /** the init segment, base64 (checked against `init.sha256` by the viewer) */
  initData: Type.String({ maxLength: Math.ceil(MAX_LIVE_INIT_BYTES / 3) * 4 }),
  /** RFC 6381 codecs of the stream, for players (`avc1.64001f,mp4a.40.2`) */
  codecs: Type.Optional(Type.String({ maxLength: 200 })),
  /** the packager's target segment duration, seconds */
  segmentSec: Type.Number({ exclusiveMinimum: 0, maximum: 30 }),
  /** ms since the epoch when the stream started */
  startedAt: Type.Integer({ minimum: 0 }),
  /** bytes of every segment produced so far (budgets; the origin's egress per stream byte) */
  producedBytes: Type.Integer({ minimum: 0 }),
  /** seconds of segments kept behind the edge (the DVR length) */
  dvrSec: Type.Number({ exclusiveMinimum: 0, maximum: 7200 }),
  segments: Type.Array(LiveSegment, { maxItems: MAX_LIVE_WINDOW_SEGMENTS }),
  /** set once the stream ended; `videoId` is the ordinary video the recording became, when it is ready */
  ended: Type.Optional(Type.Object({ videoId: Type.Optional(VideoId) })),
});
export type LiveWindow = Static<typeof LiveWindow>;

/**
 * The window after segment `seg`: appended at the edge (its `seq` must follow the last one, or start the window),
 * then the oldest segments dropped while the rest still cover `dvrSec` (the newest segment always stays).
 * A segment out of order, of another stream or after the end is refused (BadRequestError): the packager numbers
 * them, so a gap means a bug or a forgery, never something to paper over.
 */
export function appendSegment(w: LiveWindow, seg: LiveSegment): LiveWindow {
  if (seg.streamId !== w.streamId) throw new BadRequestError(`segment of ${seg.streamId} offered to ${w.streamId}`);
  if (w.ended) throw new BadRequestError(`${w.streamId} has ended`);
  const last = w.segments[w.segments.length - 1];
  if (last && seg.seq !== last.seq + 1) {
    throw new BadRequestError(`segment ${seg.seq} does not follow ${last.seq} in ${w.streamId}`);
  }
  if (seg.seq >= LIVE_INDEX_SPACE) throw new BadRequestError(`segment ${seg.seq} is past the live index space`);
  const segments = [...w.segments, seg];
  let covered = segments.reduce((t, s) => t + s.durationSec, 0);
  let drop = 0;
  while (segments.length - drop > 1 && covered - segments[drop]!.durationSec >= w.dvrSec) {
    covered -= segments[drop]!.durationSec;
    drop++;
  }
  return { ...w, producedBytes: w.producedBytes + seg.length, segments: drop > 0 ? segments.slice(drop) : segments };
}

/** The segment `seq` while it is in the window. */
export function segmentInWindow(w: LiveWindow, seq: number): LiveSegment | undefined {
  const first = w.segments[0];
  if (!first || !Number.isInteger(seq) || seq < first.seq) return undefined;
  return w.segments[seq - first.seq];
}

/** The newest segment's `seq` (the live edge), or null before the first one. */
export function liveEdge(w: LiveWindow): number | null {
  const last = w.segments[w.segments.length - 1];
  return last ? last.seq : null;
}

/** A viewer's request for a stream's window (the stream is the subject's token; the body is empty). */
export const LiveWindowRequest = Type.Object({}, { additionalProperties: false });
export const LiveWindowReply = Type.Object({ window: LiveWindow });
export type LiveWindowReply = Static<typeof LiveWindowReply>;
/** The end announcement: the last segment, and the video the recording became when it is ready. */
export const LiveEnd = Type.Object({
  streamId: VideoId,
  lastSeq: Type.Integer({ minimum: -1 }),
  videoId: Type.Optional(VideoId),
});
export type LiveEnd = Static<typeof LiveEnd>;

/**
 * Latency modes an operator picks per stream or a viewer per session: how far behind the edge playback aims, how
 * long a viewer without an origin slot waits for a peer before it asks the origin's urgent share, and when it
 * gives up on catching up and skips to the edge.
 */
export const LiveModes = {
  /** closest to the edge: peers get less time, the origin's urgent share covers more */
  low: { targetLatencySec: 3, peerWaitMs: 600, maxLatencySec: 6 },
  default: { targetLatencySec: 5, peerWaitMs: 2500, maxLatencySec: 10 },
  /** a few seconds more behind the edge, nearly everything from peers */
  p2p: { targetLatencySec: 8, peerWaitMs: 5000, maxLatencySec: 14 },
} as const;
export type LiveModeName = keyof typeof LiveModes;
export interface LiveMode {
  /** seconds behind the newest segment's end that playback aims for */
  targetLatencySec: number;
  /** ms after a segment is announced before a viewer without a slot asks the origin (urgent share) for it */
  peerWaitMs: number;
  /** behind the edge by more than this, playback skips ahead to the target */
  maxLatencySec: number;
}
export const isLiveModeName = (s: string): s is LiveModeName => Object.hasOwn(LiveModes, s);

/** Total duration of the window's segments, seconds. */
export function windowDurationSec(w: Pick<LiveWindow, 'segments'>): number {
  return w.segments.reduce((t, s) => t + s.durationSec, 0);
}

/**
 * A live HLS media playlist over consecutive segments (no `PLAYLIST-TYPE`, so players treat it as live and
 * reload it; `ENDLIST` once the stream ended). `segmentUri(seq)` names each segment, `initUri` the init segment.
 */
export function liveHlsPlaylist(segments: ReadonlyArray<Pick<LiveSegment, 'seq' | 'durationSec'>>,
  opts: { initUri: string; segmentUri(seq: number): string; targetDurationSec: number; ended: boolean }): string {
  const first = segments[0]?.seq ?? 0;
  const target = Math.max(1, Math.ceil(Math.max(opts.targetDurationSec, ...segments.map((s) => s.durationSec))));
  const lines = ['#EXTM3U', '#EXT-X-VERSION:7', `#EXT-X-TARGETDURATION:${target}`, `#EXT-X-MEDIA-SEQUENCE:${first}`,
    '#EXT-X-INDEPENDENT-SEGMENTS', `#EXT-X-MAP:URI="${opts.initUri.replace(/"/g, '%22')}"`];
  let expect = first;
  for (const s of segments) {
    if (s.seq !== expect) lines.push('#EXT-X-DISCONTINUITY');
    lines.push(`#EXTINF:${s.durationSec.toFixed(6)},`, opts.segmentUri(s.seq));
    expect = s.seq + 1;
  }
  if (opts.ended) lines.push('#EXT-X-ENDLIST');
  lines.push('');
  return lines.join('\n');
}
