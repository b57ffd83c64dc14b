/**
 * Shared shapes of the client's P2P parts. Everything here is portable: the same swarm, link, request table and
 * uploader run over node-datachannel (client/p2p/rtc.ts) and over the browser's RTCPeerConnection (web/rtc.ts),
 * which both implement RtcHost.
 */
import type { Slicer } from '../../lib/slicer.js';
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
   * (lib/slicer.ts): one queue for every swarm of the process, since they share its event loop
   */
  readonly setup: Slicer;
  /** closes every link and releases the native library; the host is unusable afterwards */
  shutdown(): void;
}

