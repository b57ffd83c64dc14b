/**
 * Pure helpers of the download machine: chunk bookkeeping and error normalisation. No XState here, so they can
 * be tested and reused (the P2P scheduler will pick from the same `have` list).
 */
import type { FetchChunkFailure, FetchFailureReason } from './types.js';
import { MAX_UNSENT_HINT } from '../../protocol/mod.js';

/** Error carried in the machine's context and output. */
export interface DownloadError {
  /** stable code: a protocol ErrorCode when the cause carried one, else one of the machine's own codes */
  code: string;
  message: string;
  /** chunk index, for chunk failures */
  chunk?: number;
  reason?: FetchFailureReason;
}

/** Fetch children are spawned with this id so their completion events match `xstate.*.actor.fetch.*`. */
export const FETCH_ID_PREFIX = 'fetch.';
export const fetchChildId = (index: number): string => `${FETCH_ID_PREFIX}${index}`;
export const retryId = (index: number): string => `retry.${index}`;
/** Urgent fetch children (`fetchUrgent`), one per chunk near the playhead. */
export const urgentChildId = (index: number): string => `urgent.${index}`;

const REASONS = new Set<string>(['corrupt', 'denied', 'missing', 'network', 'declined', 'unavailable', 'refused']);

/**
 * The rejection of a provided fetch actor, as a FetchChunkFailure. Anything without a known `reason` (a thrown
 * TypeError, a socket reset) is transient by assumption: treating it as `network` retries it a bounded number
 * of times rather than failing the download on the first glitch.
 */
export function toFetchFailure(err: unknown): FetchChunkFailure {
  const o = (typeof err === 'object' && err !== null ? err : {}) as { reason?: unknown; message?: unknown; code?: unknown; unsent?: unknown };
  const reason = typeof o.reason === 'string' && REASONS.has(o.reason) ? (o.reason as FetchFailureReason) : 'network';
  const message = typeof o.message === 'string' ? o.message : typeof err === 'string' ? err : String(err);
  const out: FetchChunkFailure = typeof o.code === 'string' && o.code !== '' ? { reason, message, code: o.code } : { reason, message };
  if (reason === 'declined' && Array.isArray(o.unsent)) {
    out.unsent = o.unsent.filter((i): i is number => Number.isSafeInteger(i) && (i as number) >= 0).slice(0, MAX_UNSENT_HINT);
  }
  return out;
}

/** Protocol error codes that mean "nobody answered in time", not "the answer was no". */
const TRANSIENT_CODES = new Set<string>(['unavailable', 'timeout']);

/** True for a rejection that an outage explains (NATS or the origin down): worth waiting out, not fatal. */
export function isTransientError(err: unknown): boolean {
  const code = (typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined);
  return typeof code === 'string' && TRANSIENT_CODES.has(code);
}

/** A DownloadError from any rejection, keeping a protocol error's `code` when it has one. */
export function toDownloadError(err: unknown, fallbackCode: string): DownloadError {
  const o = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; message?: unknown };
  const code = typeof o.code === 'string' ? o.code : fallbackCode;
  const message = typeof o.message === 'string' ? o.message : String(err);
  return { code, message };
}

/** The `have` list for a manifest of `count` chunks from the input indexes (out-of-range ones are ignored). */
export function initialHave(count: number, indexes: readonly number[]): { have: boolean[]; haveCount: number } {
  const have = new Array<boolean>(count).fill(false);
  let haveCount = 0;
  for (const i of indexes) {
    if (Number.isInteger(i) && i >= 0 && i < count && !have[i]) {
      have[i] = true;
      haveCount++;
    }
  }
  return { have, haveCount };
}

/**
 * Up to `free` missing chunks not in `busy`, lowest index first: a player reading the file front to back gets
 * a contiguous prefix as early as possible.
 */
export function pickMissing(have: readonly boolean[], busy: readonly number[], free: number): number[] {
  const out: number[] = [];
  if (free <= 0) return out;
  const skip = new Set(busy);
  // indexOf is native, which matters when tens of thousands of chunks are already had
  for (let i = have.indexOf(false); i !== -1 && out.length < free; i = have.indexOf(false, i + 1)) {
    if (!skip.has(i)) out.push(i);
  }
  return out;
}

/** Backoff before retrying a transient failure: 250 ms doubling per attempt, capped at 4 s. */
export function retryDelayMs(attempt: number): number {
  return Math.min(4000, 250 * 2 ** Math.max(0, attempt - 1));
}

/**
 * Backoff while the origin side is unreachable: short enough (≤ 2 s) that the download resumes soon after the
 * outage ends, long enough that a few clients do not hammer a recovering gateway.
 */
export function outageRetryDelayMs(strikes: number): number {
  return Math.min(2000, 250 * 2 ** Math.max(0, Math.min(strikes, 8) - 1));
}
