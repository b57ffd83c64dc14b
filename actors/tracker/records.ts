/**
 * What the tracker keeps in the `sy_swarm` bucket, and the checks on what peers announce. One codec for the
 * bucket, used by the tracker (writer and reader) and the gateway's swarm view (reader): entries are checked
 * when written and when read back, so a foreign or corrupt entry is skipped rather than trusted.
 */
import { Type, type Static } from '@sinclair/typebox';
import {
  BadRequestError, bitfieldBytes, fromBase64, ID_PATTERN, MAX_TRACKER_MESSAGE_BYTES, spareBitsClear, toBase64,
} from '../../protocol/mod.js';
import { BucketSpecs, schemaCodec, type KvCodec } from '../../lib/kv/mod.js';

const IdT = Type.String({ pattern: ID_PATTERN.source });
const Table = Type.Record(IdT, Type.Number({ minimum: 0 }));

/** What the bucket stores per peer. Validated when read back, so a foreign or corrupt entry is ignored. */
export const SwarmPeer = Type.Object({
  peerId: IdT,
  videoId: IdT,
  chunkCount: Type.Integer({ minimum: 1, maximum: 65536 }),
  /** base64, canonical, exactly ceil(chunkCount/8) bytes, spare bits clear */
  bitfield: Type.String(),
  uploads: Type.Boolean(),
  uploadBps: Type.Number({ minimum: 0 }),
  spare: Type.Optional(Type.Boolean()),
  complete: Type.Boolean(),
  /** clock.now() of the last announce or have */
  lastSeen: Type.Number(),
  /** clock.now() of the first announce: the later of two peers opens their link (PeerListing.offer) */
  joinedAt: Type.Optional(Type.Number()),
  rttMs: Type.Optional(Table),
  throughputBps: Type.Optional(Table),
  /** distinct peers that reported this one for a bad chunk */
  reports: Type.Optional(Type.Array(IdT, { maxItems: 64 })),
});
export type SwarmPeer = Static<typeof SwarmPeer>;

/** Decodes and checks an announced bitfield against its chunk count; any mismatch is the sender's fault. */
export function decodeAnnouncedBits(b64: string, chunkCount: number): Uint8Array {
  const bytes = fromBase64(b64);
  const want = bitfieldBytes(chunkCount);
  // the decoder tolerates missing padding and base64url; re-encoding catches any non-canonical spelling
  if (!bytes || toBase64(bytes) !== b64) throw new BadRequestError('bitfield is not canonical base64');
  if (bytes.length !== want) {
    throw new BadRequestError(`bitfield has ${bytes.length} bytes, ${want} expected for ${chunkCount} chunks`);
  }
  if (!spareBitsClear(bytes, chunkCount)) {
    throw new BadRequestError('bitfield has bits set beyond chunkCount');
  }
  return bytes;
}

/** Whether `a` joined after `b` (ties by id): the one of a pair that offers the link. */
export function joinedAfter(a: Pick<SwarmPeer, 'peerId' | 'joinedAt'>, b: Pick<SwarmPeer, 'peerId' | 'joinedAt'>): boolean {
  const ja = a.joinedAt ?? 0, jb = b.joinedAt ?? 0;
  return ja !== jb ? ja > jb : a.peerId > b.peerId;
}

/** The key of a peer's entry in `sy_swarm`. */
export const swarmKey = (videoId: string, peerId: string) => `${videoId}.${peerId}`;

/**
 * The `sy_swarm` codec: a SwarmPeer filed under its own `<videoId>.<peerId>` key. An entry is built from one
 * announce (at most MAX_TRACKER_MESSAGE_BYTES) plus reports, so twice that bounds it.
 */
export const swarmCodec: KvCodec<SwarmPeer> = schemaCodec(BucketSpecs.swarm.name, SwarmPeer, {
  maxBytes: 2 * MAX_TRACKER_MESSAGE_BYTES, keyOf: (v) => swarmKey(v.videoId, v.peerId),
});
