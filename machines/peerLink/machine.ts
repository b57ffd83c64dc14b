/**
 * The peerLink machine: the lifecycle of one connection to one remote peer for one swarm — signalling, ICE/DTLS,
 * the handshake on the data channel, then open (choked or unchoked by the remote) until it is closed or the
 * peer is banned. Pure: the only effect is the `transport` actor the runner provides (see types.ts for the
 * contract), invoked on the root so it lives exactly as long as the link is not final.
 */
import { and, assertEvent, assign, enqueueActions, fromCallback, sendTo, setup } from 'xstate';
import type { SnapshotFrom } from 'xstate';
import type {
  LinkOutcome, LinkTimeouts, LinkTransportCommand, LinkTransportInput, PeerLinkContext, PeerLinkEvent, PeerLinkInput,
  PeerLinkOutput,
} from './types.js';

export const DEFAULT_LINK_TIMEOUTS: Required<LinkTimeouts> = {
  signallingMs: 10_000,
  connectMs: 10_000,
  handshakeMs: 5_000,
};
export const DEFAULT_MAX_STRIKES = 3;

/** Reasons the machine itself gives for ending a link (the others come from the events that ended it). */
export const LinkReasons = {
  wrongSwarm: 'wrong swarm',
  wrongPeer: 'wrong peer',
  protocolViolations: 'protocol violations',
  signallingTimeout: 'timeout:signalling',
  connectTimeout: 'timeout:connecting',
  handshakeTimeout: 'timeout:handshaking',
} as const;

/** Every state id, qualified below the machine id (`open.choked` is `peerLink.open.choked`). */
export const PEER_LINK_STATES = [
  'signalling', 'connecting', 'handshaking', 'open', 'open.choked', 'open.unchoked', 'closed', 'banned',
] as const;

const ban = (reason: string) => ({ type: 'end', params: { outcome: 'banned', reason } }) as const;

/** A protocol violation: a strike, and the last allowed one bans. Always matches (nothing falls through). */
const violation = (what: string) => [
  { guard: 'isLastStrike', target: '#peerLink.banned', actions: [{ type: 'strike', params: { what } }, ban(LinkReasons.protocolViolations)] },
  { actions: { type: 'strike', params: { what } } },
] as const;

const timeout = (reason: string) => ({
  target: '#peerLink.closed',
  actions: { type: 'end', params: { outcome: 'closed', reason } },
}) as const;

const positive = (n: number | undefined, fallback: number) =>
  n !== undefined && Number.isFinite(n) && n >= 0 ? n : fallback;

export const peerLinkMachine = setup({
  types: {
    context: {} as PeerLinkContext,
    events: {} as PeerLinkEvent,
    input: {} as PeerLinkInput,
    output: {} as PeerLinkOutput,
  },
  actors: {
    transport: fromCallback<LinkTransportCommand, LinkTransportInput>(() => {
      throw new Error('transport not provided');
    }),
  },
  delays: {
    signallingTimeout: ({ context }) => context.timeouts.signallingMs,
    connectTimeout: ({ context }) => context.timeouts.connectMs,
    handshakeTimeout: ({ context }) => context.timeouts.handshakeMs,
  },
  guards: {
    roleIs: ({ context }, p: { role: PeerLinkContext['role'] }) => context.role === p.role,
    isLastStrike: ({ context }) => context.strikes + 1 >= context.maxStrikes,
    isWrongSwarm: ({ context, event }) =>
      event.type === 'frame.handshake' && (event.videoId !== context.videoId || event.rootHash !== context.rootHash),
    isWrongPeer: ({ context, event }) => event.type === 'frame.handshake' && event.peerId !== context.remotePeerId,
    hasBitfield: ({ context }) => context.remoteHave !== null,
    isBadBitfieldLength: ({ context, event }) =>
      event.type === 'frame.bitfield' && context.chunkCount !== null && event.have.length !== context.chunkCount,
    isHaveInRange: ({ context, event }) =>
      event.type === 'frame.have' && context.remoteHave !== null && Number.isInteger(event.index) &&
      event.index >= 0 && event.index < context.remoteHave.length,
  },
  actions: {
    sendHandshake: sendTo('transport', { type: 'link.sendHandshake' } satisfies LinkTransportCommand),
    // on entry to a final state, before the machine stops the transport: lets the runner send a bye with the reason
    closeTransport: enqueueActions(({ context, enqueue, self }) => {
      const transport = self.getSnapshot().children.transport;
      if (transport === undefined || transport.getSnapshot().status !== 'active') return;
      const command: LinkTransportCommand = { type: 'link.close', reason: context.reason ?? 'closed' };
      enqueue.sendTo(transport, command);
    }),
    end: assign((_, p: { outcome: LinkOutcome; reason: string }) => ({ outcome: p.outcome, reason: p.reason })),
    strike: assign(({ context }, p: { what: string }) => ({ strikes: context.strikes + 1, lastViolation: p.what })),
    recordConnected: assign(({ context, event }) => {
      assertEvent(event, 'transport.connected');
      return { connectedAt: event.at ?? context.connectedAt };
    }),
    storeRemote: assign(({ event }) => {
      assertEvent(event, 'frame.handshake');
      return { remote: { peerId: event.peerId, uploads: event.uploads } };
    }),
    recordOpened: assign(({ event }) => {
      assertEvent(event, 'frame.handshake');
      return { openedAt: event.at ?? null };
    }),
    storeBitfield: assign(({ event }) => {
      assertEvent(event, 'frame.bitfield');
      const remoteHave = event.have.map((h) => h === true);
      return { remoteHave, haveCount: remoteHave.filter(Boolean).length, lastHave: null };
    }),
    recordHave: assign(({ context, event }) => {
      assertEvent(event, 'frame.have');
      if (context.remoteHave === null || context.remoteHave[event.index]) return {};
      // Set in place, deliberately: the array is this link's own (made by storeBitfield), bits only ever turn on,
      // and a copy per `have` of a bitfield that can hold 65,536 entries (a live swarm, several haves a second on
      // every link) was the largest CPU cost of a 20-viewer live run. `haveCount` and `lastHave` change with it.
      context.remoteHave[event.index] = true;
      return { haveCount: context.haveCount + 1, lastHave: event.index };
    }),
  },
}).createMachine({
  id: 'peerLink',
  context: ({ input }) => ({
    remotePeerId: input.remotePeerId,
    role: input.role,
    videoId: input.videoId,
    rootHash: input.rootHash,
    chunkCount: input.chunkCount ?? null,
    maxStrikes: Math.max(1, Math.floor(positive(input.maxStrikes, DEFAULT_MAX_STRIKES))),
    timeouts: {
      signallingMs: positive(input.timeouts?.signallingMs, DEFAULT_LINK_TIMEOUTS.signallingMs),
      connectMs: positive(input.timeouts?.connectMs, DEFAULT_LINK_TIMEOUTS.connectMs),
      handshakeMs: positive(input.timeouts?.handshakeMs, DEFAULT_LINK_TIMEOUTS.handshakeMs),
    },
    remote: null,
    remoteHave: null,
    haveCount: 0,
    lastHave: null,
    strikes: 0,
    lastViolation: null,
    connectedAt: null,
    openedAt: null,
    outcome: null,
    reason: null,
  }),
  // on the root: the transport lives through every non-final state; reaching a final state stops it
  invoke: {
    id: 'transport',
    src: 'transport',
    input: ({ context }) => ({ remotePeerId: context.remotePeerId, role: context.role, videoId: context.videoId }),
    onError: {
      target: '.closed',
      actions: {
        type: 'end',
        params: ({ event }) => ({
          outcome: 'closed' as const,
          reason: `transport error: ${event.error instanceof Error ? event.error.message : String(event.error)}`,
        }),
      },
    },
  },
  // defaults for every non-final state (final states take no events); states below override the frame ones
  on: {
    'transport.closed': {
      target: '.closed',
      actions: { type: 'end', params: ({ event }) => ({ outcome: 'closed' as const, reason: event.reason }) },
    },
    'transport.failed': {
      target: '.closed',
      actions: { type: 'end', params: ({ event }) => ({ outcome: 'closed' as const, reason: event.reason }) },
    },
    'link.close': {
      target: '.closed',
      actions: { type: 'end', params: ({ event }) => ({ outcome: 'closed' as const, reason: event.reason }) },
    },
    'link.ban': {
      target: '.banned',
      actions: { type: 'end', params: ({ event }) => ({ outcome: 'banned' as const, reason: event.reason }) },
    },
    'frame.invalid': [
      {
        guard: 'isLastStrike',
        target: '.banned',
        actions: [
          { type: 'strike', params: ({ event }) => ({ what: `invalid frame: ${event.reason}` }) },
          ban(LinkReasons.protocolViolations),
        ],
      },
      { actions: { type: 'strike', params: ({ event }) => ({ what: `invalid frame: ${event.reason}` }) } },
    ],
    'frame.handshake': violation('handshake before channel open'),
    'frame.bitfield': violation('bitfield before handshake'),
    'frame.have': violation('have before handshake'),
    'frame.choke': violation('choke before handshake'),
    'frame.unchoke': violation('unchoke before handshake'),
  },
  initial: 'signalling',
  states: {
    /** offer/answer exchange, done by the transport; ends when the answer is sent (answerer) / received (offerer) */
    signalling: {
      after: { signallingTimeout: timeout(LinkReasons.signallingTimeout) },
      on: {
        'signal.answerReceived': { guard: { type: 'roleIs', params: { role: 'offerer' } }, target: 'connecting' },
        'signal.answerSent': { guard: { type: 'roleIs', params: { role: 'answerer' } }, target: 'connecting' },
        // the transport may get ahead of the signalling events it reports
        'transport.connected': { target: 'connecting', actions: 'recordConnected' },
        'channel.open': 'handshaking',
      },
    },
    /** ICE + DTLS, then the data channel opening */
    connecting: {
      after: { connectTimeout: timeout(LinkReasons.connectTimeout) },
      on: {
        'transport.connected': { actions: 'recordConnected' },
        'channel.open': 'handshaking',
      },
    },
    /** the channel is open: ours is sent on entry, theirs must name our swarm */
    handshaking: {
      entry: 'sendHandshake',
      after: { handshakeTimeout: timeout(LinkReasons.handshakeTimeout) },
      on: {
        'frame.handshake': [
          { guard: 'isWrongSwarm', target: 'banned', actions: ['storeRemote', ban(LinkReasons.wrongSwarm)] },
          { guard: 'isWrongPeer', target: 'banned', actions: ['storeRemote', ban(LinkReasons.wrongPeer)] },
          { target: 'open', actions: ['storeRemote', 'recordOpened'] },
        ],
      },
    },
    /** handshaken; the children say whether the REMOTE lets us request (only in `unchoked`) */
    open: {
      initial: 'choked',
      on: {
        'frame.handshake': violation('second handshake'),
        'frame.bitfield': [
          ...violationIf('hasBitfield', 'second bitfield'),
          ...violationIf('isBadBitfieldLength', 'bitfield length'),
          { actions: 'storeBitfield' },
        ],
        'frame.have': [
          { guard: 'isHaveInRange', actions: 'recordHave' },
          ...violationIf('hasBitfield', 'have out of range'),
          ...violation('have before bitfield'),
        ],
      },
      states: {
        choked: {
          on: {
            'frame.unchoke': 'unchoked',
            'frame.choke': {},
          },
        },
        unchoked: {
          on: {
            'frame.choke': 'choked',
            'frame.unchoke': {},
          },
        },
      },
    },
    closed: { type: 'final', entry: 'closeTransport' },
    banned: { type: 'final', entry: 'closeTransport' },
  },
  output: ({ context }) => ({ status: context.outcome ?? 'closed', reason: context.reason ?? '' }),
});

/** `violation(what)` only when `guard` holds; falls through otherwise. */
function violationIf(guard: 'hasBitfield' | 'isBadBitfieldLength', what: string) {
  return [
    {
      guard: and([guard, 'isLastStrike']),
      target: '#peerLink.banned',
      actions: [{ type: 'strike', params: { what } }, ban(LinkReasons.protocolViolations)],
    },
    { guard, actions: { type: 'strike', params: { what } } },
  ] as const;
}

export type PeerLinkMachine = typeof peerLinkMachine;
export type PeerLinkSnapshot = SnapshotFrom<PeerLinkMachine>;

/** True when the runner may request chunks from this peer: the link is open and the remote has unchoked us. */
export function canRequest(snapshot: PeerLinkSnapshot): boolean {
  return snapshot.status === 'active' && snapshot.matches({ open: 'unchoked' });
}
