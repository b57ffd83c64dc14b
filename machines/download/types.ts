/**
 * Contract between the download machine and whoever runs it. The machine is pure: every piece of I/O below is
 * an actor the runner supplies with `downloadMachine.provide({ actors: { ... } })`. Chunk bytes never travel
 * through machine events (they would bloat snapshots and inspection): a fetch actor fetches, verifies against
 * the manifest hash and stores the chunk, and reports only the outcome.
 */
import type { LeaseInfo, Manifest, OpenReply } from '../../protocol/mod.js';

/** Where a chunk came from; peers are `peer:<peerId>` (P2P issue). */
export type ChunkSource = 'origin' | `peer:${string}`;

export interface DownloadInput {
  videoId: string;
  peerId: string;
  /** indexes of chunks already verified on disk (resume after a restart) */
  have?: number[];
  /** parallel chunk requests to the origin (default 4) */
  parallel?: number;
  /** attempts per chunk before the download fails (default 5) */
  maxAttempts?: number;
  /** requests in flight per unchoked peer (default 1: DEFAULT_PER_PEER says why) */
  perPeer?: number;
  /** sources per chunk in endgame (default 2) */
  maxSources?: number;
  /**
   * origin grants the gateway refused while the origin kept granting (default 3) before the slot is given up:
   * a gateway that does not accept this origin's grants would otherwise keep a slot busy for nothing
   */
  maxGrantRejections?: number;
  /** a streaming download (a player reads it while it arrives); without it the download is offline (rarest first) */
  streaming?: StreamingInput;
}

/**
 * Deadline-aware picking (issue 8 item 2), in chunks (the runner converts seconds with the manifest's `stream`
 * segments). Chunks in [playhead, playhead + urgentChunks) come from the origin at once: under the slot's grant
 * when admitted, else under urgent grants (`fetchUrgent`); the rest of [playhead, playhead + bufferChunks) comes
 * from peers first, nearest deadline first; beyond, rarest first as offline.
 */
export interface StreamingInput {
  /** default 2 */
  urgentChunks?: number;
  /** default 8; never less than urgentChunks */
  bufferChunks?: number;
  /** where the player starts reading; otherwise the first `playback.playhead` sets it */
  playhead?: number;
}

/**
 * Input of the `swarm` actor (fromCallback). It reports what remote peers hold and whether they let us
 * request (`peer.*` events), and receives `swarm.ban` commands. The default implementation is "no swarm".
 */
export interface SwarmInput {
  videoId: string;
  peerId: string;
  manifest: Manifest;
}
export type SwarmCommand = { type: 'swarm.ban'; peerId: string; reason: string };

/** Input of the `openSession` actor (fromPromise → OpenReply). */
export interface OpenSessionInput {
  videoId: string;
  peerId: string;
}
/** The origin's reply, with the manifest the client already holds (checked against the reply's root hash). */
export type OpenSessionOutput = OpenReply & { manifest: Manifest };

/**
 * Input of the `sessionKeeper` actor (fromCallback). It heartbeats the session for as long as it runs and
 * reports what it hears, raw: `origin.heartbeat` (each answer), `origin.slotOffered` / `origin.leaseLost` (the
 * origin's pushes), `origin.sessionLost` (unknown_session), `origin.unreachable` (no answer). It keeps no state
 * of its own: whether a granted answer is a renewal or a lost offer is the machine's decision.
 */
export interface SessionKeeperInput {
  sessionId: string;
  peerId: string;
  videoId: string;
}
/**
 * What the machine tells the keeper: `session.yield`, the holder's turn is over (release the slot, parked);
 * `session.need`, whether the download lacks chunks none of its peers holds (sent with heartbeats while parked).
 */
export type SessionKeeperEvent =
  | { type: 'session.yield' }
  | { type: 'session.need'; need: boolean }
  /** peers brought a chunk: a need counts only while they bring nothing */
  | { type: 'session.progress' };

/** Input of the `fetchChunk` actor (fromPromise → FetchChunkOutput; rejects with a FetchChunkFailure-like error). */
export interface FetchChunkInput {
  index: number;
  hash: string;
  length: number;
  videoId: string;
  sessionId: string;
  grant: string;
  source: ChunkSource;
}
export interface FetchChunkOutput {
  index: number;
  source: ChunkSource;
  bytes: number;
}
/** Input of the `fetchUrgent` actor: one chunk near the playhead, asked of the origin without a slot. */
export interface FetchUrgentInput {
  index: number;
  hash: string;
  length: number;
  videoId: string;
  sessionId: string;
}

/**
 * What a fetch actor resolves with: success or failure, each naming its chunk and source, so the machine reads
 * them from the result instead of from the child's id. `fetchUrgent` resolves with this and never rejects.
 */
export type FetchResult =
  | { ok: true; index: number; source: ChunkSource; bytes: number }
  | { ok: false; index: number; source: ChunkSource; failure: FetchChunkFailure };

/**
 * Why a fetch failed. `corrupt`: bytes did not match the hash; `denied`: the origin refused the grant
 * (401/403: the lease is gone, or the gateway does not accept the grant); `missing`: the source does not have
 * it; `network`: anything transient; `declined`: the swarm-aware origin will not send it again now because
 * peers can (409); `unavailable`: the origin side is down or cannot check leases (no answer, 502/503/504): an
 * outage, which is waited out rather than counted against the chunk; `refused`: no urgent grant or share now
 * (rate-limited, spent, disabled): the chunk is left to peers for a moment.
 */
export type FetchFailureReason = 'corrupt' | 'denied' | 'missing' | 'network' | 'declined' | 'unavailable' | 'refused';
export interface FetchChunkFailure {
  reason: FetchFailureReason;
  message: string;
  /** the gateway's error code (`grant_invalid`, `lease_lost`, ...) when it gave one */
  code?: string;
  /** `declined`: a few chunks the gateway says it has sent to nobody yet, asked of the origin next (empty: none left) */
  unsent?: number[];
}

/** Input of the `assemble` actor (fromPromise → AssembleOutput): writes the output file from verified chunks. */
export interface AssembleInput {
  manifest: Manifest;
}
export interface AssembleOutput {
  path: string;
}

/** Input of the `releaseSession` actor (fromPromise → void): gives the slot back / leaves the wait list. */
export interface ReleaseSessionInput {
  sessionId: string;
  peerId: string;
}

export type DownloadEvent =
  | { type: 'origin.slotOffered'; grant: string; lease: LeaseInfo }
  | { type: 'origin.position'; position: number }
  | { type: 'origin.leaseLost'; reason: string }
  /**
   * the origin no longer knows the session at all (it expired while we were unreachable): open a new one.
   * `answered: false` when no heartbeat of that session was ever answered (lost at once: the next open waits)
   */
  | { type: 'origin.sessionLost'; reason: string; answered?: boolean }
  | { type: 'origin.grantRenewed'; grant: string; lease: LeaseInfo }
  /**
   * a heartbeat's answer as the origin gave it; the machine decides what it means from its own state (renewed,
   * a lost offer push, a lost lease, or a wait-list position)
   */
  | { type: 'origin.heartbeat'; status: 'granted'; grant: string; lease: LeaseInfo }
  | { type: 'origin.heartbeat'; status: 'waiting'; position: number }
  /** a heartbeat got no answer (NATS or the origin is down): the machine starts counting the outage */
  | { type: 'origin.unreachable'; reason: string }
  | { type: 'download.cancel' }
  /** where the player reads now (a chunk index); a jump is a seek, and re-plans at once */
  | { type: 'playback.playhead'; index: number }
  | { type: 'peer.joined'; peerId: string }
  | { type: 'peer.bitfield'; peerId: string; have: boolean[] }
  /** several haves at once, in arrival order (the swarm bridge folds those of one moment together) */
  | { type: 'peer.haves'; haves: ReadonlyArray<{ peerId: string; index: number }> }
  | { type: 'peer.unchoked'; peerId: string }
  | { type: 'peer.choked'; peerId: string }
  | { type: 'peer.left'; peerId: string };

/** What the machine knows of one remote peer. */
export interface PeerView {
  have: boolean[];
  haveCount: number;
  /** the peer lets us request (it unchoked us) */
  unchoked: boolean;
  /** failed requests since it last unchoked us; a peer failing repeatedly is skipped until it unchokes again */
  failures: number;
}

/** One request the picker chose: chunk `index` from `peerId`. */
export interface PeerFetch {
  index: number;
  peerId: string;
}
