/**
 * Shared shapes of the client's P2P parts. Everything here is portable: the same swarm, link, request table and
 * uploader run over node-datachannel (client/p2p/rtc.ts) and over the browser's RTCPeerConnection (web/rtc.ts),
 * which both implement RtcHost. The swarm's own public face (`Swarm`, its init, components, events and stats) is
 * here too, so the modules that only hold a swarm need not import its implementation.
 */
import type { SignalClient } from '../../actors/signal/client.js';
import type { TrackerClient } from '../../actors/tracker/client.js';
import type { Logger } from '../../lib/logger.js';
import type { Slicer } from '../../lib/slicer.js';
import type { TokenBucket } from '../../lib/tokenbucket.js';
import type { DownloadEvent } from '../../machines/download/types.js';
import type { InspectPublisher } from '../inspect.js';
import { chunkLength, type Manifest, type RelayedSignal, type SignalMessage } from '../../protocol/mod.js';

/** The label of the one data channel a link uses. */
export const DATA_CHANNEL_LABEL = 'switchyard';

/**
 * What one swarm shares, as the wire sees it: the root both ends must agree on in the handshake, the index space
 * of bitfields and haves, and each chunk's length (undefined while unknown: a live segment not yet announced).
 */
export interface SwarmContent {
  rootHash: string;
  chunkCount: number;
  chunkLength(index: number): number | undefined;
}

/** A video's chunks as swarm content. */
export function manifestContent(m: Manifest): SwarmContent {
  return { rootHash: m.rootHash, chunkCount: m.chunks.length,
    chunkLength: (i) => (Number.isInteger(i) && i >= 0 && i < m.chunks.length ? chunkLength(m, i) : undefined) };
}

/** The verified chunks this peer can serve. */
export interface ChunkSource {
  has(index: number): boolean;
  /** the chunk's bytes; only called for chunks `has` reports */
  read(index: number): Promise<Uint8Array>;
  /** current bitfield */
  have(): boolean[];
  /**
   * the held indexes, when that is much shorter than the bitfield (a live viewer holds ~100 of 65,536): lets
   * "does this peer want anything of mine" skip scanning whole bitfields
   */
  held?(): Iterable<number>;
  /** holds every chunk (a seed); default: every entry of `have()` */
  complete?(): boolean;
}

/** What the uploader and the request table need of one open link. */
export interface LinkIO {
  readonly peerId: string;
  sendRequest(index: number): boolean;
  sendCancel(index: number): boolean;
  sendPiece(index: number, offset: number, chunkLength: number, data: Uint8Array): boolean;
  sendReject(index: number, reason: number): boolean;
  sendChoke(): boolean;
  sendUnchoke(): boolean;
  sendHave(index: number): boolean;
  bufferedAmount(): number;
}

export interface RtcLinkEvents {
  /** ICE + DTLS done */
  onConnected(): void;
  onOpen(): void;
  onMessage(data: Uint8Array): void;
  /** the link is gone (closed by either side or failed); called once */
  onClosed(reason: string, failed: boolean): void;
  /** the send buffer drained below the low-water mark */
  onDrain(): void;
  /** the native connection was freed (some time after onClosed); never called after shutdown() */
  onReleased?(): void;
}

export interface RtcLinkOptions {
  role: 'offerer' | 'answerer';
  remotePeerId: string;
  connId: string;
  videoId: string;
  sendSignal(msg: SignalMessage): Promise<void>;
  events: RtcLinkEvents;
  /** overrides the host's `activeSetup` for this link */
  activeSetup?: boolean;
}

export interface RtcLink {
  readonly connId: string;
  readonly remotePeerId: string;
  handleSignal(m: RelayedSignal): void;
  /** false when the channel is not open */
  send(frame: Uint8Array): boolean;
  bufferedAmount(): number;
  rttMs(): number | null;
  close(reason: string): void;
  readonly closed: boolean;
}

/**
 * The set-up queue's lanes, first served first: under a burst (a flash crowd opens all its links in its first
 * second) work that completes a link already begun goes before work that accepts one, and that before work that
 * begins one, so the links nearest to open do not wait behind new ones.
 */
export const SetupLanes = {
  /** a remote's answer, candidate or bye: finishes (or ends) a link of ours */
  finish: 0,
  /** a remote's offer: creates our end and answers */
  accept: 1,
  /** our own offers */
  begin: 2,
} as const;
/** the number of lanes a host's `setup` slicer has (one per `SetupLanes` value, numbered from 0) */
export const SETUP_LANES = Object.keys(SetupLanes).length;

/** A factory of RTC links with bounded allocation (one per runtime: node-datachannel, browser). */
export interface RtcHost {
  create(opts: RtcLinkOptions): RtcLink;
  /** links not yet finished */
  readonly live: number;
  /** native connections still referenced: live, closing (waiting for close callbacks + grace) and stuck */
  readonly allocated: number;
  /** of `allocated`, the finished ones not yet released */
  readonly closing: number;
  readonly maxAllocated: number;
  /** native connections still referenced for one remote peer */
  allocatedFor(remotePeerId: string): number;
  /**
   * the runtime's link set-up work (answering offers, making them), run in slices between its other events
   * (lib/slicer.ts): one queue for every swarm of the process, since they share its event loop, in `SetupLanes`
   */
  readonly setup: Slicer;
  /** closes every link and releases the native library; the host is unusable afterwards */
  shutdown(): void;
}

/** What the swarm reports: the machine's peer events, with haves one at a time (the bridge folds them into `peer.haves`). */
export type SwarmEvent =
  | Exclude<Extract<DownloadEvent, { type: `peer.${string}` }>, { type: 'peer.haves' }>
  | { type: 'peer.have'; peerId: string; index: number };

export interface SwarmInit {
  videoId: string;
  peerId: string;
  /** what the swarm shares: a video's chunks (`manifestContent`) or a live stream's segments */
  content: SwarmContent;
  /** serve chunks to others (false: consume-only, `--no-upload`) */
  uploads: boolean;
  /** links we offer (default 8) */
  maxPeers?: number;
  /** links in all, ours and accepted (default maxPeers + 2): near maxPeers, degrees and download rates stay even */
  maxLinks?: number;
  uploadSlots?: number;
  rechokeMs?: number;
  requestTimeoutMs?: number;
  linkTimeouts?: { signallingMs?: number; connectMs?: number; handshakeMs?: number };
  /** a link not open this long after it was created is closed (default 15000) */
  openTimeoutMs?: number;
  /** incoming links not yet open (default maxPeers) */
  maxPendingIncoming?: number;
  /** native connections (open, pending or still being freed) per remote peer before its offers are ignored (default 2) */
  maxPerSender?: number;
  /** requests queued for upload across all peers before more are refused as overloaded (default: per peer only) */
  maxQueuedTotal?: number;
}

export interface SwarmComponents {
  tracker: Pick<TrackerClient, 'announce' | 'have' | 'leave' | 'report'>;
  signal: SignalClient;
  rtc: RtcHost;
  source: ChunkSource;
  logger: Logger;
  uploadLimiter?: TokenBucket;
  /** publishes each link machine's transitions for the gateway's inspector */
  inspect?: Pick<InspectPublisher, 'record'>;
}

export interface SwarmStats {
  uploadedBytes: number;
  uploadedByPeer: Record<string, number>;
  downloadedByPeer: Record<string, number>;
  links: Array<{ peerId: string; state: string; role: string; setupMs: number | null; remoteHave: number }>;
  /** set-up time (ms) of every link that opened */
  setupMs: number[];
  banned: string[];
}

export interface Swarm {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** peer events; a new subscriber first gets the current picture replayed */
  subscribe(fn: (e: SwarmEvent) => void): () => void;
  request(peerId: string, index: number, signal?: AbortSignal): Promise<Uint8Array>;
  ban(peerId: string, reason: string): void;
  /** a chunk was verified locally: tell the peers and the tracker */
  noteHave(index: number): void;
  stats(): SwarmStats;
}
