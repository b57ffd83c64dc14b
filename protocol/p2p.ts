/**
 * Messages of the P2P control plane (NATS): signalling relayed between peers, and the tracker's swarm
 * membership. The data plane (chunks between peers) is the binary wire format in wire.ts.
 */
import { Type, type Static } from '@sinclair/typebox';
import { VideoId } from './manifest.js';

const Id = Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' });

/** SDP bodies are small (a data-channel-only SDP is ~600 bytes); anything near this is hostile. */
export const MAX_SDP_BYTES = 16 * 1024;
export const MAX_CANDIDATE_BYTES = 1024;
export const MAX_SIGNAL_MESSAGE_BYTES = 24 * 1024;
/** A tracker message carries a bitfield: 65536 chunks = 8 KiB, 11 KiB in base64. */
export const MAX_TRACKER_MESSAGE_BYTES = 64 * 1024;

export const SignalKinds = {
  offer: 'offer',
  answer: 'answer',
  candidate: 'candidate',
  /** the sender gives up on this connection attempt */
  bye: 'bye',
} as const;
export type SignalKind = (typeof SignalKinds)[keyof typeof SignalKinds];

/**
 * What a peer sends (on `sy.signal.<self>.<to>`). `connId` names one connection attempt, so late messages of an
 * abandoned attempt are recognisable; `videoId` says which swarm the connection is for.
 */
export const SignalMessage = Type.Object({
  connId: Id,
  videoId: VideoId,
  kind: Type.Union(Object.values(SignalKinds).map((k) => Type.Literal(k))),
  sdp: Type.Optional(Type.String({ maxLength: MAX_SDP_BYTES })),
  candidate: Type.Optional(Type.String({ maxLength: MAX_CANDIDATE_BYTES })),
  mid: Type.Optional(Type.String({ maxLength: 32 })),
  reason: Type.Optional(Type.String({ maxLength: 200 })),
}, { additionalProperties: false });
export type SignalMessage = Static<typeof SignalMessage>;

/** What a peer receives (on `sy.peer.<self>.signal`): the relay sets `from` from the subject, never the body. */
export const RelayedSignal = Type.Object({ ...SignalMessage.properties, from: Id }, { additionalProperties: false });
export type RelayedSignal = Static<typeof RelayedSignal>;

export const SignalAck = Type.Object({ delivered: Type.Boolean() });
export type SignalAck = Static<typeof SignalAck>;

/** Base64 of a bitfield (bitfield.ts). */
export const Bitfield64 = Type.String({ maxLength: 12 * 1024, pattern: '^[A-Za-z0-9+/]*={0,2}$' });

/** Tracker bodies carry no peer id: the sender is the subject's last token, which NATS permissions enforce. */
export const Announce = Type.Object({
  chunkCount: Type.Integer({ minimum: 1, maximum: 65536 }),
  bitfield: Bitfield64,
  /** the peer serves chunks to others (false for --no-upload consumers: never listed) */
  uploads: Type.Boolean(),
  /** the peer's measured upload rate, bytes/s (0 = unknown) */
  uploadBps: Type.Number({ minimum: 0 }),
  /** it could upload more than it does (free upload slots, or below its cap): the swarm-aware origin asks */
  spare: Type.Optional(Type.Boolean()),
  /** how many peers to list (default 20) */
  want: Type.Optional(Type.Integer({ minimum: 0, maximum: 200 })),
  /** measured RTT to peers it knows, ms: the seeds' "RTT lookup table" */
  rttMs: Type.Optional(Type.Record(Id, Type.Number({ minimum: 0 }))),
  /** measured download throughput from peers it knows, bytes/s */
  throughputBps: Type.Optional(Type.Record(Id, Type.Number({ minimum: 0 }))),
}, { additionalProperties: false });
export type Announce = Static<typeof Announce>;

export const PeerListing = Type.Object({
  peerId: Id,
  /** chunks it holds */
  have: Type.Integer({ minimum: 0 }),
  /** chunks it holds that the asking peer lacks */
  useful: Type.Integer({ minimum: 0 }),
  complete: Type.Boolean(),
  uploadBps: Type.Number({ minimum: 0 }),
  /** preference score, higher first */
  score: Type.Number(),
  /**
   * Who opens the link: true, the asking peer (it joined after this one); false, this one will (it joined
   * later). The tracker answers both sides of a pair from the same two records, so only one of them offers and no
   * offers cross (glare: both attempts cost a connection each, and one is thrown away). Absent: either may.
   */
  offer: Type.Optional(Type.Boolean()),
});
export type PeerListing = Static<typeof PeerListing>;

export const AnnounceReply = Type.Object({
  peers: Type.Array(PeerListing),
  /** re-announce within this many ms or be dropped as stale */
  intervalMs: Type.Integer({ minimum: 100 }),
  /** swarm size (peers with a fresh announce) */
  swarmSize: Type.Integer({ minimum: 0 }),
});
export type AnnounceReply = Static<typeof AnnounceReply>;

export const HaveUpdate = Type.Object({
  indexes: Type.Array(Type.Integer({ minimum: 0, maximum: 65535 }), { maxItems: 4096 }),
}, { additionalProperties: false });
export type HaveUpdate = Static<typeof HaveUpdate>;

export const Leave = Type.Object({}, { additionalProperties: false });
export type Leave = Static<typeof Leave>;

/** A peer tells the tracker that `offender` sent a chunk that failed verification. */
export const Report = Type.Object({
  offender: Id,
  reason: Type.String({ maxLength: 200 }),
}, { additionalProperties: false });
export type Report = Static<typeof Report>;

export const OkReply = Type.Object({ ok: Type.Literal(true) });
export type OkReply = Static<typeof OkReply>;
