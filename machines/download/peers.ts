/**
 * Pure P2P bookkeeping of the download machine: what each remote peer holds, and the piece picker.
 * Picker rules (the classic BitTorrent ones, adapted to whole-chunk requests):
 * - rarest first: among missing chunks a peer can give, those held by the fewest peers go first; this keeps rare
 *   chunks from disappearing with the peer that has them. Ties are broken by a per-client pseudo-random order,
 *   so leechers of one source ask it for different chunks and then trade them, instead of all asking for the
 *   same one (which would multiply the source's upload for nothing);
 * - per-peer pipelining: up to `perPeer` requests in flight to each unchoked peer, so a link never idles
 *   between a piece and the next request;
 * - endgame: when every chunk the peers could give is already requested, an idle peer duplicates the
 *   remaining requests (at most `maxSources` sources per chunk); the first verified copy wins, the others are
 *   cancelled.
 *
 * The machine picks through the incremental index of pieceIndex.ts (availability counts and per-peer rarest-first
 * buckets updated on have/bitfield/leave, nothing recomputed per pick); `pickPeerRequestsReference` and
 * `originOrderReference` below are the straightforward versions of the same rules, kept as the specification the
 * index is tested against (test/machines/picker*.test.ts) and as the bench's baseline.
 */
import { MAX_PEER_FAILURES, mix, PieceIndex } from './pieceIndex.js';
import { pickFromIndex } from './indexPick.js';
import type { PeerFetch, PeerView } from './types.js';

export type { PeerFetch, PeerView } from './types.js';

export const PEER_FETCH_PREFIX = 'pfetch.';
/** Child ids `pfetch.<index>.<peerId>`, unique per request; results name chunk and peer, the id is never parsed. */
export const peerFetchId = (index: number, peerId: string) => `${PEER_FETCH_PREFIX}${index}.${peerId}`;

export { MAX_PEER_FAILURES };

export function emptyPeer(count: number): PeerView {
  return { have: new Array<boolean>(count).fill(false), haveCount: 0, unchoked: false, failures: 0 };
}

export function withBitfield(p: PeerView, have: readonly boolean[], count: number): PeerView {
  const h = new Array<boolean>(count).fill(false);
  let n = 0;
  for (let i = 0; i < count; i++) if (have[i]) {
    h[i] = true;
    n++;
  }
  return { ...p, have: h, haveCount: n };
}

export function withHave(p: PeerView, index: number): PeerView {
  if (index < 0 || index >= p.have.length || p.have[index]) return p;
  const have = p.have.slice();
  have[index] = true;
  return { ...p, have, haveCount: p.haveCount + 1 };
}

/** How many peers hold each chunk. */
export function availability(peers: Record<string, PeerView>, count: number): number[] {
  const a = new Array<number>(count).fill(0);
  for (const p of Object.values(peers)) for (let i = 0; i < count; i++) if (p.have[i]) a[i]!++;
  return a;
}

export interface PickInput {
  /** this client's peer id: seeds its tie-break order */
  self: string;
  have: readonly boolean[];
  peers: Record<string, PeerView>;
  peerInFlight: readonly PeerFetch[];
  /** chunks requested from the origin (or backing off) */
  originBusy: readonly number[];
  perPeer: number;
  maxSources: number;
  /**
   * streaming: a chunk's deadline rank (lower first; playback.ts ranks the buffer window by distance from the
   * playhead and everything else equal and last), applied before rarity; absent offline
   */
  deadline?: DeadlineRank;
}

/**
 * A deadline rank; playback.ts's also names its buffer window (`window`: [start, end), ranked i - start, the rest
 * last), which lets the index rank without calling it on every chunk. A rank without `window` is honoured by the
 * reference picker.
 */
export type DeadlineRank = ((index: number) => number) & { window?: readonly [number, number] };


/**
 * New peer requests to make now. With the record the machine keeps (`context.peers`, which carries its
 * PieceIndex) this costs O(peers + requests in flight); a hand-built record gets a throwaway index.
 */
export function pickPeerRequests(x: PickInput): PeerFetch[] {
  if (x.deadline !== undefined && x.deadline.window === undefined) return pickPeerRequestsReference(x);
  const idx = indexFor(x.self, x.have, x.peers);
  return pickFromIndex(idx, { peerInFlight: x.peerInFlight, originBusy: x.originBusy, perPeer: x.perPeer, maxSources: x.maxSources,
    ...(x.deadline?.window ? { window: x.deadline.window } : {}) });
}

/** The record's own index when it matches (same client, same chunk count), else one built from the record. */
function indexFor(self: string, have: readonly boolean[], peers: Record<string, PeerView>): PieceIndex {
  const own = PieceIndex.of(peers);
  if (own && own.self === self && own.count === have.length) return own;
  return PieceIndex.fromRecord(have.length, self, have, peers);
}

/**
 * Order in which the origin should serve missing chunks while peers are also in use: chunks no peer holds
 * first (only the origin can supply them), then playback order.
 */
export function originOrder(
  have: readonly boolean[],
  peers: Record<string, PeerView>,
  busy: readonly number[],
  free: number,
  /** swarm-aware: shuffle per client (seeded by its id) so clients ask the origin for different chunks */
  shuffleSeed?: string,
): number[] {
  if (free <= 0) return [];
  const own = PieceIndex.of(peers);
  if (own && own.count === have.length && (shuffleSeed === undefined || shuffleSeed === own.self)) {
    return own.originOrder(busy, free, shuffleSeed !== undefined);
  }
  return originOrderReference(have, peers, busy, free, shuffleSeed);
}

/** The picker's rules, straightforwardly: O(peers × chunks) per call (the specification the index is tested against). */
export function pickPeerRequestsReference(x: PickInput): PeerFetch[] {
  const count = x.have.length;
  const avail = availability(x.peers, count);
  const sources = new Map<number, number>();
  const asked = new Set<string>();
  for (const f of x.peerInFlight) {
    sources.set(f.index, (sources.get(f.index) ?? 0) + 1);
    asked.add(`${f.index}.${f.peerId}`);
  }
  for (const i of x.originBusy) sources.set(i, (sources.get(i) ?? 0) + 1);
  const missing: number[] = [];
  for (let i = x.have.indexOf(false); i !== -1; i = x.have.indexOf(false, i + 1)) missing.push(i);
  const tie = (i: number) => mix(x.self, i);
  const deadline = x.deadline;
  missing.sort(deadline === undefined
    ? (a, b) => avail[a]! - avail[b]! || tie(a) - tie(b)
    : (a, b) => deadline(a) - deadline(b) || avail[a]! - avail[b]! || tie(a) - tie(b));
  const loads = new Map<string, number>();
  for (const f of x.peerInFlight) loads.set(f.peerId, (loads.get(f.peerId) ?? 0) + 1);
  const out: PeerFetch[] = [];
  // least-loaded peers choose first, so pipelines fill evenly
  const ready = Object.entries(x.peers)
    .filter(([, p]) => p.unchoked && p.failures < MAX_PEER_FAILURES && p.haveCount > 0)
    .sort(([a], [b]) => (loads.get(a) ?? 0) - (loads.get(b) ?? 0) || (a < b ? -1 : 1));
  const readyHas = new Array<boolean>(count).fill(false);
  for (const [, p] of ready) for (let i = 0; i < count; i++) if (p.have[i]) readyHas[i] = true;
  for (const [peerId, p] of ready) {
    let free = x.perPeer - (loads.get(peerId) ?? 0);
    for (const i of missing) {
      if (free <= 0) break;
      if (!p.have[i] || sources.has(i)) continue;
      out.push({ index: i, peerId });
      sources.set(i, 1);
      asked.add(`${i}.${peerId}`);
      free--;
    }
    // endgame: every chunk some ready peer could give is already requested (earlier, duplicates would only
    // waste upload; chunks no peer holds are the origin's and do not hold the endgame back)
    if (free <= 0 || missing.some((i) => !sources.has(i) && readyHas[i])) continue;
    for (const i of missing) {
      if (free <= 0) break;
      if (!p.have[i] || asked.has(`${i}.${peerId}`) || (sources.get(i) ?? 0) >= x.maxSources) continue;
      out.push({ index: i, peerId });
      sources.set(i, (sources.get(i) ?? 0) + 1);
      asked.add(`${i}.${peerId}`);
      free--;
    }
  }
  return out;
}

/** originOrder, straightforwardly: O(peers × chunks + chunks log chunks) per call. */
export function originOrderReference(
  have: readonly boolean[],
  peers: Record<string, PeerView>,
  busy: readonly number[],
  free: number,
  /** swarm-aware: shuffle per client (seeded by its id) so clients ask the origin for different chunks */
  shuffleSeed?: string,
): number[] {
  if (free <= 0) return [];
  const avail = availability(peers, have.length);
  const skip = new Set(busy);
  const missing: number[] = [];
  for (let i = have.indexOf(false); i !== -1; i = have.indexOf(false, i + 1)) if (!skip.has(i)) missing.push(i);
  const order = shuffleSeed === undefined ? (i: number) => i : (i: number) => mix(shuffleSeed, i);
  missing.sort((a, b) => Number(avail[a]! > 0) - Number(avail[b]! > 0) || avail[a]! - avail[b]! || order(a) - order(b));
  return missing.slice(0, free);
}
