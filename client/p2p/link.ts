/**
 * One remote peer, for real: the peerLink machine (lifecycle, timeouts, strikes, bans) with its `transport`
 * provided by a node-datachannel link and the binary wire format. Control frames (handshake, bitfield, have,
 * choke/unchoke) go through the machine, except a `have` that can only set a bit (below); data frames (request,
 * piece, cancel, reject) go straight to the swarm's handlers, so chunk bytes never pass through machine events.
 */
import { createActor, fromCallback, type Actor } from 'xstate';
import { canRequest, peerLinkMachine, type PeerLinkSnapshot } from '../../machines/peerLink/machine.js';
import type { LinkTransportCommand, LinkTransportInput } from '../../machines/peerLink/types.js';
import {
  createDispatcher, encodeFrame, encodePiece, WIRE_VERSION, type RelayedSignal, type SignalMessage,
} from '../../protocol/mod.js';
import type { Logger } from '../../lib/logger.js';
import { transitionTap, type InspectPublisher } from '../inspect.js';
import type { ChunkSource, LinkIO, RtcHost, RtcLink } from './types.js';

export interface LinkSelf {
  peerId: string;
  videoId: string;
  rootHash: string;
  chunkCount: number;
  uploads: boolean;
}

export interface LinkHandlers {
  onRequest(peerId: string, index: number): void;
  onCancel(peerId: string, index: number): void;
  onPiece(peerId: string, index: number, offset: number, chunkLength: number, data: Uint8Array): void;
  onReject(peerId: string, index: number, reason: number): void;
  /** every machine snapshot (state changes, remote haves) */
  onSnapshot(link: PeerLinkHandle, snapshot: PeerLinkSnapshot): void;
  /** the remote now holds `index` (a `have` taken without a machine step; see `startLink`) */
  onHave(link: PeerLinkHandle, index: number): void;
  /** the link ended (closed or banned) */
  onEnd(link: PeerLinkHandle, status: 'closed' | 'banned', reason: string): void;
  /** after onEnd, once the link's native connection is freed (or was never made); not after the host shut down */
  onReleased(link: PeerLinkHandle): void;
  onDrain(): void;
}

export interface PeerLinkHandle extends LinkIO {
  readonly remotePeerId: string;
  readonly connId: string;
  readonly role: 'offerer' | 'answerer';
  readonly startedAt: number;
  /** ms from creation to an open, handshaken link; null until then */
  setupMs(): number | null;
  /** chunks the remote holds (its bitfield plus every `have` since) */
  remoteHaveCount(): number;
  handleSignal(m: RelayedSignal): void;
  canRequest(): boolean;
  snapshot(): PeerLinkSnapshot;
  rttMs(): number | null;
  ban(reason: string): void;
  /** a protocol violation seen outside the machine (e.g. an unrequested piece): a strike, the last one bans */
  strike(what: string): void;
  close(reason: string): void;
}

export interface PeerLinkOptions {
  remotePeerId: string;
  connId: string;
  role: 'offerer' | 'answerer';
  self: LinkSelf;
  timeouts?: { signallingMs?: number; connectMs?: number; handshakeMs?: number };
}

/** What each link brings besides its options: transports, the chunk source, and the swarm's handlers. */
export interface PeerLinkDeps {
  rtc: RtcHost;
  sendSignal(to: string, m: SignalMessage): Promise<void>;
  source: ChunkSource;
  logger: Logger;
  handlers: LinkHandlers;
  /** publishes the link machine's transitions for the gateway's inspector; without it they are only logged */
  inspect?: Pick<InspectPublisher, 'record'>;
}

/** Starts one link; see createPeerLinkStarter. */
export type PeerLinkStarter = (opts: PeerLinkOptions, deps: PeerLinkDeps) => PeerLinkHandle;

type TransportBinding = (sendBack: (e: { type: string; [k: string]: unknown }) => void,
  receive: (listener: (cmd: LinkTransportCommand) => void) => void) => () => void;

/**
 * Links that share one provided peerLink machine. `provide()` builds XState's whole state tree again (about
 * 1.5 ms a link, measured: an eighth of a 20-client crowd's CPU in its first two seconds, when every client opens
 * 8–16 links), so a swarm provides once and hands each link its transport in the one synchronous step where the
 * machine starts it (`actor.start()` starts the invoked transport before it returns).
 */
export function createPeerLinkStarter(): PeerLinkStarter {
  let binding: TransportBinding | null = null;
  const machine = peerLinkMachine.provide({
    actors: {
      transport: fromCallback<LinkTransportCommand, LinkTransportInput>(({ sendBack, receive }) => {
        const bind = binding;
        binding = null;
        if (!bind) throw new Error('a peer link transport was started outside its link');
        return bind(sendBack as Parameters<TransportBinding>[0], receive);
      }),
    },
  });
  return (opts, deps) => startLink(machine, (b) => { binding = b; }, opts, deps);
}

/** One link with a machine of its own (tests, one-off links); a swarm uses createPeerLinkStarter. */
export function startPeerLink(opts: PeerLinkOptions, deps: PeerLinkDeps): PeerLinkHandle {
  return createPeerLinkStarter()(opts, deps);
}

function startLink(
  machine: typeof peerLinkMachine,
  bindTransport: (b: TransportBinding | null) => void,
  opts: PeerLinkOptions,
  deps: PeerLinkDeps,
): PeerLinkHandle {
  const { self, remotePeerId } = opts;
  const h = deps.handlers;
  let rtc: RtcLink | null = null;
  let openedAt: number | null = null;
  const startedAt = performance.now();
  // signalling that arrives before the transport exists (never, today: actors start synchronously) is kept
  const early: RelayedSignal[] = [];
  let sendBack: ((e: { type: string; [k: string]: unknown }) => void) | null = null;
  let ended = false;
  let released = false;
  // `have` frames are most of a link's control traffic (every peer sends one per chunk it completes, to every link).
  // Once the link is open and the remote's bitfield is in, a have in range only sets a bit, so it skips the machine
  // (an XState step and a snapshot per have was ~17 % of a 20-client crowd's CPU); anything else still goes to the
  // machine, which judges it (have before bitfield, out of range: strikes). Bits only turn on, in the machine's own
  // array (it sets them in place itself).
  let fastHaves = false;
  let haveCountExtra = 0;
  const takeHave = (index: number): boolean => {
    const bits = actor.getSnapshot().context.remoteHave;
    if (!bits || !Number.isInteger(index) || index < 0 || index >= bits.length) return false;
    if (!bits[index]) {
      bits[index] = true;
      haveCountExtra++;
      h.onHave(handle, index);
    }
    return true;
  };
  let nativeFreed = false;
  // onReleased strictly after onEnd, whichever of the two the native side and the machine report first
  const maybeReleased = () => {
    if (released || !ended || (rtc !== null && !nativeFreed)) return;
    released = true;
    h.onReleased(handle);
  };

  const transport: TransportBinding = (sb, receive) => {
    sendBack = sb;
    const dispatch = createDispatcher({
      handshake: (f) => sb({ type: 'frame.handshake', peerId: f.peerId, videoId: f.videoId, rootHash: f.rootHash,
        uploads: f.uploads, at: performance.now() }),
      bitfield: (f) => sb({ type: 'frame.bitfield', have: f.have }),
      have: (f) => {
        if (!fastHaves || !takeHave(f.index)) sb({ type: 'frame.have', index: f.index });
      },
      choke: () => sb({ type: 'frame.choke' }),
      unchoke: () => sb({ type: 'frame.unchoke' }),
      request: (f) => h.onRequest(remotePeerId, f.index),
      cancel: (f) => h.onCancel(remotePeerId, f.index),
      piece: (f) => h.onPiece(remotePeerId, f.index, f.offset, f.chunkLength, f.data),
      reject: (f) => h.onReject(remotePeerId, f.index, f.reason),
    }, (err) => sb({ type: 'frame.invalid', reason: err.message.slice(0, 200) }));

    rtc = deps.rtc.create({
      role: opts.role, remotePeerId, connId: opts.connId, videoId: self.videoId,
      sendSignal: async (m) => {
        if (m.kind === 'offer') sb({ type: 'signal.offerSent' });
        else if (m.kind === 'answer') sb({ type: 'signal.answerSent' });
        await deps.sendSignal(remotePeerId, m);
      },
      events: {
        onConnected: () => sb({ type: 'transport.connected', at: performance.now() }),
        onOpen: () => sb({ type: 'channel.open', at: performance.now() }),
        onMessage: (data) => dispatch(data),
        onClosed: (reason, failed) => sb({ type: failed ? 'transport.failed' : 'transport.closed', reason }),
        onDrain: () => h.onDrain(),
        onReleased: () => {
          nativeFreed = true;
          maybeReleased();
        },
      },
    });
    for (const m of early.splice(0)) handle.handleSignal(m);
    receive((cmd) => {
      if (cmd.type === 'link.sendHandshake') {
        rtc?.send(encodeFrame({ type: 'handshake', version: WIRE_VERSION, rootHash: self.rootHash, videoId: self.videoId,
          peerId: self.peerId, uploads: self.uploads }));
        // the machine counts a `have` before any bitfield as a violation, so always send one
        rtc?.send(encodeFrame({ type: 'bitfield', have: deps.source.have() }));
      } else if (cmd.type === 'link.close') {
        rtc?.close(cmd.reason);
      }
    });
    return () => rtc?.close('link ended');
  };

  const actor: Actor<typeof peerLinkMachine> = createActor(machine, {
    input: { remotePeerId, role: opts.role, videoId: self.videoId, rootHash: self.rootHash, chunkCount: self.chunkCount,
      ...(opts.timeouts ? { timeouts: opts.timeouts } : {}) },
    // every transition is a debug line (and a record for the inspector): a link's whole life in ~6 lines. Only
    // when someone reads them: inspection costs XState ~8 us per event, and a link takes a `have` per chunk
    ...(deps.inspect || deps.logger.enabled?.('debug') !== false ? {
      inspect: transitionTap({ machine: 'peerLink', id: remotePeerId, videoId: self.videoId },
        { logger: deps.logger, ...(deps.inspect ? { publisher: deps.inspect } : {}) }),
    } : {}),
  });
  const sendFrame = (buf: Uint8Array) => rtc?.send(buf) ?? false;

  const handle: PeerLinkHandle = {
    peerId: remotePeerId,
    remotePeerId,
    connId: opts.connId,
    role: opts.role,
    startedAt,
    setupMs: () => (openedAt === null ? null : openedAt - startedAt),
    remoteHaveCount: () => actor.getSnapshot().context.haveCount + haveCountExtra,
    handleSignal(m) {
      if (!rtc) {
        if (early.length < 64) early.push(m);
        return;
      }
      if (m.kind === 'offer') sendBack?.({ type: 'signal.offerReceived' });
      else if (m.kind === 'answer') sendBack?.({ type: 'signal.answerReceived' });
      rtc.handleSignal(m);
    },
    canRequest: () => canRequest(actor.getSnapshot()),
    snapshot: () => actor.getSnapshot(),
    rttMs: () => rtc?.rttMs() ?? null,
    ban: (reason) => actor.send({ type: 'link.ban', reason }),
    strike: (what) => actor.send({ type: 'frame.invalid', reason: what.slice(0, 200) }),
    close: (reason) => actor.send({ type: 'link.close', reason }),
    sendRequest: (index) => sendFrame(encodeFrame({ type: 'request', index })),
    sendCancel: (index) => sendFrame(encodeFrame({ type: 'cancel', index })),
    sendPiece: (index, offset, chunkLength, data) => sendFrame(encodePiece(index, offset, chunkLength, data)),
    sendReject: (index, reason) => sendFrame(encodeFrame({ type: 'reject', index, reason: reason as 1 | 2 | 3 | 4 })),
    sendChoke: () => sendFrame(encodeFrame({ type: 'choke' })),
    sendUnchoke: () => sendFrame(encodeFrame({ type: 'unchoke' })),
    sendHave: (index) => sendFrame(encodeFrame({ type: 'have', index })),
    bufferedAmount: () => rtc?.bufferedAmount() ?? 0,
  };

  actor.subscribe((snap) => {
    try {
      if (openedAt === null && snap.matches('open')) openedAt = performance.now();
      fastHaves = snap.status === 'active' && snap.context.remoteHave !== null && snap.matches('open');
      h.onSnapshot(handle, snap);
      if (snap.status === 'done' && !ended) {
        ended = true;
        const out = snap.output;
        h.onEnd(handle, out?.status ?? 'closed', out?.reason ?? 'ended');
        maybeReleased();
      }
    } catch (err) {
      deps.logger.warn('link handler failed', { err });
    }
  });
  bindTransport(transport);
  try {
    actor.start();
  } finally {
    bindTransport(null); // consumed by now; never left for the next link's machine
  }
  return handle;
}
