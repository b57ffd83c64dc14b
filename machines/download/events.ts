/**
 * The events the download machine handles besides the runner's (its children's completions and its own
 * retries), and the small pure readings of them that guards and actions share.
 */
import type { EventObject } from 'xstate';
import type { DownloadContext } from './context.js';
import type { PeerFetch } from './peers.js';
import { initialHave, type DownloadError } from './schedule.js';
import type { DownloadEvent, FetchChunkFailure, FetchResult } from './types.js';

/** Raised (delayed) by the machine itself to end a chunk's backoff. */
export type FetchRetryEvent = { type: 'fetch.retry'; index: number };
/** Raised (delayed) by the machine itself: a chunk the origin declined may be asked of it again. */
export type UndeclineEvent = { type: 'origin.undecline'; index: number };
/** Raised (delayed) by the machine itself: the origin stayed unreachable, and peers brought nothing, too long. */
export type OutageExpiredEvent = { type: 'origin.outageExpired' };
/**
 * What XState sends when the fetch child `fetch.<index>` (or `pfetch.<index>.<peer>`) resolves: a FetchResult
 * naming its chunk and source, success or failure. Fetch actors do not reject; the error events are listed so
 * the wildcards type-check (and ignored: a rejecting runner is broken).
 */
export type FetchDoneEvent = { type: `xstate.done.actor.fetch.${number}`; output: FetchResult };
export type FetchErrorEvent = { type: `xstate.error.actor.fetch.${number}`; error: unknown };
export type PeerFetchDoneEvent = { type: `xstate.done.actor.pfetch.${number}.${string}`; output: FetchResult };
export type PeerFetchErrorEvent = { type: `xstate.error.actor.pfetch.${number}.${string}`; error: unknown };
/** An urgent fetch child resolved; it never rejects, the result says success or failure and names its chunk. */
export type UrgentDoneEvent = { type: `xstate.done.actor.urgent.${number}`; output: FetchResult };
export type UrgentErrorEvent = { type: `xstate.error.actor.urgent.${number}`; error: unknown };
/** Raised (delayed) by the machine itself: urgent requests may be made again after a refusal. */
export type UrgentResumeEvent = { type: 'urgent.resume' };
/** Every event the machine handles: the runner sends only DownloadEvent; the others come from its own children. */
export type DownloadMachineEvent =
  DownloadEvent | FetchRetryEvent | UndeclineEvent | OutageExpiredEvent | FetchDoneEvent | FetchErrorEvent | PeerFetchDoneEvent |
  PeerFetchErrorEvent | UrgentDoneEvent | UrgentErrorEvent | UrgentResumeEvent;

type Beat = Extract<DownloadEvent, { type: 'origin.heartbeat' }>;
/**
 * What a heartbeat answer means, decided from the machine's own state (guards `isGrantedBeat`, `holdsSlot`):
 * granted while holding → renewed; granted while waiting → the offer (its push was lost); waiting while
 * holding → the lease was lost (its revocation push was lost), then the position; waiting → the position.
 */
export function beatMeaning(event: DownloadMachineEvent, as: 'renewed' | 'offered' | 'lost' | 'position'): DownloadEvent {
  const beat = event as Beat;
  if (beat.status === 'granted') {
    return { type: as === 'renewed' ? 'origin.grantRenewed' : 'origin.slotOffered', grant: beat.grant, lease: beat.lease };
  }
  return as === 'lost' ? { type: 'origin.leaseLost', reason: 'origin reports the session waiting' }
    : { type: 'origin.position', position: beat.position };
}

/** The result of an urgent fetch the machine still waits for, or null (another event, or a stale child). */
export function urgentResultOf(context: DownloadContext, event: EventObject): FetchResult | null {
  if (!event.type.startsWith('xstate.done.actor.urgent.')) return null;
  const out = (event as UrgentDoneEvent).output;
  return out && context.urgentInFlight.includes(out.index) ? out : null;
}

/** The result an origin fetch child (`fetch.*`) resolved with, or null for any other event. */
export function originResultOf(e: EventObject): FetchResult | null {
  return e.type.startsWith('xstate.done.actor.fetch.') ? ((e as FetchDoneEvent).output ?? null) : null;
}

/** The result of a peer fetch child (`pfetch.*`) with the peer it asked (from the result's source), or null. */
export function peerResultOf(e: EventObject): (FetchResult & PeerFetch) | null {
  if (!e.type.startsWith('xstate.done.actor.pfetch.')) return null;
  const out = (e as PeerFetchDoneEvent).output;
  return out?.source.startsWith('peer:') ? { ...out, peerId: out.source.slice('peer:'.length) } : null;
}

const NO_FAILURE: FetchChunkFailure = { reason: 'network', message: 'no failure reported' };
/** The failure a fetch result reports (origin or peer). */
export const failureOf = (e: EventObject): FetchChunkFailure => {
  const r = originResultOf(e) ?? peerResultOf(e);
  return r && !r.ok ? r.failure : NO_FAILURE;
};

export function isCurrentPeerFetch(context: DownloadContext, event: EventObject): boolean {
  const f = peerResultOf(event);
  return f !== null && context.peerInFlight.some((x) => x.index === f.index && x.peerId === f.peerId);
}

/** True when the event is the result of an origin fetch child the machine still waits for. */
export function isCurrentFetch(context: DownloadContext, event: EventObject): boolean {
  const r = originResultOf(event);
  return r !== null && context.inFlight.includes(r.index);
}

/** The chunk index an origin fetch result is for (-1 for other events). */
export const fetchedIndex = (event: EventObject): number => originResultOf(event)?.index ?? -1;

export function attemptsAfter(context: DownloadContext, event: EventObject): number {
  return (context.attempts[fetchedIndex(event)] ?? 0) + 1;
}

/** Chunks verified so far: the input's `have` before the first open, the context's own after a re-open. */
export function knownHave(context: DownloadContext, count: number) {
  const kept = context.have.flatMap((h, i) => (h ? [i] : []));
  return initialHave(count, [...context.initialHave, ...kept]);
}

export function chunkError(context: DownloadContext, event: EventObject): DownloadError {
  const index = fetchedIndex(event);
  const { reason, message } = failureOf(event);
  return {
    code: 'chunk_failed',
    message: `chunk ${index} failed ${attemptsAfter(context, event)} times (last: ${reason}: ${message})`,
    chunk: index,
    reason,
  };
}
