/**
 * What the tracker keeps in the `sy_swarm` bucket, and the checks on what peers announce. Entries are validated
 * when read back, so a foreign or corrupt entry is ignored rather than trusted.
 */
import { Type, type Static } from '@sinclair/typebox';
import { BadRequestError, bitfieldBytes, fromBase64, ID_PATTERN, spareBitsClear, toBase64 } from '../../protocol/mod.js';

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

/** A compare-and-set lost to a concurrent writer (JetStream "wrong last sequence"). */
export function isCasConflict(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 10071 || code === 10164 || /wrong last sequence/i.test(String((err as Error | null)?.message));
}

