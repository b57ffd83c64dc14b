/**
 * The download machine's guards, by name (the exported diagram shows these names on its transitions). Each
 * reads the context and the event only; the rules they apply live in the pure modules next to them.
 */
import { ErrorCodes, OriginPolicies } from '../../protocol/mod.js';
import type { DownloadContext, DownloadOutcome } from './context.js';
import {
  attemptsAfter, failureOf, isCurrentFetch, isCurrentPeerFetch, knownHave, originResultOf, peerResultOf, urgentResultOf,
  type DownloadMachineEvent,
} from './events.js';
import { grantsKeepFailing, peersCanHelp } from './failures.js';
import { isSeek } from './playback.js';
import { isTransientError } from './schedule.js';
import { turnOver } from './turns.js';
import type { OpenSessionOutput } from './types.js';

type Args = { context: DownloadContext; event: DownloadMachineEvent };

/** A current origin fetch that failed (its result says why). */
const failed = ({ context, event }: Args) => isCurrentFetch(context, event) && originResultOf(event)?.ok === false;

/** Only on `openSession`'s done event, which the machine's event union does not name. */
export const openReplyOf = (event: DownloadMachineEvent) => (event as unknown as { output: OpenSessionOutput }).output;

export const downloadGuards = {
  coversEveryChunk: ({ context, event }: Args) => {
    const count = openReplyOf(event).manifest.chunks.length;
    return knownHave(context, count).haveCount === count;
  },
  isGranted: ({ event }: Args) => openReplyOf(event).status === 'granted',
  // the origin policy, read from the reply: the guard runs before storeOpenReply puts the policy in context
  isSwarmAware: ({ event }: Args) => (openReplyOf(event).policy ?? OriginPolicies.serverFirst) === OriginPolicies.swarmAware,
  hasEveryChunk: ({ context }: Args) => context.manifest !== null && context.haveCount === context.manifest.chunks.length,
  /** a current origin fetch brought its chunk (verified and stored by the runner) */
  isFetchedChunk: ({ context, event }: Args) => isCurrentFetch(context, event) && originResultOf(event)?.ok === true,
  isFailedFetch: failed,
  isCurrentPeerFetch: ({ context, event }: Args) => isCurrentPeerFetch(context, event),
  /** a current peer fetch brought its chunk */
  isPeerChunk: ({ context, event }: Args) => isCurrentPeerFetch(context, event) && peerResultOf(event)?.ok === true,
  isDeniedFetch: (a: Args) => failed(a) && failureOf(a.event).reason === 'denied',
  isDeclinedFetch: (a: Args) => failed(a) && failureOf(a.event).reason === 'declined',
  isUnavailableFetch: (a: Args) => failed(a) && failureOf(a.event).reason === 'unavailable',
  isTransientError: ({ event }: Args) => isTransientError((event as { error?: unknown }).error),
  isRateLimited: ({ event }: Args) => (event as { error?: { code?: unknown } }).error?.code === ErrorCodes.rateLimited,
  lostAtOnce: ({ event }: Args) => event.type === 'origin.sessionLost' && event.answered === false,
  grantsKeepFailing: ({ context }: Args) => grantsKeepFailing(context),
  peersCanHelp: ({ context }: Args) => peersCanHelp(context),
  wasRefused: ({ context }: Args) => context.grantRejections > 0,
  isLastAttempt: (a: Args) => failed(a) && attemptsAfter(a.context, a.event) >= a.context.maxAttempts,
  outcomeIs: ({ context }: Args, p: { outcome: DownloadOutcome }) => context.outcome === p.outcome,
  /** a heartbeat answered `granted` */
  isGrantedBeat: ({ event }: Args) => event.type === 'origin.heartbeat' && event.status === 'granted',
  /** we hold the slot (a grant we fetch with) */
  holdsSlot: ({ context }: Args) => context.grant !== null,
  /** the holder's turn at the origin is over (turns.ts) */
  turnOver: ({ context }: Args) => turnOver(context),
  /** the playhead jumped out of the urgent window (or was set for the first time): re-plan around it */
  isSeek: ({ context, event }: Args) => event.type === 'playback.playhead' && isSeek(context, event.index),
  /** an urgent fetch brought its chunk */
  isUrgentChunk: ({ context, event }: Args) => urgentResultOf(context, event)?.ok === true,
  /** an urgent fetch failed (refused by the origin or the gateway's share, or a network error) */
  isUrgentFailure: ({ context, event }: Args) => urgentResultOf(context, event)?.ok === false,
};
