/**
 * The download machine: opens a session with the origin, fetches chunks from it while it holds a slot, from
 * peers while it does not (and alongside the origin when the policy allows), then assembles the file. A
 * streaming download also has a playhead: chunks near it come first (playback.ts). Pure: every effect is an actor the
 * runner provides (see types.ts), so the same machine runs in the CLI, in tests and in the diagram exporter.
 */
import { and, assertEvent, assign, enqueueActions, raise, sendTo, setup } from 'xstate';
import { OriginPolicies } from '../../protocol/mod.js';
import { fetchChildId, retryDelayMs, retryId, toDownloadError, type DownloadError } from './schedule.js';
import {
  grantRefused, grantRejectedError, originAnswered, originSilent, outageDelay, outageError, OUTAGE_TIMEOUT_MS,
  peersProgressed,
} from './failures.js';
import { peerFetchId } from './peers.js';
import { applyPeerEvent, chunkVerified, indexPeers, initialContext, peerFetchFailure, type DownloadContext, type DownloadOutcome } from './context.js';
import { planOriginFetches, planPeerFetches, planUrgentFetches } from './plan.js';
import { makeRoomForUrgent, movePlayhead } from './playback.js';
import {
  apply, grantFrom, type DownloadMode, openBackoffState, openingState, originFetching, p2pState, peersOnlyState, settle, spawnPlan,
} from './states.js';
import { needsOrigin, turnStart } from './turns.js';
import { pauseUrgent, spawnUrgent, stopUrgent } from './urgent.js';
import {
  attemptsAfter, beatMeaning, chunkError, failureOf, fetchedIndex, knownHave, originResultOf, peerResultOf, urgentResultOf,
  type DownloadMachineEvent,
} from './events.js';
import { downloadActors } from './actors.js';
import { downloadGuards, openReplyOf } from './guards.js';
import type { DownloadEvent, DownloadInput } from './types.js';

export type { DownloadError } from './schedule.js';
export type { DownloadContext, DownloadOutcome } from './context.js';
export { toFetchFailure, retryDelayMs } from './schedule.js';
export type { DownloadMachineEvent, FetchRetryEvent } from './events.js';
export {
  DEFAULT_BUFFER_CHUNKS, DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_GRANT_REJECTIONS, DEFAULT_MAX_SOURCES, DEFAULT_PARALLEL,
  DEFAULT_PER_PEER, DEFAULT_URGENT_CHUNKS,
} from './context.js';
export { modeOfSnapshot, type DownloadMode } from './states.js';
/** How long a terminal state waits for the release reply before giving up (the lease expires on its own). */
export const RELEASE_TIMEOUT_MS = 3000;

export interface DownloadOutput {
  status: DownloadOutcome;
  outputPath?: string;
  error?: DownloadError;
  bytesBySource: Record<string, number>;
  chunksFetched: number;
  /** streaming: bytes that came under urgent grants (part of bytesBySource.origin); absent when none did */
  urgentBytes?: number;
}

export const downloadMachine = setup({
  types: {
    context: {} as DownloadContext,
    events: {} as DownloadMachineEvent,
    input: {} as DownloadInput,
    output: {} as DownloadOutput,
    tags: {} as DownloadMode,
  },
  actors: downloadActors,
  delays: {
    retryDelay: ({ context, event }) => retryDelayMs(context.attempts[fetchedIndex(event)] ?? 1),
    releaseTimeout: RELEASE_TIMEOUT_MS,
    /** how long a chunk the origin declined is left to the peers before the origin is asked again */
    declineDelay: 3000,
    /** how long the origin may stay silent, with no chunk from peers either, before the download fails */
    outageTimeout: OUTAGE_TIMEOUT_MS,
    outageRetryDelay: ({ context }) => outageDelay(context),
    /** between open attempts while NATS or the origin does not answer */
    openRetryDelay: 1000,
    /** how long urgent requests pause after a refusal (rate limit, spent share) while peers cover the window */
    urgentRetryDelay: 1000,
  },
  guards: downloadGuards,
  actions: {
    storeOpenReply: assign(({ context, event }) => {
      const reply = openReplyOf(event);
      const { have, haveCount } = knownHave(context, reply.manifest.chunks.length);
      return {
        // from here on the peer record is a view of the incremental picker's index (pieceIndex.ts)
        peers: indexPeers(context, reply.manifest.chunks.length, have),
        sessionId: reply.sessionId,
        manifest: reply.manifest,
        grant: reply.status === 'granted' ? reply.grant : null,
        lease: reply.status === 'granted' ? reply.lease : null,
        position: reply.status === 'denied' ? reply.position : null,
        policy: reply.policy ?? OriginPolicies.serverFirst,
        have,
        haveCount,
        initialHave: [],
        // a new session starts with a clean record: refusals of the old one's grants say nothing of the new
        grantRejections: 0,
      };
    }),
    storeGrant: assign(({ event }) => grantFrom(event)),
    renewedByBeat: raise(({ event }) => beatMeaning(event, 'renewed')),
    offeredByBeat: raise(({ event }) => beatMeaning(event, 'offered')),
    lostByBeat: raise(({ event }) => beatMeaning(event, 'lost')),
    positionByBeat: raise(({ event }) => beatMeaning(event, 'position')),
    storePosition: assign(({ event }) => {
      assertEvent(event, 'origin.position');
      return { position: event.position };
    }),
    // the slot is gone: fetches with the old grant would only be refused again
    dropGrant: assign({ grant: null, lease: null }),
    // turns (turns.ts): counted from entering an origin state; the keeper parks the session at a turn's end and
    // hears of needs and of peer progress (a need counts only while peers bring nothing)
    startTurn: assign(({ context }) => turnStart(context)),
    yieldTurn: sendTo('sessionKeeper', { type: 'session.yield' }),
    countTurn: assign(({ context }) => ({ turns: context.turns + 1 })),
    peerProgress: sendTo('sessionKeeper', { type: 'session.progress' }),
    tellNeed: enqueueActions(({ context, enqueue }) => {
      if (needsOrigin(context) === context.needTold) return;
      enqueue.sendTo('sessionKeeper', { type: 'session.need', need: !context.needTold });
      enqueue.assign({ needTold: !context.needTold });
    }),
    fail: assign((_, p: { error: DownloadError }) => ({ error: p.error, outcome: 'failed' as const })),
    failOpen: assign(({ event }) => ({ error: toDownloadError((event as { error?: unknown }).error, 'open_failed'),
      outcome: 'failed' as const })),
    failOutage: assign(({ context }) => ({ error: outageError(context), outcome: 'failed' as const })),
    failRejected: assign(({ context }) => ({ error: grantRejectedError(context), outcome: 'failed' as const })),
    originSilent: enqueueActions(({ context, enqueue }) => originSilent(context, enqueue)),
    heardFromOrigin: enqueueActions(({ context, enqueue }) => originAnswered(context, enqueue, 'heartbeat')),
    originOpened: enqueueActions(({ context, enqueue }) => originAnswered(context, enqueue, 'open')),
    // a chunk under our grant also proves the gateway accepts this origin's grants
    originChunkArrived: enqueueActions(({ context, enqueue }) => {
      originAnswered(context, enqueue, 'chunk');
      enqueue.assign({ grantRejections: 0 });
    }),
    peersProgressed: enqueueActions(({ context, enqueue }) => peersProgressed(context, enqueue)),
    noteGrantRefused: assign(({ context, event }) => grantRefused(context, failureOf(event))),
    // the origin agrees the slot is gone (revoked, waiting): the refusals were consistent, not a mismatch
    forgetRefusals: assign({ grantRejections: 0 }),
    waitOutOutage: enqueueActions(({ context, event, enqueue }) => {
      const index = fetchedIndex(event);
      enqueue.stopChild(fetchChildId(index));
      enqueue.assign({ inFlight: context.inFlight.filter((i) => i !== index), backoff: [...context.backoff, index],
        outageStrikes: context.outageStrikes + 1 });
      enqueue.raise({ type: 'fetch.retry', index }, { id: retryId(index), delay: 'outageRetryDelay' });
      originSilent(context, enqueue);
    }),
    failChunk: assign(({ context, event }) => ({ error: chunkError(context, event), outcome: 'failed' as const })),
    settleAs: assign((_, p: { outcome: DownloadOutcome }) => ({ outcome: p.outcome })),
    scheduleFetches: enqueueActions(({ context, enqueue }) => spawnPlan(enqueue, planOriginFetches(context))),
    // spawned children outlive the state that spawned them: stopping them is what aborts their requests
    stopFetches: enqueueActions(({ context, enqueue }) => {
      for (const index of context.inFlight) enqueue.stopChild(fetchChildId(index));
      for (const index of context.backoff) enqueue.cancel(retryId(index));
      enqueue.assign({ inFlight: [], backoff: [] });
    }),
    // strikes belong to origin fetching: once it stops, heartbeat answers alone may end an outage
    clearBackoff: enqueueActions(({ context, enqueue }) => {
      for (const index of context.backoff) enqueue.cancel(retryId(index));
      enqueue.assign({ backoff: [], outageStrikes: 0 });
    }),
    // an origin request that fails after the slot went is not retried: peers or a later slot will bring it
    dropFetch: enqueueActions(({ context, event, enqueue }) => {
      const index = fetchedIndex(event);
      enqueue.stopChild(fetchChildId(index));
      enqueue.assign({ inFlight: context.inFlight.filter((i) => i !== index) });
    }),
    recordChunk: enqueueActions(({ context, event, enqueue }) => {
      const r = originResultOf(event);
      if (r?.ok) apply(enqueue, chunkVerified(context, r.index, r, null));
    }),
    recordPeerChunk: enqueueActions(({ context, event, enqueue }) => {
      const r = peerResultOf(event);
      if (r?.ok) apply(enqueue, chunkVerified(context, r.index, r, r.peerId));
    }),
    peerFetchFailed: enqueueActions(({ context, event, enqueue }) => {
      const r = peerResultOf(event);
      if (r && !r.ok) apply(enqueue, peerFetchFailure(context, { index: r.index, peerId: r.peerId }, r.failure));
    }),
    schedulePeers: enqueueActions(({ context, enqueue }) => spawnPlan(enqueue, planPeerFetches(context))),
    stopPeerFetches: enqueueActions(({ context, enqueue }) => {
      for (const f of context.peerInFlight) enqueue.stopChild(peerFetchId(f.index, f.peerId));
      enqueue.assign({ peerInFlight: [] });
    }),
    movePlayhead: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'playback.playhead');
      apply(enqueue, movePlayhead(context, event.index));
    }),
    makeRoomForUrgent: enqueueActions(({ context, enqueue }) => apply(enqueue, makeRoomForUrgent(context))),
    scheduleUrgent: enqueueActions(({ context, enqueue }) => spawnUrgent(enqueue, planUrgentFetches(context))),
    recordUrgentChunk: enqueueActions(({ context, event, enqueue }) => {
      const r = urgentResultOf(context, event);
      if (r?.ok) apply(enqueue, chunkVerified(context, r.index, r, null, true));
    }),
    // a refusal (rate limit, spent share) or a failed urgent fetch: peers cover the window for a moment
    pauseUrgent: enqueueActions(({ context, event, enqueue }) => pauseUrgent(context, urgentResultOf(context, event), enqueue)),
    resumeUrgent: assign({ urgentPaused: false }),
    stopUrgent: enqueueActions(({ context, enqueue }) => stopUrgent(context, enqueue, false)),
    // the gateway does not take this origin's grants: urgent ones would be refused the same way
    noUrgent: enqueueActions(({ context, enqueue }) => stopUrgent(context, enqueue, true)),
    peerEvent: assign(({ context, event }) => applyPeerEvent(context, event as DownloadEvent)),
    usePeers: assign({ usePeers: true }),
    // a re-opened session may come back granted after p2p turned peers on
    originOnly: assign({ usePeers: false }),
    declineChunk: enqueueActions(({ context, event, enqueue }) => {
      const index = fetchedIndex(event);
      enqueue.stopChild(fetchChildId(index));
      // the gateway's hint replaces the last one (it is newer); a decline without one keeps it
      const { unsent } = failureOf(event);
      enqueue.assign({ inFlight: context.inFlight.filter((i) => i !== index), declined: [...context.declined, index],
        ...(unsent ? { unsentHint: unsent.filter((i) => i < context.have.length) } : {}) });
      enqueue.raise({ type: 'origin.undecline', index }, { id: `undecline.${index}`, delay: 'declineDelay' });
    }),
    undecline: assign(({ context, event }) => {
      assertEvent(event, 'origin.undecline');
      return { declined: context.declined.filter((i) => i !== event.index) };
    }),
    retryChunk: enqueueActions(({ context, event, enqueue }) => {
      const index = fetchedIndex(event);
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
  context: ({ input }) => initialContext(input),
  initial: 'opening',
  // fetch actors resolve with their failures; a rejection (a broken runner, or a child stopped too late to be
  // silenced) must not crash the machine (unhandled actor errors do)
  on: {
    'xstate.error.actor.fetch.*': {}, 'xstate.error.actor.pfetch.*': {}, 'xstate.done.actor.pfetch.*': {},
    'xstate.done.actor.urgent.*': {},
    // fetchUrgent resolves with its failures: a rejection is a broken runner, and its chunks go back to planning
    'xstate.error.actor.urgent.*': { actions: 'stopUrgent' },
  },
  states: {
    opening: openingState,
    openBackoff: openBackoffState,
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
      exit: ['stopFetches', 'stopPeerFetches', 'stopUrgent'],
      // on `active`, not on the origin states: chunks from peers will complete the download the same way
      always: { guard: 'hasEveryChunk', target: 'assembling' },
      on: {
        'origin.grantRenewed': { actions: ['storeGrant', 'heardFromOrigin'] },
        // the keeper reports raw answers: their meaning depends on whether we hold the slot
        'origin.heartbeat': [
          { guard: and(['isGrantedBeat', 'holdsSlot']), actions: 'renewedByBeat' },
          { guard: 'isGrantedBeat', actions: 'offeredByBeat' },
          { guard: 'holdsSlot', actions: ['lostByBeat', 'positionByBeat'] },
          { actions: 'positionByBeat' },
        ],
        'origin.unreachable': { actions: 'originSilent' },
        'origin.outageExpired': { target: 'releasing', actions: 'failOutage' },
        // a new session is opened; verified chunks are kept (knownHave), so nothing is fetched twice
        // one lost before any beat was answered is not re-opened at once: an origin that cannot keep the sessions
        // it opens (KV trouble after a NATS node restart) would otherwise be asked in a loop, until its open rate
        // limit refused us
        'origin.sessionLost': [
          { guard: 'lostAtOnce', target: 'openBackoff', actions: 'dropGrant' },
          { target: 'opening', actions: 'dropGrant' },
        ],
        'origin.undecline': { actions: ['undecline', 'scheduleFetches'] },
        'peer.joined': { actions: ['peerEvent', 'schedulePeers'] },
        'peer.bitfield': { actions: ['peerEvent', 'schedulePeers', 'tellNeed'] },
        'peer.haves': { actions: ['peerEvent', 'schedulePeers', 'tellNeed'] },
        'peer.unchoked': { actions: ['peerEvent', 'schedulePeers'] },
        'peer.choked': { actions: 'peerEvent' },
        'peer.left': { actions: ['peerEvent', 'tellNeed'] },
        // origin requests still running after the slot went (p2p): keep what they bring
        'xstate.done.actor.fetch.*': [
          { guard: 'isFetchedChunk', actions: ['recordChunk', 'scheduleFetches', 'schedulePeers'] },
          { guard: 'isFailedFetch', actions: ['dropFetch', 'schedulePeers'] },
        ],
        'xstate.done.actor.pfetch.*': [
          { guard: 'isPeerChunk', actions: ['recordPeerChunk', 'peersProgressed', 'scheduleFetches', 'schedulePeers', 'tellNeed', 'peerProgress'] },
          { guard: 'isCurrentPeerFetch', actions: ['peerFetchFailed', 'scheduleFetches', 'schedulePeers'] },
        ],
        'download.cancel': { target: 'releasing', actions: { type: 'settleAs', params: { outcome: 'cancelled' } } },
        // streaming: the urgent window first (origin), the buffer from peers by deadline (playback.ts)
        'playback.playhead': [
          { guard: 'isSeek', actions: ['movePlayhead', 'makeRoomForUrgent', 'scheduleUrgent', 'scheduleFetches', 'schedulePeers'] },
          { actions: ['movePlayhead', 'scheduleUrgent', 'scheduleFetches', 'schedulePeers'] },
        ],
        'xstate.done.actor.urgent.*': [
          { guard: 'isUrgentChunk', actions: ['recordUrgentChunk', 'scheduleUrgent', 'schedulePeers'] },
          { guard: 'isUrgentFailure', actions: ['pauseUrgent', 'schedulePeers'] },
        ],
        'urgent.resume': { actions: ['resumeUrgent', 'scheduleUrgent'] },
      },
      initial: 'server',
      states: {
        server: { ...originFetching, tags: 'server', entry: ['startTurn', 'scheduleFetches', 'schedulePeers'] },
        p2p: p2pState,
        peersOnly: peersOnlyState,
        // `server` again, after a denial or a lost lease; a distinct name keeps the switch visible in history
        resumeServer: { ...originFetching, tags: 'resumeServer', entry: ['usePeers', 'startTurn', 'scheduleFetches', 'schedulePeers'] },
      },
    },
    assembling: {
      tags: 'assembling',
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
      // to a watcher the file is done (or the run settled): only the session's release is pending
      tags: 'assembling',
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
    complete: { type: 'final', tags: 'complete' },
    failed: { type: 'final', tags: 'failed' },
    cancelled: { type: 'final', tags: 'cancelled' },
  },
  output: ({ context }) => {
    const out: DownloadOutput = {
      status: context.outcome ?? 'failed',
      bytesBySource: context.bytesBySource,
      chunksFetched: context.chunksFetched,
    };
    if (context.outputPath !== null) out.outputPath = context.outputPath;
    if (context.error !== null) out.error = context.error;
    if (context.urgentBytes > 0) out.urgentBytes = context.urgentBytes;
    return out;
  },
});

export type DownloadMachine = typeof downloadMachine;
