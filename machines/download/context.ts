/**
 * The download machine's context and the pure updates of its P2P bookkeeping. The machine's actions only carry
 * out what these decide (children to stop, a peer to ban, fields to assign), so the rules live in plain
 * functions that read like the protocol.
 */
import { OriginPolicies, type LeaseInfo, type Manifest, type OriginPolicy } from '../../protocol/mod.js';
import { emptyPeer, peerFetchId, withBitfield, withHave, type PeerFetch, type PeerView } from './peers.js';
import { PieceIndex } from './pieceIndex.js';
import { fetchChildId, urgentChildId, type DownloadError } from './schedule.js';
import type { DownloadEvent, DownloadInput, FetchChunkFailure, FetchChunkOutput } from './types.js';

export type DownloadOutcome = 'complete' | 'failed' | 'cancelled';

export interface DownloadContext {
  videoId: string;
  peerId: string;
  parallel: number;
  maxAttempts: number;
  /** `have` from the input, kept only until the manifest says how many chunks there are */
  initialHave: number[];
  sessionId: string | null;
  manifest: Manifest | null;
  grant: string | null;
  lease: LeaseInfo | null;
  /** place in the origin's wait list while denied (1 = next) */
  position: number | null;
  /** verified chunks, by index */
  have: boolean[];
  haveCount: number;
  /** chunks with a fetch child running (child id `fetch.<index>`) */
  inFlight: number[];
  /** chunks waiting for a retry after a transient failure; they hold a parallel slot meanwhile */
  backoff: number[];
  /** failed attempts per chunk index */
  attempts: Record<number, number>;
  bytesBySource: Record<string, number>;
  /** chunks fetched by this run (not counting the input's `have`) */
  chunksFetched: number;
  error: DownloadError | null;
  outputPath: string | null;
  /** the terminal state `releasing` leads to */
  outcome: DownloadOutcome | null;
  perPeer: number;
  maxSources: number;
  /**
   * remote peers of the swarm, by peer id. Once the manifest is known this record is a view of the download's
   * PieceIndex (pieceIndex.ts: the one mutable structure of the context, mutated only through the updates in
   * this file, which the machine's actions call); each `have` array is the index's live array for that peer
   */
  peers: Record<string, PeerView>;
  /** chunk requests in flight to peers (child id `pfetch.<index>.<peerId>`) */
  peerInFlight: PeerFetch[];
  /** peers may be asked (p2p and resumeServer; the seeds' server-first policy keeps `server` origin-only) */
  usePeers: boolean;
  /** peers banned for sending chunks that failed verification */
  banned: string[];
  /** the origin's policy, from the open reply */
  policy: OriginPolicy;
  /** chunks the swarm-aware origin declined lately (peers have them); not asked of the origin for a while */
  declined: number[];
  /**
   * chunks the gateway said at its last decline this turn it had sent to nobody yet, asked of the origin first;
   * [] once it said none is left (a turn then asks nothing more); null: not told
   */
  unsentHint: number[] | null;
  /** the gateway refused our grant while the origin kept granting, this many times in a row */
  grantRejections: number;
  maxGrantRejections: number;
  /** the gateway's error code of the last such refusal (`grant_invalid`, ...) */
  rejectedCode: string | null;
  /** the origin side stopped answering; `origin.outageExpired` is armed until it answers again */
  unreachable: boolean;
  /** origin fetches that failed as `unavailable` since the last success (their backoff grows with it) */
  outageStrikes: number;
  /** streaming: the chunk the player reads now; null offline (and before the player says) */
  playhead: number | null;
  /** streaming: chunks from the playhead fetched from the origin at once (playback.ts) */
  urgentWindow: number;
  /** streaming: chunks from the playhead fetched from peers nearest deadline first */
  bufferWindow: number;
  /** chunks with an urgent fetch child running (child id `urgent.<index>`): origin, urgent grant, no slot */
  urgentInFlight: number[];
  /** the origin or gateway refused urgent traffic lately (or cannot give it): peers cover until `urgent.resume` */
  urgentPaused: boolean;
  /** bytes that came under urgent grants (also counted in `bytesBySource.origin`) */
  urgentBytes: number;
  /** slot bytes from the origin when the current turn began (turns.ts) */
  turnFrom: number;
  /** what the session keeper was last told about needing the origin (turns.ts) */
  needTold: boolean;
  /** turns this client has yielded at the origin (turns.ts) */
  turns: number;
}

/** What a pure update decided. */
export interface Effects {
  assign: Partial<DownloadContext>;
  /** child actor ids to stop (stopping aborts their requests) */
  stop: string[];
  ban?: { peerId: string; reason: string };
}

/**
 * A chunk passed verification (from the origin when `peerId` is null). The first verified copy wins: every
 * other request for the same chunk (endgame duplicates, an origin request) is cancelled. A finished child stays
 * in snapshot.children until stopped, so it is stopped too.
 */
export function chunkVerified(
  ctx: DownloadContext, index: number, out: FetchChunkOutput, peerId: string | null, urgent = false,
): Effects {
  const stop: string[] = [];
  if (peerId === null || ctx.inFlight.includes(index)) stop.push(fetchChildId(index));
  if (ctx.urgentInFlight.includes(index)) stop.push(urgentChildId(index));
  for (const f of ctx.peerInFlight) if (f.index === index) stop.push(peerFetchId(f.index, f.peerId));
  // in place, not a copy: a copy per chunk is O(chunks), which made a 16,384-chunk download's bookkeeping quadratic
  // (bench:picker: ~0.5 ms of ~0.8 ms per chunk); like the peers' arrays in the piece index, the machine owns it
  const have = ctx.have;
  have[index] = true;
  const peer = peerId === null ? undefined : ctx.peers[peerId];
  const idx = PieceIndex.of(ctx.peers);
  let peers: Record<string, PeerView> | undefined;
  if (idx) {
    idx.clientGot(index);
    if (peer && peerId && peer.failures !== 0) idx.setFlags(peerId, { failures: 0 });
    peers = idx.view();
  } else if (peer && peerId) {
    peers = { ...ctx.peers, [peerId]: { ...peer, failures: 0 } };
  }
  return {
    stop,
    assign: {
      have,
      haveCount: ctx.haveCount + 1,
      inFlight: ctx.inFlight.filter((i) => i !== index),
      peerInFlight: ctx.peerInFlight.filter((f) => f.index !== index),
      urgentInFlight: ctx.urgentInFlight.filter((i) => i !== index),
      ...(urgent ? { urgentBytes: ctx.urgentBytes + out.bytes } : {}),
      bytesBySource: { ...ctx.bytesBySource, [out.source]: (ctx.bytesBySource[out.source] ?? 0) + out.bytes },
      chunksFetched: ctx.chunksFetched + 1,
      ...(peers ? { peers } : {}),
    },
  };
}

/**
 * A peer request failed. Corrupt bytes are never an accident worth a second chance: the peer is dropped,
 * everything else asked of it is cancelled, and the swarm is told to ban it. A refusal (`missing`) means it
 * does not have the chunk (any more) or choked us: it is not asked for that chunk again until it says `have`.
 */
export function peerFetchFailure(ctx: DownloadContext, f: PeerFetch, failure: FetchChunkFailure): Effects {
  const stop = [peerFetchId(f.index, f.peerId)];
  const peerInFlight = ctx.peerInFlight.filter((x) => !(x.index === f.index && x.peerId === f.peerId));
  const idx = PieceIndex.of(ctx.peers);
  if (failure.reason === 'corrupt') {
    idx?.leave(f.peerId);
    const { [f.peerId]: _gone, ...rest } = ctx.peers;
    const peers = idx ? idx.view() : rest;
    for (const x of peerInFlight) if (x.peerId === f.peerId) stop.push(peerFetchId(x.index, x.peerId));
    return {
      stop,
      ban: { peerId: f.peerId, reason: failure.message },
      assign: { peers, peerInFlight: peerInFlight.filter((x) => x.peerId !== f.peerId), banned: [...ctx.banned, f.peerId] },
    };
  }
  const peer = ctx.peers[f.peerId];
  if (!peer) return { stop, assign: { peerInFlight } };
  if (idx) {
    idx.setFlags(f.peerId, { failures: peer.failures + 1 });
    if (failure.reason === 'missing') idx.drop(f.peerId, f.index);
    return { stop, assign: { peerInFlight, peers: idx.view() } };
  }
  let next = { ...peer, failures: peer.failures + 1 };
  if (failure.reason === 'missing' && peer.have[f.index]) {
    next = { ...next, have: peer.have.map((h, i) => h && i !== f.index), haveCount: peer.haveCount - 1 };
  }
  return { stop, assign: { peerInFlight, peers: { ...ctx.peers, [f.peerId]: next } } };
}

/** Folds a `peer.*` event from the swarm into the peer table; banned peers are ignored. */
export function applyPeerEvent(ctx: DownloadContext, e: DownloadEvent): Partial<DownloadContext> {
  if (e.type === 'peer.haves') {
    const index = PieceIndex.of(ctx.peers);
    if (index) {
      for (const h of e.haves) if (!ctx.banned.includes(h.peerId)) index.have(h.peerId, h.index);
      return { peers: index.view() };
    }
    // before the manifest (no index yet): the plain records
    let peers = ctx.peers;
    for (const h of e.haves) {
      if (ctx.banned.includes(h.peerId)) continue;
      peers = { ...peers, [h.peerId]: withHave(peers[h.peerId] ?? emptyPeer(ctx.manifest?.chunks.length ?? 0), h.index) };
    }
    return peers === ctx.peers ? {} : { peers };
  }
  if (!e.type.startsWith('peer.') || !('peerId' in e) || ctx.banned.includes(e.peerId)) return {};
  const idx = PieceIndex.of(ctx.peers);
  if (idx) {
    switch (e.type) {
      case 'peer.bitfield': idx.bitfield(e.peerId, e.have); break;
      case 'peer.unchoked': idx.setFlags(e.peerId, { unchoked: true, failures: 0 }); break;
      case 'peer.choked': idx.setFlags(e.peerId, { unchoked: false }); break;
      case 'peer.left': idx.leave(e.peerId); break;
      default: idx.join(e.peerId); break;
    }
    return { peers: idx.view() };
  }
  // before the manifest (no index yet): the plain record
  const count = ctx.manifest?.chunks.length ?? 0;
  const cur = ctx.peers[e.peerId] ?? emptyPeer(count);
  let next: PeerView | null = cur;
  switch (e.type) {
    case 'peer.bitfield': next = withBitfield(cur, e.have, count); break;
    case 'peer.unchoked': next = { ...cur, unchoked: true, failures: 0 }; break;
    case 'peer.choked': next = { ...cur, unchoked: false }; break;
    case 'peer.left': next = null; break;
    default: break;
  }
  if (next === null) {
    const { [e.peerId]: _gone, ...rest } = ctx.peers;
    return { peers: rest };
  }
  return { peers: { ...ctx.peers, [e.peerId]: next } };
}

/**
 * The manifest is known (an open reply): the peer record becomes a view of a PieceIndex over `count` chunks
 * with the client's verified chunks `have`. A re-open with the same chunk count keeps the index (re-reading
 * `have`); peers known from a plain record (none in practice: the swarm starts with the session) are carried over.
 */
export function indexPeers(ctx: DownloadContext, count: number, have: readonly boolean[]): Record<string, PeerView> {
  const own = PieceIndex.of(ctx.peers);
  if (own && own.count === count && own.self === ctx.peerId) {
    own.setClientHave(have);
    return own.view();
  }
  const plain: Record<string, PeerView> = {};
  for (const [id, p] of Object.entries(ctx.peers)) if (!ctx.banned.includes(id)) plain[id] = p;
  return PieceIndex.fromRecord(count, ctx.peerId, have, plain).view();
}

export const DEFAULT_PARALLEL = 4;
/** streaming defaults (playback.ts), in chunks */
export const DEFAULT_URGENT_CHUNKS = 2;
export const DEFAULT_BUFFER_CHUNKS = 8;
export const DEFAULT_MAX_ATTEMPTS = 5;
/**
 * One request in flight per peer. A peer's upload serves its requesters' chunks one after another (each whole,
 * so it is re-uploadable at once); every extra request we queue there waits behind everyone else's, and a chunk
 * that waits is a chunk nobody can forward yet. With 4 per peer a flash crowd's requests waited 0.8–2.6 s (p50)
 * for 250 ms transfers. Measured (bench:swarm, capacity 1): N=10 1.367 → 1.333 × D_p2p, N=20 ~1.30 → 1.26; 2 per
 * peer sat between. The cost is one round trip per chunk on a link whose uploader has no other requester: small
 * while a chunk takes far longer than a round trip (256 KiB at 1 MiB/s: 250 ms).
 */
export const DEFAULT_PER_PEER = 1;
export const DEFAULT_MAX_SOURCES = 2;
export const DEFAULT_MAX_GRANT_REJECTIONS = 3;

/** A fresh download: nothing known of the session yet, only the chunks already verified on disk (`input.have`). */
export function initialContext(input: DownloadInput): DownloadContext {
  return {
    videoId: input.videoId,
    peerId: input.peerId,
    parallel: Math.max(1, Math.floor(input.parallel ?? DEFAULT_PARALLEL)),
    maxAttempts: Math.max(1, Math.floor(input.maxAttempts ?? DEFAULT_MAX_ATTEMPTS)),
    initialHave: input.have ?? [],
    sessionId: null,
    manifest: null,
    grant: null,
    lease: null,
    position: null,
    have: [],
    haveCount: 0,
    inFlight: [],
    backoff: [],
    attempts: {},
    bytesBySource: {},
    chunksFetched: 0,
    error: null,
    outputPath: null,
    outcome: null,
    perPeer: Math.max(1, Math.floor(input.perPeer ?? DEFAULT_PER_PEER)),
    maxSources: Math.max(1, Math.floor(input.maxSources ?? DEFAULT_MAX_SOURCES)),
    peers: {},
    peerInFlight: [],
    usePeers: false,
    banned: [],
    policy: OriginPolicies.serverFirst,
    declined: [],
    unsentHint: null,
    grantRejections: 0,
    maxGrantRejections: Math.max(1, Math.floor(input.maxGrantRejections ?? DEFAULT_MAX_GRANT_REJECTIONS)),
    rejectedCode: null,
    unreachable: false,
    outageStrikes: 0,
    turnFrom: 0,
    needTold: false,
    turns: 0,
    ...streamingContext(input),
  };
}

function streamingContext(input: DownloadInput): Pick<DownloadContext,
  'playhead' | 'urgentWindow' | 'bufferWindow' | 'urgentInFlight' | 'urgentPaused' | 'urgentBytes'> {
  const s = input.streaming;
  const urgentWindow = Math.max(1, Math.floor(s?.urgentChunks ?? DEFAULT_URGENT_CHUNKS));
  return {
    playhead: s?.playhead !== undefined && Number.isInteger(s.playhead) && s.playhead >= 0 ? s.playhead : null,
    urgentWindow,
    bufferWindow: Math.max(urgentWindow, Math.floor(s?.bufferChunks ?? DEFAULT_BUFFER_CHUNKS)),
    urgentInFlight: [],
    urgentPaused: false,
    urgentBytes: 0,
  };
}
