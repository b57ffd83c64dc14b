/**
 * Peer preference ordering for tracker listings: the seeds' "RTT lookup table and seeder preference list".
 * Pure functions over already-decoded bitfields (protocol/bitfield.ts), so the ordering
 * can be unit-tested without NATS and the tracker only has to gather inputs.
 *
 * Score of candidate c for asker a:
 *
 *   base(c)    = Σ_{i : c has i, a lacks i} 1 / availability(i)       when a is not complete (rarest-first value)
 *              = chunkCount − have(c)                                  when a is complete (who needs most)
 *   tf(c)      = clamp(bps(c) / median(bps of candidates with bps > 0), 1/4, 4), or 1 when bps(c) is unknown,
 *                where bps(c) = a.throughputBps[c] (the asker's own measurement) if > 0, else c.uploadBps if > 0
 *   rf(c)      = 1 + a.rttMs[c] / 50, or 1 when the asker has not measured c
 *   score(c)   = base(c) × tf(c) / rf(c)
 *
 * Why these pieces:
 * - 1/availability makes a chunk held by one source worth as much as three chunks held by three sources each, so
 *   connections go first where rare chunks are and the swarm stops depending on the few holders of a chunk.
 * - a complete asker (a seed) cannot gain anything; it is most useful connected to the peers missing the most,
 *   so seeds spread out over leechers instead of all serving the same near-complete peers.
 * - throughput is normalised by the median so the factor is relative ("twice as fast as typical") and the units
 *   of the two sources (measured download rate vs. self-reported upload rate) matter less; clamping keeps one
 *   very fast peer from erasing the availability signal. The asker's own measurement wins because a peer's
 *   self-reported rate is unverified.
 * - RTT divides: at 50 ms the score halves. Unmeasured peers get rf = 1, a deliberate bias towards trying peers
 *   the asker does not know yet (otherwise it never learns their RTT).
 * - Candidates with base 0 (nothing useful now) sort after every useful one but are still listed: they may get
 *   chunks later, and a connection set up early is ready when they do. Among them link quality (tf/rf) decides.
 * - Remaining ties break by a hash of (asker, candidate): deterministic for one asker, but different askers get
 *   different orders, so equal peers do not all pick the same first candidate.
 */
import { bitfieldBytes, bitMask, forEachSetBit, popcount } from '../../protocol/bitfield.js';
import type { PeerListing } from '../../protocol/mod.js';

export interface ScoreAsker {
  peerId: string;
  chunkCount: number;
  bits: Uint8Array;
  /** measured RTT to peers it knows, ms */
  rttMs?: Record<string, number>;
  /** measured download throughput from peers it knows, bytes/s */
  throughputBps?: Record<string, number>;
}

export interface ScoreCandidate {
  peerId: string;
  bits: Uint8Array;
  /** number of chunks held (popcount of bits) */
  have: number;
  uploadBps: number;
}

/** The RTT (ms) at which the score halves. */
export const RTT_HALF_MS = 50;
/** Bounds of the throughput factor. */
export const TF_MIN = 0.25;
export const TF_MAX = 4;

export { popcount };

/** How many of `sources` hold each chunk. */
export function availability(chunkCount: number, sources: readonly Uint8Array[]): Uint32Array {
  const avail = new Uint32Array(chunkCount);
  for (const bits of sources) forEachSetBit(bits, chunkCount, (i) => avail[i]!++);
  return avail;
}

export function rttFactor(rttMs: number | undefined): number {
  return rttMs === undefined || !Number.isFinite(rttMs) || rttMs < 0 ? 1 : 1 + rttMs / RTT_HALF_MS;
}

export function throughputFactor(bps: number, reference: number): number {
  if (!(bps > 0) || !(reference > 0) || !Number.isFinite(bps)) return 1;
  return Math.min(TF_MAX, Math.max(TF_MIN, bps / reference));
}

function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** FNV-1a: a cheap, stable tie-break that differs per asker. */
function tieHash(a: string, b: string): number {
  let h = 0x811c9dc5;
  const s = `${a}\u0000${b}`;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Counts chunks the candidate has and the asker lacks, and sums their rarest-first value. */
function usefulness(asker: Uint8Array, cand: Uint8Array, chunkCount: number, avail: ArrayLike<number>) {
  let useful = 0;
  let value = 0;
  const n = Math.min(cand.length, bitfieldBytes(chunkCount));
  for (let b = 0; b < n; b++) {
    const u = cand[b]! & ~(asker[b] ?? 0) & 0xff;
    if (u === 0) continue;
    for (let k = 0; k < 8; k++) {
      const i = (b << 3) + k;
      if (i >= chunkCount || !(u & bitMask(k))) continue;
      useful++;
      // a candidate holding a chunk is itself a source, so availability ≥ 1; guard anyway
      value += 1 / Math.max(1, avail[i] ?? 1);
    }
  }
  return { useful, value };
}

/**
 * Orders `candidates` for `asker` (see the module comment for the formula), best first, at most `want`.
 * `avail[i]` = number of sources holding chunk i (see `availability`).
 */
export function rankPeers(
  asker: ScoreAsker,
  candidates: readonly ScoreCandidate[],
  avail: ArrayLike<number>,
  want: number,
): PeerListing[] {
  const n = asker.chunkCount;
  const askerComplete = popcount(asker.bits) >= n;
  const bpsOf = (c: ScoreCandidate): number => {
    const measured = asker.throughputBps?.[c.peerId];
    if (measured !== undefined && measured > 0) return measured;
    return Math.max(c.uploadBps , 0);
  };
  const reference = median(candidates.map(bpsOf).filter((x) => x > 0 && Number.isFinite(x)));
  const rows = candidates.map((c) => {
    const { useful, value } = askerComplete ? { useful: 0, value: n - c.have } : usefulness(asker.bits, c.bits, n, avail);
    const quality = throughputFactor(bpsOf(c), reference) / rttFactor(asker.rttMs?.[c.peerId]);
    const score = value * quality;
    return {
      listing: { peerId: c.peerId, have: c.have, useful, complete: c.have >= n, uploadBps: c.uploadBps, score },
      base: value,
      quality,
      tie: tieHash(asker.peerId, c.peerId),
    };
  });
  rows.sort((x, y) =>
    Number(y.base > 0) - Number(x.base > 0) ||
    y.listing.score - x.listing.score ||
    y.quality - x.quality ||
    x.tie - y.tie ||
    (x.listing.peerId < y.listing.peerId ? -1 : 1));
  return rows.slice(0, Math.max(0, want)).map((r) => r.listing);
}
