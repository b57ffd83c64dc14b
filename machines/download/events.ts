/**
 * The events the download machine handles besides the runner's (its children's completions and its own
 * retries), and the small pure readings of them that guards and actions share.
 */
import type { EventObject } from 'xstate';
import type { DownloadContext } from './context.js';
import { peerFetchOf } from './peers.js';
import { fetchIndexOf, initialHave, toFetchFailure, type DownloadError } from './schedule.js';
import type { DownloadEvent, FetchChunkOutput, FetchResult } from './types.js';

/** Raised (delayed) by the machine itself to end a chunk's backoff. */
export type FetchRetryEvent = { type: 'fetch.retry'; index: number };
/** Raised (delayed) by the machine itself: a chunk the origin declined may be asked of it again. */
export type UndeclineEvent = { type: 'origin.undecline'; index: number };
/** Raised (delayed) by the machine itself: the origin stayed unreachable, and peers brought nothing, too long. */
export type OutageExpiredEvent = { type: 'origin.outageExpired' };
/** What XState sends when the fetch child `fetch.<index>` resolves / rejects; listed so the wildcards type-check. */
export type FetchDoneEvent = { type: `xstate.done.actor.fetch.${number}`; output: FetchChunkOutput };
export type FetchErrorEvent = { type: `xstate.error.actor.fetch.${number}`; error: unknown };
export type PeerFetchDoneEvent = { type: `xstate.done.actor.pfetch.${number}.${string}`; output: FetchChunkOutput };
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

/** The result of an urgent fetch the machine still waits for, or null (another event, or a stale child). */
export function urgentResultOf(context: DownloadContext, event: EventObject): FetchResult | null {
  if (!event.type.startsWith('xstate.done.actor.urgent.')) return null;
  const out = (event as UrgentDoneEvent).output;
  return out && context.urgentInFlight.includes(out.index) ? out : null;
}

export const isFetchDone = (e: EventObject): e is FetchDoneEvent => e.type.startsWith('xstate.done.actor.fetch.');
export const isFetchError = (e: EventObject): e is FetchErrorEvent => e.type.startsWith('xstate.error.actor.fetch.');
export const failureOf = (e: EventObject) =>
  toFetchFailure(isFetchError(e) || e.type.startsWith('xstate.error.actor.pfetch.') ? (e as FetchErrorEvent).error : undefined);

export const isPeerFetchDone = (e: EventObject): e is PeerFetchDoneEvent => e.type.startsWith('xstate.done.actor.pfetch.');

export function isCurrentPeerFetch(context: DownloadContext, event: EventObject): boolean {
  const f = peerFetchOf(event.type);
  return f !== null && context.peerInFlight.some((x) => x.index === f.index && x.peerId === f.peerId);
}

/** True when the event is the completion of a fetch child the machine still waits for. */
export function isCurrentFetch(context: DownloadContext, event: EventObject): boolean {
  return context.inFlight.includes(fetchIndexOf(event.type));
}

export function attemptsAfter(context: DownloadContext, event: EventObject): number {
  return (context.attempts[fetchIndexOf(event.type)] ?? 0) + 1;
}

/** Chunks verified so far: the input's `have` before the first open, the context's own after a re-open. */
export function knownHave(context: DownloadContext, count: number) {
  const kept = context.have.flatMap((h, i) => (h ? [i] : []));
  return initialHave(count, [...context.initialHave, ...kept]);
}

export function chunkError(context: DownloadContext, event: EventObject): DownloadError {
  const index = fetchIndexOf(event.type);
  const { reason, message } = failureOf(event);
  return {
    code: 'chunk_failed',
    message: `chunk ${index} failed ${attemptsAfter(context, event)} times (last: ${reason}: ${message})`,
    chunk: index,
    reason,
  };
}

