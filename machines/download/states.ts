/**
 * Pieces of the download machine's configuration, kept apart so machine.ts stays readable: opening a session
 * (and the backoff between attempts), the origin-fetching states (`server`, `resumeServer`), the waiting state
 * `p2p` with its give-up rule for refused grants, the peers-only state after giving the slot up, and the helpers
 * its actions use to carry out pure decisions.
 */
import { and, assertEvent } from 'xstate';
import type { DownloadContext, Effects } from './context.js';
import type { FetchPlan } from './plan.js';
import type { DownloadMachineEvent } from './events.js';
import type { PeerMode } from '../../protocol/mod.js';

/**
 * What a person watching the download is told (telemetry, dashboard, demo, bench), as state tags: the states
 * carry their mode, so a renamed or added state cannot silently fall into the wrong mode the way a parsed
 * state name would. `seeding` is not a machine state: it is `complete` with the uploader left running.
 */
export type DownloadMode = Exclude<PeerMode, 'seeding'>;
const MODES: readonly DownloadMode[] = [
  'opening', 'server', 'p2p', 'resumeServer', 'assembling', 'complete', 'failed', 'cancelled',
];

export function modeOfSnapshot(snapshot: { hasTag(tag: DownloadMode): boolean }): DownloadMode {
  return MODES.find((m) => snapshot.hasTag(m)) ?? 'opening';
}

/** Records and spawns the fetch children a plan chose (origin or peers: the same child actor). */
export function spawnPlan(enqueue: {
  assign(a: Partial<DownloadContext>): void;
  spawnChild(src: 'fetchChunk', o: FetchPlan['spawn'][number]): void;
}, plan: FetchPlan | null): void {
  if (!plan) return;
  enqueue.assign(plan.assign);
  for (const sp of plan.spawn) enqueue.spawnChild('fetchChunk', sp);
}

/** Carries out what a pure update decided: stop children, ban a peer, assign context. */
export function apply(enqueue: {
  stopChild(id: string): void;
  sendTo(to: 'swarm', e: { type: 'swarm.ban'; peerId: string; reason: string }): void;
  assign(a: Partial<DownloadContext>): void;
}, fx: Effects): void {
  for (const id of fx.stop) enqueue.stopChild(id);
  if (fx.ban) enqueue.sendTo('swarm', { type: 'swarm.ban', ...fx.ban });
  enqueue.assign(fx.assign);
}

export function grantFrom(event: DownloadMachineEvent) {
  assertEvent(event, ['origin.slotOffered', 'origin.grantRenewed']);
  return { grant: event.grant, lease: event.lease, position: null };
}

/** `server` and `resumeServer`: fetch from the origin under the current grant. */
export const originFetching = {
  entry: 'scheduleFetches',
  // requests already admitted by the gateway finish even if the slot goes (a turn's end, a revocation): cutting
  // them off would throw away origin bytes already sent; only their retry timers end here
  exit: 'clearBackoff',
  // the turn is over (turns.ts): the slot goes back for the next waiter, and peers carry on
  always: { guard: 'turnOver', target: 'p2p', actions: ['countTurn', 'yieldTurn', 'dropGrant'] },
  on: {
    // a slot taken back (idle: the origin had nothing left for us; expired) counts as a turn had (turns.ts)
    'origin.leaseLost': { target: 'p2p', actions: ['dropGrant', 'forgetRefusals', 'countTurn'] },
    'origin.slotOffered': { actions: ['storeGrant', 'heardFromOrigin'] },
    'fetch.retry': { actions: ['endBackoff', 'scheduleFetches'] },
    'xstate.done.actor.fetch.*': [
      { guard: 'isFetchedChunk', actions: ['recordChunk', 'originChunkArrived', 'scheduleFetches', 'schedulePeers'] },
      { guard: 'isDeclinedFetch', actions: ['declineChunk', 'scheduleFetches', 'schedulePeers'] },
      // refused: the other requests under this grant will be refused too
      { guard: 'isDeniedFetch', target: 'p2p', actions: ['noteGrantRefused', 'dropGrant', 'stopFetches'] },
      // an outage is not the chunk's fault: waited out, not counted (the outage timer bounds the wait)
      { guard: 'isUnavailableFetch', actions: 'waitOutOutage' },
      { guard: 'isLastAttempt', target: '#download.releasing', actions: 'failChunk' },
      { guard: 'isFailedFetch', actions: ['retryChunk', 'scheduleFetches'] },
    ],
  },
} as const;

/** In `p2p`, on a grant, once the gateway refused too many: give the slot up, to peers or to a clear failure. */
export const giveUpOnRefusals = [
  { guard: and(['grantsKeepFailing', 'peersCanHelp']), target: 'peersOnly' },
  { guard: 'grantsKeepFailing', target: '#download.releasing', actions: 'failRejected' },
] as const;

/** From `releasing` to the terminal state its outcome names. */
export const settle = [
  { guard: { type: 'outcomeIs', params: { outcome: 'complete' } }, target: 'complete' },
  { guard: { type: 'outcomeIs', params: { outcome: 'cancelled' } }, target: 'cancelled' },
  { target: 'failed' },
] as const;

/** Without a slot: peers only, waiting for the origin's offer. */
export const p2pState = {
  tags: 'p2p',
  // streaming: the urgent window under urgent grants (no slot), the rest from peers
  entry: ['usePeers', 'scheduleUrgent', 'schedulePeers'],
  on: {
    // a grant after refusals: the origin still says we hold the slot, so the gateway refused a grant the
    // origin stands by; a few times may be a lagging lease mirror, more is a mismatch (secrets, clocks)
    'origin.slotOffered': [...giveUpOnRefusals, { target: 'resumeServer', actions: ['storeGrant', 'heardFromOrigin'] }],
    'origin.grantRenewed': [
      ...giveUpOnRefusals,
      { guard: 'wasRefused', target: 'resumeServer', actions: ['storeGrant', 'heardFromOrigin'] },
      { actions: ['storeGrant', 'heardFromOrigin'] },
    ],
    'origin.position': { actions: ['storePosition', 'heardFromOrigin', 'forgetRefusals'] },
  },
} as const;

/**
 * The gateway will not take this origin's grants: the slot is given back at once (another client can use it)
 * and peers finish the download; origin news is moot now, and silence from peers ends it (outage timer).
 */
export const peersOnlyState = {
  // still a peers download to whoever watches; only the slot is gone
  tags: 'p2p',
  entry: ['dropGrant', 'originSilent', 'noUrgent', 'schedulePeers'],
  invoke: {
    id: 'giveUpSlot',
    src: 'releaseSession',
    input: ({ context }: { context: DownloadContext }) => ({ sessionId: context.sessionId!, peerId: context.peerId }),
    // a failed release is harmless: the lease expires on its own
    onError: { actions: [] },
  },
  on: {
    'origin.slotOffered': {}, 'origin.grantRenewed': {}, 'origin.position': {}, 'origin.leaseLost': {},
    'origin.sessionLost': {}, 'origin.unreachable': {}, 'origin.undecline': {}, 'urgent.resume': {},
  },
} as const;

/**
 * Opening a session (or joining the wait list): where the reply sends the download, and which failures are
 * waited out. No session exists yet, so there is nothing to release.
 */
export const openingState = {
  tags: 'opening',
  invoke: {
    id: 'openSession',
    src: 'openSession',
    input: ({ context }: { context: DownloadContext }) => ({ videoId: context.videoId, peerId: context.peerId }),
    onDone: [
      { guard: 'coversEveryChunk', target: 'assembling', actions: ['storeOpenReply', 'originOpened'] },
      // the seeds' server-first rule keeps an admitted client on the origin; swarm-aware clients use peers too
      { guard: and(['isGranted', 'isSwarmAware']), target: 'active.server', actions: ['storeOpenReply', 'originOpened', 'usePeers'] },
      { guard: 'isGranted', target: 'active.server', actions: ['storeOpenReply', 'originOpened', 'originOnly'] },
      { target: 'active.p2p', actions: ['storeOpenReply', 'originOpened'] },
    ],
    onError: [
      // NATS or the origin is down (a restart): try again; the outage timer decides when it is persistent
      { guard: 'isTransientError', target: 'openBackoff', actions: 'originSilent' },
      // the origin answers but not now (its per-peer open rate): wait, it is no reason to give up the download
      { guard: 'isRateLimited', target: 'openBackoff' },
      { target: 'failed', actions: 'failOpen' },
    ],
  },
  on: {
    'download.cancel': { target: 'cancelled', actions: { type: 'settleAs', params: { outcome: 'cancelled' } } },
    'origin.outageExpired': { target: 'failed', actions: 'failOutage' },
    // no manifest yet: the playhead is kept for the first plan
    'playback.playhead': { actions: 'movePlayhead' },
  },
} as const;

/** Between open attempts during an outage; verified chunks stay in context (knownHave) for the next open. */
export const openBackoffState = {
  tags: 'opening',
  after: { openRetryDelay: 'opening' },
  on: {
    'download.cancel': { target: 'cancelled', actions: { type: 'settleAs', params: { outcome: 'cancelled' } } },
    'origin.outageExpired': { target: 'failed', actions: 'failOutage' },
  },
} as const;
