/**
 * The download machine: opens a session with the origin, fetches chunks from it while it holds a slot, waits
 * (later: fetches from peers) while it does not, then assembles the file. Pure: every effect is an actor the
 * runner provides (see types.ts), so the same machine runs in the CLI, in tests and in the diagram exporter.
 */
import { assertEvent, assign, enqueueActions, fromCallback, fromPromise, setup } from 'xstate';
import type { EventObject } from 'xstate';
import { OriginPolicies, type OpenReply } from '../../protocol/mod.js';
import { fetchChildId, fetchIndexOf, retryDelayMs, retryId, toDownloadError, type DownloadError } from './schedule.js';
import { peerFetchId, peerFetchOf } from './peers.js';
import {
  applyPeerEvent, chunkVerified, peerFetchFailure, planOriginFetches, planPeerFetches, type DownloadContext,
  type DownloadOutcome, type Effects, type FetchPlan,
} from './context.js';
import {
  attemptsAfter, chunkError, failureOf, isCurrentFetch, isCurrentPeerFetch, isFetchDone, isPeerFetchDone, knownHave,
  type DownloadMachineEvent,
} from './events.js';
import type {
  AssembleInput, AssembleOutput, DownloadEvent, DownloadInput, FetchChunkInput, FetchChunkOutput, OpenSessionInput,
  OpenSessionOutput, ReleaseSessionInput, SessionKeeperInput, SwarmInput,
} from './types.js';

export type { DownloadError } from './schedule.js';
export type { DownloadContext, DownloadOutcome } from './context.js';
export { toFetchFailure, retryDelayMs } from './schedule.js';
export type { DownloadMachineEvent, FetchRetryEvent } from './events.js';

export const DEFAULT_PARALLEL = 4;
export const DEFAULT_MAX_ATTEMPTS = 5;
export const DEFAULT_PER_PEER = 4;
export const DEFAULT_MAX_SOURCES = 2;
/** How long a terminal state waits for the release reply before giving up (the lease expires on its own). */
export const RELEASE_TIMEOUT_MS = 3000;

export interface DownloadOutput {
  status: DownloadOutcome;
  outputPath?: string;
  error?: DownloadError;
  bytesBySource: Record<string, number>;
  chunksFetched: number;
}

/** Records and spawns the fetch children a plan chose (origin or peers: the same child actor). */
function spawnPlan(enqueue: {
  assign(a: Partial<DownloadContext>): void;
  spawnChild(src: 'fetchChunk', o: FetchPlan['spawn'][number]): void;
}, plan: FetchPlan | null): void {
  if (!plan) return;
  enqueue.assign(plan.assign);
  for (const sp of plan.spawn) enqueue.spawnChild('fetchChunk', sp);
}

/** Carries out what a pure update decided: stop children, ban a peer, assign context. */
function apply(enqueue: {
  stopChild(id: string): void;
  sendTo(to: 'swarm', e: { type: 'swarm.ban'; peerId: string; reason: string }): void;
  assign(a: Partial<DownloadContext>): void;
}, fx: Effects): void {
  for (const id of fx.stop) enqueue.stopChild(id);
  if (fx.ban) enqueue.sendTo('swarm', { type: 'swarm.ban', ...fx.ban });
  enqueue.assign(fx.assign);
}

function grantFrom(event: DownloadMachineEvent) {
  assertEvent(event, ['origin.slotOffered', 'origin.grantRenewed']);
  return { grant: event.grant, lease: event.lease, position: null };
}

/** `server` and `resumeServer`: fetch from the origin under the current grant. */
const originFetching = {
  entry: 'scheduleFetches',
  // requests already admitted by the gateway finish even if the slot goes (a rotation, a revocation): cutting
  // them off would throw away origin bytes already sent; only their retry timers end here
  exit: 'clearBackoff',
  on: {
    'origin.leaseLost': { target: 'p2p', actions: 'dropGrant' },
    'origin.slotOffered': { actions: 'storeGrant' },
    'fetch.retry': { actions: ['endBackoff', 'scheduleFetches'] },
    'xstate.done.actor.fetch.*': { guard: 'isCurrentFetch', actions: ['recordChunk', 'scheduleFetches', 'schedulePeers'] },
    'xstate.error.actor.fetch.*': [
      { guard: 'isDeclinedFetch', actions: ['declineChunk', 'scheduleFetches', 'schedulePeers'] },
      // refused: the other requests under this grant will be refused too
      { guard: 'isDeniedFetch', target: 'p2p', actions: ['dropGrant', 'stopFetches'] },
      { guard: 'isLastAttempt', target: '#download.releasing', actions: 'failChunk' },
      { guard: 'isCurrentFetch', actions: ['retryChunk', 'scheduleFetches'] },
    ],
  },
} as const;

/** From `releasing` to the terminal state its outcome names. */
const settle = [
  { guard: { type: 'outcomeIs', params: { outcome: 'complete' } }, target: 'complete' },
  { guard: { type: 'outcomeIs', params: { outcome: 'cancelled' } }, target: 'cancelled' },
  { target: 'failed' },
] as const;

export const downloadMachine = setup({
  types: {
    context: {} as DownloadContext,
    events: {} as DownloadMachineEvent,
    input: {} as DownloadInput,
    output: {} as DownloadOutput,
  },
  actors: {
    openSession: fromPromise<OpenSessionOutput, OpenSessionInput>(async () => {
      throw new Error('openSession not provided');
    }),
    sessionKeeper: fromCallback<EventObject, SessionKeeperInput>(() => {
      throw new Error('sessionKeeper not provided');
    }),
    fetchChunk: fromPromise<FetchChunkOutput, FetchChunkInput>(async () => {
      throw new Error('fetchChunk not provided');
    }),
    assemble: fromPromise<AssembleOutput, AssembleInput>(async () => {
      throw new Error('assemble not provided');
    }),
    releaseSession: fromPromise<void, ReleaseSessionInput>(async () => {
      throw new Error('releaseSession not provided');
    }),
    // unlike the others, "no swarm" is a valid runner (origin only), so the default does nothing
    swarm: fromCallback<EventObject, SwarmInput>(() => () => {}),
  },
  delays: {
    retryDelay: ({ context, event }) => retryDelayMs(context.attempts[fetchIndexOf(event.type)] ?? 1),
    releaseTimeout: RELEASE_TIMEOUT_MS,
    /** how long a chunk the origin declined is left to the peers before the origin is asked again */
    declineDelay: 3000,
  },
  guards: {
    coversEveryChunk: ({ context }, p: { reply: OpenReply }) =>
      knownHave(context, p.reply.manifest.chunks.length).haveCount === p.reply.manifest.chunks.length,
    isGranted: (_, p: { reply: OpenReply }) => p.reply.status === 'granted',
    hasEveryChunk: ({ context }) => context.manifest !== null && context.haveCount === context.manifest.chunks.length,
    isCurrentFetch: ({ context, event }) => isCurrentFetch(context, event),
    isCurrentPeerFetch: ({ context, event }) => isCurrentPeerFetch(context, event),
    isDeniedFetch: ({ context, event }) => isCurrentFetch(context, event) && failureOf(event).reason === 'denied',
    isDeclinedFetch: ({ context, event }) => isCurrentFetch(context, event) && failureOf(event).reason === 'declined',
    isLastAttempt: ({ context, event }) =>
      isCurrentFetch(context, event) && attemptsAfter(context, event) >= context.maxAttempts,
    outcomeIs: ({ context }, p: { outcome: DownloadOutcome }) => context.outcome === p.outcome,
  },
  actions: {
    storeOpenReply: assign(({ context }, p: { reply: OpenReply }) => {
      const { reply } = p;
      const { have, haveCount } = knownHave(context, reply.manifest.chunks.length);
      return {
        sessionId: reply.sessionId,
        manifest: reply.manifest,
        grant: reply.status === 'granted' ? reply.grant : null,
        lease: reply.status === 'granted' ? reply.lease : null,
        position: reply.status === 'denied' ? reply.position : null,
        policy: reply.policy ?? OriginPolicies.serverFirst,
        have,
        haveCount,
        initialHave: [],
      };
    }),
    storeGrant: assign(({ event }) => grantFrom(event)),
    storePosition: assign(({ event }) => {
      assertEvent(event, 'origin.position');
      return { position: event.position };
    }),
    // the slot is gone: fetches with the old grant would only be refused again
    dropGrant: assign({ grant: null, lease: null }),
    fail: assign((_, p: { error: DownloadError }) => ({ error: p.error, outcome: 'failed' as const })),
    failChunk: assign(({ context, event }) => ({ error: chunkError(context, event), outcome: 'failed' as const })),
    settleAs: assign((_, p: { outcome: DownloadOutcome }) => ({ outcome: p.outcome })),
    scheduleFetches: enqueueActions(({ context, enqueue }) => spawnPlan(enqueue, planOriginFetches(context))),
    // spawned children outlive the state that spawned them: stopping them is what aborts their requests
    stopFetches: enqueueActions(({ context, enqueue }) => {
      for (const index of context.inFlight) enqueue.stopChild(fetchChildId(index));
      for (const index of context.backoff) enqueue.cancel(retryId(index));
      enqueue.assign({ inFlight: [], backoff: [] });
    }),
    clearBackoff: enqueueActions(({ context, enqueue }) => {
      for (const index of context.backoff) enqueue.cancel(retryId(index));
      enqueue.assign({ backoff: [] });
    }),
    // an origin request that fails after the slot went is not retried: peers or a later slot will bring it
    dropFetch: enqueueActions(({ context, event, enqueue }) => {
      const index = fetchIndexOf(event.type);
      enqueue.stopChild(fetchChildId(index));
      enqueue.assign({ inFlight: context.inFlight.filter((i) => i !== index) });
    }),
    recordChunk: enqueueActions(({ context, event, enqueue }) => {
      if (!isFetchDone(event)) return;
      apply(enqueue, chunkVerified(context, fetchIndexOf(event.type), event.output, null));
    }),
    recordPeerChunk: enqueueActions(({ context, event, enqueue }) => {
      if (!isPeerFetchDone(event)) return;
      const { index, peerId } = peerFetchOf(event.type)!;
      apply(enqueue, chunkVerified(context, index, event.output, peerId));
    }),
    peerFetchFailed: enqueueActions(({ context, event, enqueue }) => {
      const f = peerFetchOf(event.type);
      if (f) apply(enqueue, peerFetchFailure(context, f, failureOf(event)));
    }),
    schedulePeers: enqueueActions(({ context, enqueue }) => spawnPlan(enqueue, planPeerFetches(context))),
    stopPeerFetches: enqueueActions(({ context, enqueue }) => {
      for (const f of context.peerInFlight) enqueue.stopChild(peerFetchId(f.index, f.peerId));
      enqueue.assign({ peerInFlight: [] });
    }),
    peerEvent: assign(({ context, event }) => applyPeerEvent(context, event as DownloadEvent)),
    usePeers: assign({ usePeers: true }),
    // the seeds' server-first rule keeps an admitted client on the origin; swarm-aware clients use peers too
    serverMode: assign(({ context }) => ({ usePeers: context.policy === OriginPolicies.swarmAware })),
    declineChunk: enqueueActions(({ context, event, enqueue }) => {
      const index = fetchIndexOf(event.type);
      enqueue.stopChild(fetchChildId(index));
      enqueue.assign({ inFlight: context.inFlight.filter((i) => i !== index), declined: [...context.declined, index] });
      enqueue.raise({ type: 'origin.undecline', index }, { id: `undecline.${index}`, delay: 'declineDelay' });
    }),
    undecline: assign(({ context, event }) => {
      assertEvent(event, 'origin.undecline');
      return { declined: context.declined.filter((i) => i !== event.index) };
    }),
    retryChunk: enqueueActions(({ context, event, enqueue }) => {
      const index = fetchIndexOf(event.type);
      const { reason } = failureOf(event);
      enqueue.stopChild(fetchChildId(index));
      // corrupt bytes are not a sign of an overloaded link: retry at once; the others wait a little
      const wait = reason !== 'corrupt';
      enqueue.assign({
        attempts: { ...context.attempts, [index]: attemptsAfter(context, event) },
        inFlight: context.inFlight.filter((i) => i !== index),
        backoff: wait ? [...context.backoff, index] : context.backoff,
      });
      if (wait) enqueue.raise({ type: 'fetch.retry', index }, { id: retryId(index), delay: 'retryDelay' });
    }),
    endBackoff: assign(({ context, event }) => {
      assertEvent(event, 'fetch.retry');
      return { backoff: context.backoff.filter((i) => i !== event.index) };
    }),
  },
}).createMachine({
  id: 'download',
  context: ({ input }) => ({
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
  }),
  initial: 'opening',
  // a fetch child stopped too late to be silenced must not crash the machine (unhandled actor errors do)
  on: { 'xstate.error.actor.fetch.*': {}, 'xstate.error.actor.pfetch.*': {}, 'xstate.done.actor.pfetch.*': {} },
  states: {
    opening: {
      invoke: {
        id: 'openSession',
        src: 'openSession',
        input: ({ context }) => ({ videoId: context.videoId, peerId: context.peerId }),
        onDone: [
          {
            guard: { type: 'coversEveryChunk', params: ({ event }) => ({ reply: event.output }) },
            target: 'assembling',
            actions: { type: 'storeOpenReply', params: ({ event }) => ({ reply: event.output }) },
          },
          {
            guard: { type: 'isGranted', params: ({ event }) => ({ reply: event.output }) },
            target: 'active.server',
            actions: { type: 'storeOpenReply', params: ({ event }) => ({ reply: event.output }) },
          },
          {
            target: 'active.p2p',
            actions: { type: 'storeOpenReply', params: ({ event }) => ({ reply: event.output }) },
          },
        ],
        // no session exists yet, so there is nothing to release
        onError: {
          target: 'failed',
          actions: { type: 'fail', params: ({ event }) => ({ error: toDownloadError(event.error, 'open_failed') }) },
        },
      },
      on: { 'download.cancel': { target: 'cancelled', actions: { type: 'settleAs', params: { outcome: 'cancelled' } } } },
    },
    active: {
      invoke: [{
        id: 'sessionKeeper',
        src: 'sessionKeeper',
        input: ({ context }) => ({ sessionId: context.sessionId!, peerId: context.peerId, videoId: context.videoId }),
        onError: {
          target: 'releasing',
          actions: { type: 'fail', params: ({ event }) => ({ error: toDownloadError(event.error, 'session_lost') }) },
        },
      }, {
        id: 'swarm',
        src: 'swarm',
        input: ({ context }) => ({ videoId: context.videoId, peerId: context.peerId, manifest: context.manifest! }),
      }],
      exit: ['stopFetches', 'stopPeerFetches'],
      // on `active`, not on the origin states: chunks from peers will complete the download the same way
      always: { guard: 'hasEveryChunk', target: 'assembling' },
      on: {
        'origin.grantRenewed': { actions: 'storeGrant' },
        // a new session is opened; verified chunks are kept (knownHave), so nothing is fetched twice
        'origin.sessionLost': { target: 'opening', actions: 'dropGrant' },
        'origin.undecline': { actions: ['undecline', 'scheduleFetches'] },
        'peer.joined': { actions: ['peerEvent', 'schedulePeers'] },
        'peer.bitfield': { actions: ['peerEvent', 'schedulePeers'] },
        'peer.have': { actions: ['peerEvent', 'schedulePeers'] },
        'peer.unchoked': { actions: ['peerEvent', 'schedulePeers'] },
        'peer.choked': { actions: 'peerEvent' },
        'peer.left': { actions: 'peerEvent' },
        // origin requests still running after the slot went (p2p): keep what they bring
        'xstate.done.actor.fetch.*': { guard: 'isCurrentFetch', actions: ['recordChunk', 'scheduleFetches', 'schedulePeers'] },
        'xstate.error.actor.fetch.*': { guard: 'isCurrentFetch', actions: ['dropFetch', 'schedulePeers'] },
        'xstate.done.actor.pfetch.*': {
          guard: 'isCurrentPeerFetch', actions: ['recordPeerChunk', 'scheduleFetches', 'schedulePeers'],
        },
        'xstate.error.actor.pfetch.*': {
          guard: 'isCurrentPeerFetch', actions: ['peerFetchFailed', 'scheduleFetches', 'schedulePeers'],
        },
        'download.cancel': { target: 'releasing', actions: { type: 'settleAs', params: { outcome: 'cancelled' } } },
      },
      initial: 'server',
      states: {
        server: { ...originFetching, entry: ['serverMode', 'scheduleFetches', 'schedulePeers'] },
        p2p: {
          entry: ['usePeers', 'schedulePeers'],
          on: {
            'origin.slotOffered': { target: 'resumeServer', actions: 'storeGrant' },
            'origin.position': { actions: 'storePosition' },
          },
        },
        // `server` again, after a denial or a lost lease; a distinct name keeps the switch visible in history
        resumeServer: { ...originFetching, entry: ['usePeers', 'scheduleFetches', 'schedulePeers'] },
      },
    },
    assembling: {
      invoke: {
        id: 'assemble',
        src: 'assemble',
        input: ({ context }) => ({ manifest: context.manifest! }),
        onDone: {
          target: 'releasing',
          actions: assign(({ event }) => ({ outputPath: event.output.path, outcome: 'complete' as const })),
        },
        onError: {
          target: 'releasing',
          actions: { type: 'fail', params: ({ event }) => ({ error: toDownloadError(event.error, 'assemble_failed') }) },
        },
      },
      on: { 'download.cancel': { target: 'releasing', actions: { type: 'settleAs', params: { outcome: 'cancelled' } } } },
    },
    // final states stop every child at once, so a release spawned there would never run: release first
    releasing: {
      invoke: {
        id: 'releaseSession',
        src: 'releaseSession',
        input: ({ context }) => ({ sessionId: context.sessionId!, peerId: context.peerId }),
        onDone: settle,
        // a failed release is not the download's failure: the lease expires on its own
        onError: settle,
      },
      after: { releaseTimeout: settle },
    },
    complete: { type: 'final' },
    failed: { type: 'final' },
    cancelled: { type: 'final' },
  },
  output: ({ context }) => {
    const out: DownloadOutput = {
      status: context.outcome ?? 'failed',
      bytesBySource: context.bytesBySource,
      chunksFetched: context.chunksFetched,
    };
    if (context.outputPath !== null) out.outputPath = context.outputPath;
    if (context.error !== null) out.error = context.error;
    return out;
  },
});

export type DownloadMachine = typeof downloadMachine;
