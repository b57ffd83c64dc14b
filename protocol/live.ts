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
import { Sha256Hex, VideoId } from './manifest.js';

/** Largest live segment: a few seconds of a high bit rate. */
export const MAX_LIVE_SEGMENT_BYTES = 16 * 1024 * 1024;
/** Longest window a viewer can be handed at once (2 h of 1 s segments). */
export const MAX_LIVE_WINDOW_SEGMENTS = 7200;

export const LiveSegment = Type.Object({
  streamId: VideoId,
  /** 0, 1, 2, … in production order, without gaps */
  seq: Type.Integer({ minimum: 0 }),
  sha256: Sha256Hex,
  length: Type.Integer({ minimum: 1, maximum: MAX_LIVE_SEGMENT_BYTES }),
  durationSec: Type.Number({ exclusiveMinimum: 0, maximum: 30 }),
  /** ms since the epoch when the packager had it complete (latency is measured from here) */
  producedAt: Type.Integer({ minimum: 0 }),
});
export type LiveSegment = Static<typeof LiveSegment>;

export const LiveWindow = Type.Object({
  streamId: VideoId,
  /** the init segment (codecs, timescale): every viewer needs it first */
  init: Type.Object({ sha256: Sha256Hex, length: Type.Integer({ minimum: 1, maximum: MAX_LIVE_SEGMENT_BYTES }) }),
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
  const segments = [...w.segments, seg];
  let covered = segments.reduce((t, s) => t + s.durationSec, 0);
  let drop = 0;
  while (segments.length - drop > 1 && covered - segments[drop]!.durationSec >= w.dvrSec) {
    covered -= segments[drop]!.durationSec;
    drop++;
  }
  return { ...w, segments: drop > 0 ? segments.slice(drop) : segments };
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
