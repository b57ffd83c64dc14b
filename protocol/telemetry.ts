/**
 * Client telemetry: each client publishes its status a few times a second on `sy.telemetry.<video>.<peer>`.
 * The gateway's dashboard, the demo's terminal view and the benchmarks all read the same messages, so what a
 * person watches is what the benchmark measures.
 */
import { Type, type Static } from '@sinclair/typebox';
import { decode, validate } from './codec.js';
import { TooLargeError } from './errors.js';
import { VideoId } from './manifest.js';
import { Bitfield64 } from './p2p.js';

const Id = Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' });
export const MAX_TELEMETRY_BYTES = 32 * 1024;

/** The download machine's phase, simplified for display. */
export const PeerModes = {
  opening: 'opening',
  server: 'server',
  p2p: 'p2p',
  resumeServer: 'resumeServer',
  assembling: 'assembling',
  complete: 'complete',
  failed: 'failed',
  cancelled: 'cancelled',
  /** download done (or not downloading), still serving the swarm */
  seeding: 'seeding',
} as const;
export type PeerMode = (typeof PeerModes)[keyof typeof PeerModes];

/** Most link set-up times one status carries (the newest). */
export const MAX_REPORTED_SETUPS = 32;

/**
 * Peer-link figures a client may add to its status (optional: older clients send none and still validate). The
 * gateway turns them into a set-up time histogram: `opened` only grows, so a receiver that remembers the last
 * `opened` it saw from this peer knows how many of `recentMs` are new.
 */
export const LinkReport = Type.Object({
  /** links this client has seen open so far */
  opened: Type.Integer({ minimum: 0 }),
  /** set-up time (ms, signalling to open data channel) of the newest opened links, oldest first */
  recentMs: Type.Array(Type.Number({ minimum: 0 }), { maxItems: MAX_REPORTED_SETUPS }),
  /** peers this client banned (a chunk that failed its hash) */
  banned: Type.Integer({ minimum: 0 }),
}, { additionalProperties: false });
export type LinkReport = Static<typeof LinkReport>;

export const PeerStatus = Type.Object({
  peerId: Id,
  videoId: VideoId,
  mode: Type.Union(Object.values(PeerModes).map((m) => Type.Literal(m))),
  /** full machine state, e.g. `active.p2p` */
  state: Type.String({ maxLength: 64 }),
  chunkCount: Type.Integer({ minimum: 1, maximum: 65536 }),
  haveCount: Type.Integer({ minimum: 0 }),
  bitfield: Bitfield64,
  /** bytes received, by source: `origin` or `peer:<id>` */
  bytesBySource: Type.Record(Type.String({ maxLength: 80 }), Type.Number({ minimum: 0 })),
  uploadedBytes: Type.Number({ minimum: 0 }),
  /** wait-list position while denied */
  position: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
  /** open links to other peers */
  links: Type.Integer({ minimum: 0 }),
  startedAt: Type.Number(),
  /** when the download completed (ms since epoch), null while running */
  doneAt: Type.Union([Type.Number(), Type.Null()]),
  at: Type.Number(),
  /** link set-up times and bans (optional) */
  linkReport: Type.Optional(LinkReport),
}, { additionalProperties: false });
export type PeerStatus = Static<typeof PeerStatus>;

/**
 * A live viewer's status (issue 9), on the same subject scheme: `sy.telemetry.<streamId>.<peerId>`, told apart from
 * a VOD PeerStatus by `kind: 'live'` (a PeerStatus has no `kind`). What its playhead shows (state, segment on
 * screen, latency behind the live edge), what it verified, and its bytes by source. Small and fixed in shape.
 */
export const MAX_LIVE_TELEMETRY_BYTES = 4 * 1024;
export const LivePlayheadStates = { joining: 'joining', playing: 'playing', stalled: 'stalled', ended: 'ended' } as const;
export type LivePlayheadState = (typeof LivePlayheadStates)[keyof typeof LivePlayheadStates];
const Count = Type.Integer({ minimum: 0 });
const Bytes = Type.Number({ minimum: 0 });

export const LiveViewerStatus = Type.Object({
  kind: Type.Literal('live'),
  peerId: Id,
  streamId: VideoId,
  /** the playhead's state */
  state: Type.Union(Object.values(LivePlayheadStates).map((s) => Type.Literal(s))),
  /** the segment on screen (null before playing) */
  seq: Type.Union([Count, Type.Null()]),
  /** now − capture time of the frame on screen, ms (null before playing) */
  latencyMs: Type.Union([Type.Number(), Type.Null()]),
  verified: Count,
  corrupt: Count,
  stalls: Count,
  stalledMs: Bytes,
  skips: Count,
  /** bytes received, by source: the origin's slot, the origin's urgent share, peers */
  bytesBySource: Type.Object({ origin: Bytes, urgent: Bytes, peer: Bytes }, { additionalProperties: false }),
  uploadedBytes: Bytes,
  /** open links to other peers */
  links: Count,
  /** holds an origin slot */
  admitted: Type.Boolean(),
  startedAt: Type.Number(),
  at: Type.Number(),
}, { additionalProperties: false });
export type LiveViewerStatus = Static<typeof LiveViewerStatus>;

/** Anything on `sy.telemetry.*.*`. */
export type TelemetryStatus = PeerStatus | LiveViewerStatus;
export const isLiveViewerStatus = (s: TelemetryStatus): s is LiveViewerStatus => 'kind' in s && s.kind === 'live';

const TelemetryKind = Type.Object({ kind: Type.Optional(Type.Unknown()) });

/**
 * One telemetry message: size first (a live status is held to its own smaller limit), then JSON, then the schema
 * its `kind` names. Throws BadRequestError/TooLargeError.
 */
export function decodeTelemetry(data: Uint8Array): TelemetryStatus {
  const value = decode(TelemetryKind, data, { maxBytes: MAX_TELEMETRY_BYTES, what: 'telemetry' });
  if (value.kind === undefined) return validate(PeerStatus, value, 'telemetry');
  if (data.byteLength > MAX_LIVE_TELEMETRY_BYTES) {
    throw new TooLargeError(`live telemetry of ${data.byteLength} bytes exceeds ${MAX_LIVE_TELEMETRY_BYTES}`);
  }
  return validate(LiveViewerStatus, value, 'live telemetry');
}
