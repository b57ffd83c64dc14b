/**
 * Contract between the peerLink machine and whoever runs it. One machine = one connection to one remote peer
 * for one video swarm. The machine is pure: the only I/O is the `transport` actor the runner supplies with
 * `peerLinkMachine.provide({ actors: { transport } })`. Chunk bytes never travel through machine events; the
 * machine only tracks the link's lifecycle, what the remote holds and whether the remote lets us request.
 *
 * States (snapshot.value), no wrapper state:
 *   'signalling' → 'connecting' → 'handshaking' → { open: 'choked' | 'unchoked' } → 'closed' | 'banned' (final)
 * The runner may request chunks from this peer only while `snapshot.matches({ open: 'unchoked' })` (see
 * `canRequest`). Wall-clock time never enters the machine: timestamps are the `at` the transport puts on events.
 *
 * ## The `transport` actor (fromCallback<LinkTransportCommand, LinkTransportInput>)
 * Invoked on the machine root, so it runs from start through every non-final state and is stopped (its cleanup
 * function runs) when the machine reaches `closed` or `banned`, or when the runner stops the machine. It owns the
 * RTCPeerConnection and the data channel, does the signalling (via NATS), encodes/decodes wire frames, and:
 * - sends the parent every `LinkTransportEvent` below, in the order things happen;
 * - handles the commands the machine sends it (`receive`):
 *   - `link.sendHandshake`: sent on entry to `handshaking` (the data channel is open). Send our handshake frame
 *     (our peerId, videoId, rootHash, uploads) immediately followed by our bitfield (all-false if we hold
 *     nothing: the protocol requires a bitfield right after the handshake, since a `have` before it is a strike).
 *   - `link.close { reason }`: sent on entry to `closed`/`banned`, just before the transport is stopped. Send a
 *     bye (with the reason) if the connection is still up; the actual teardown belongs in the cleanup function,
 *     which runs right after. Must be idempotent: it is also sent when the close was reported by the transport
 *     itself (`transport.closed` / `transport.failed`).
 * - if its start throws, the machine ends in `closed` with reason `transport error: <message>`.
 *
 * ## Protocol violations ("strikes")
 * Each of these adds a strike (and records `lastViolation`); the `maxStrikes`th strike (default 3) → `banned`
 * with reason `'protocol violations'`. The offending frame is otherwise ignored.
 * - `frame.invalid` (the wire decoder rejected a frame): `invalid frame: <reason>`
 * - `frame.handshake` before `channel.open` (in signalling/connecting): `handshake before channel open`
 * - `frame.bitfield|have|choke|unchoke` before the remote's handshake: `<frame> before handshake`
 * - a second `frame.handshake` (in open): `second handshake`
 * - a second `frame.bitfield`: `second bitfield`; one whose length is not `chunkCount` (when given): `bitfield length`
 * - `frame.have` before any bitfield: `have before bitfield`; index not an integer in [0, remoteHave.length):
 *   `have out of range`
 * A repeated choke/unchoke (already in that state) and a `have` for a chunk already known are not violations.
 * A handshake for another swarm (videoId or rootHash differs from ours) bans at once (`'wrong swarm'`), and so does
 * one whose peerId is not `remotePeerId` (`'wrong peer'`).
 */

export type LinkRole = 'offerer' | 'answerer';

/** Timeouts in ms; also overridable with `.provide({ delays: { signallingTimeout, connectTimeout, handshakeTimeout } })`. */
export interface LinkTimeouts {
  /** `signalling` → `closed` ('timeout:signalling'); default 10000 */
  signallingMs?: number;
  /** `connecting` → `closed` ('timeout:connecting'); default 10000 */
  connectMs?: number;
  /** `handshaking` → `closed` ('timeout:handshaking'); default 5000 */
  handshakeMs?: number;
}

export interface PeerLinkInput {
  remotePeerId: string;
  /** offerer: we create the offer; answerer: the remote did */
  role: LinkRole;
  /** our swarm: the remote's handshake must name the same videoId and rootHash */
  videoId: string;
  rootHash: string;
  /** chunks in the manifest; when given, the remote's bitfield must have exactly this length */
  chunkCount?: number;
  /** strikes that ban the peer (default 3) */
  maxStrikes?: number;
  timeouts?: LinkTimeouts;
}

/** Input of the `transport` actor. */
export interface LinkTransportInput {
  remotePeerId: string;
  role: LinkRole;
  videoId: string;
}

/** Optional time of an event on the runner's clock (ms, e.g. Date.now()); stored, never compared to a clock. */
export interface At {
  at?: number;
}

/** What the remote's handshake said about itself (stored even when it got the peer banned). */
export interface LinkRemote {
  peerId: string;
  /** the remote serves chunks (false: it will never unchoke us) */
  uploads: boolean;
}

/**
 * Events the transport sends the machine. `signal.*` are informational except the one that ends signalling:
 * `signal.answerReceived` for the offerer, `signal.answerSent` for the answerer. Connection progress events
 * arriving early are tolerated (`transport.connected` in `signalling` → `connecting`; `channel.open` in
 * `signalling`/`connecting` → `handshaking`); repeated ones are ignored.
 */
export type LinkTransportEvent =
  | ({ type: 'signal.offerSent' } & At)
  | ({ type: 'signal.answerSent' } & At)
  | ({ type: 'signal.offerReceived' } & At)
  | ({ type: 'signal.answerReceived' } & At)
  /** ICE + DTLS done (stored as `connectedAt`) */
  | ({ type: 'transport.connected' } & At)
  /** the data channel is open: the machine answers with `link.sendHandshake` */
  | ({ type: 'channel.open' } & At)
  /** the remote's handshake; its `at` is stored as `openedAt` when accepted */
  | ({ type: 'frame.handshake'; peerId: string; videoId: string; rootHash: string; uploads: boolean } & At)
  /** the remote's bitfield, decoded: have[i] = it holds verified chunk i */
  | ({ type: 'frame.bitfield'; have: boolean[] } & At)
  | ({ type: 'frame.have'; index: number } & At)
  /** the remote no longer lets us request */
  | ({ type: 'frame.choke' } & At)
  /** the remote lets us request */
  | ({ type: 'frame.unchoke' } & At)
  /** the wire decoder rejected a frame (a strike) */
  | ({ type: 'frame.invalid'; reason: string } & At)
  /** the connection ended (bye received, channel closed...) → `closed` with this reason */
  | ({ type: 'transport.closed'; reason: string } & At)
  /** the connection could not be made or broke (ICE failed...) → `closed` with this reason */
  | ({ type: 'transport.failed'; reason: string } & At);

/** Events the runner sends the machine (`actor.send`), from any non-final state. */
export type PeerLinkCommand =
  /** e.g. a chunk from this peer failed verification → `banned` with this reason */
  | { type: 'link.ban'; reason: string }
  /** we no longer want this link → `closed` with this reason */
  | { type: 'link.close'; reason: string };

/** Every event the machine handles. */
export type PeerLinkEvent = LinkTransportEvent | PeerLinkCommand;

/** Commands the machine sends the `transport` child (its `receive`). */
export type LinkTransportCommand =
  | { type: 'link.sendHandshake' }
  | { type: 'link.close'; reason: string };

export type LinkOutcome = 'closed' | 'banned';

/** The machine's context: plain JSON, readable by the runner at any time. */
export interface PeerLinkContext {
  remotePeerId: string;
  role: LinkRole;
  videoId: string;
  rootHash: string;
  chunkCount: number | null;
  maxStrikes: number;
  timeouts: Required<LinkTimeouts>;
  /** from the remote's handshake, once received */
  remote: LinkRemote | null;
  /** what the remote holds: from its bitfield, updated by its `have`s; null until the bitfield */
  remoteHave: boolean[] | null;
  /** true entries of remoteHave */
  haveCount: number;
  /**
   * the index of the remote's latest `have` (null after a bitfield): with `haveCount` it tells an observer what
   * one have changed without scanning a large bitfield
   */
  lastHave: number | null;
  /** protocol violations so far */
  strikes: number;
  lastViolation: string | null;
  /** `at` of `transport.connected` (null: not connected yet, or the event carried no time) */
  connectedAt: number | null;
  /** `at` of the accepted handshake (null: not open yet, or the event carried no time) */
  openedAt: number | null;
  /** set on the transition to the final state */
  outcome: LinkOutcome | null;
  reason: string | null;
}

export interface PeerLinkOutput {
  status: LinkOutcome;
  reason: string;
}
