/**
 * Typed errors shared by every part. Each failure has one class with a stable `code`; the code travels in
 * error replies over NATS and HTTP and is turned back into the same class at the receiving edge, so callers
 * branch on classes or codes, never on message text.
 */

export const ErrorCodes = {
  badRequest: 'bad_request',
  notFound: 'not_found',
  tooLarge: 'too_large',
  unknownVideo: 'unknown_video',
  badIndex: 'bad_index',
  badRange: 'bad_range',
  badFrame: 'bad_frame',
  grantMissing: 'grant_missing',
  grantInvalid: 'grant_invalid',
  grantExpired: 'grant_expired',
  grantWrongVideo: 'grant_wrong_video',
  leaseLost: 'lease_lost',
  /** a slot grant on the urgent route or an urgent grant on the slot route: the two never stand in for each other */
  grantWrongKind: 'grant_wrong_kind',
  unknownSession: 'unknown_session',
  chunkMissing: 'chunk_missing',
  chunkCorrupt: 'chunk_corrupt',
  /** swarm-aware origin: peers hold this chunk and have spare upload, fetch it from them */
  chunkInSwarm: 'chunk_in_swarm',
  unauthorized: 'unauthorized',
  ingestFailed: 'ingest_failed',
  unavailable: 'unavailable',
  /** too many requests from one peer or address; retry later */
  rateLimited: 'rate_limited',
  /** a quota (catalog size, session byte budget) is used up */
  quotaExceeded: 'quota_exceeded',
  /** the origin gives no urgent grant now (the urgent share is disabled, or the request asks too much) */
  urgentRefused: 'urgent_refused',
  /** the gateway's reserved bandwidth share for urgent chunks is spent for the moment; retry shortly or use peers */
  urgentShareSpent: 'urgent_share_spent',
  timeout: 'timeout',
  /** a download's `<output>.part/` is in use by another run, or holds another video's partial download */
  locked: 'locked',
  /** a manifest fails its consistency check (chunk count, root hash, id) or is not the one asked for */
  badManifest: 'bad_manifest',
  internal: 'internal',
} as const;
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

const KNOWN_CODES = new Set<string>(Object.values(ErrorCodes));

/** Wire form of an error, as carried in NATS replies and HTTP bodies. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

export class SwitchyardError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message } };
  }
}

export class BadRequestError extends SwitchyardError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.badRequest, message, options);
  }
}
export class TooLargeError extends SwitchyardError {
  constructor(message: string) {
    super(ErrorCodes.tooLarge, message);
  }
}
export class UnknownVideoError extends SwitchyardError {
  constructor(videoId: string) {
    super(ErrorCodes.unknownVideo, `unknown video id ${JSON.stringify(videoId)}`);
  }
}
export class BadIndexError extends SwitchyardError {
  constructor(message: string) {
    super(ErrorCodes.badIndex, message);
  }
}
export class BadRangeError extends SwitchyardError {
  constructor(message: string) {
    super(ErrorCodes.badRange, message);
  }
}
export class GrantError extends SwitchyardError {
  constructor(
    code: typeof ErrorCodes.grantMissing | typeof ErrorCodes.grantInvalid | typeof ErrorCodes.grantExpired |
      typeof ErrorCodes.grantWrongVideo | typeof ErrorCodes.leaseLost | typeof ErrorCodes.grantWrongKind,
    message: string,
  ) {
    super(code, message);
  }
}
export class UnknownSessionError extends SwitchyardError {
  constructor(sessionId: string) {
    super(ErrorCodes.unknownSession, `unknown or expired session ${JSON.stringify(sessionId)}`);
  }
}
export class ChunkMissingError extends SwitchyardError {
  constructor(hash: string) {
    super(ErrorCodes.chunkMissing, `chunk ${hash} is not in the store`);
  }
}
export class ChunkCorruptError extends SwitchyardError {
  constructor(message: string) {
    super(ErrorCodes.chunkCorrupt, message);
  }
}
export class UnauthorizedError extends SwitchyardError {
  constructor(message: string) {
    super(ErrorCodes.unauthorized, message);
  }
}
export class IngestError extends SwitchyardError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.ingestFailed, message, options);
  }
}
export class UnavailableError extends SwitchyardError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.unavailable, message, options);
  }
}
export class TimeoutError extends SwitchyardError {
  constructor(message: string) {
    super(ErrorCodes.timeout, message);
  }
}

export class RateLimitedError extends SwitchyardError {
  constructor(message: string) {
    super(ErrorCodes.rateLimited, message);
  }
}
export class QuotaExceededError extends SwitchyardError {
  constructor(message: string) {
    super(ErrorCodes.quotaExceeded, message);
  }
}

/** Rebuilds a typed error from its wire form; anything unrecognised becomes `internal`. */
export function errorFromBody(body: unknown): SwitchyardError {
  const e = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  const code = typeof e?.code === 'string' && KNOWN_CODES.has(e.code) ? (e.code as ErrorCode) : ErrorCodes.internal;
  const message = typeof e?.message === 'string' ? e.message : 'unknown error';
  return new SwitchyardError(code, message);
}

/** Normalises anything thrown into a SwitchyardError without leaking internals of unexpected failures. */
export function toSwitchyardError(err: unknown): SwitchyardError {
  if (err instanceof SwitchyardError) return err;
  return new SwitchyardError(ErrorCodes.internal, 'internal error', { cause: err });
}

/** A peer sent bytes that are not a valid wire frame (protocol/wire.ts); the connection should be dropped. */
export class WireError extends SwitchyardError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.badFrame, message, options);
  }
}

/**
 * The swarm-aware origin declines to send a chunk again while peers can (HTTP 409). `unsent`, when the gateway
 * computed it, names a few chunks it has sent to nobody yet (header UNSENT_HEADER; `none` when every chunk went
 * out): a turn holder asks for those next instead of guessing among the chunks its own links do not show, which
 * are mostly in the swarm already, and stops asking once none is left.
 */
export class ChunkInSwarmError extends SwitchyardError {
  constructor(index: number, readonly unsent?: readonly number[]) {
    super(ErrorCodes.chunkInSwarm, `chunk ${index} is available from peers with spare upload; fetch it from the swarm`);
  }
}

/** The 409 `chunk_in_swarm` header: chunks the gateway has sent to nobody yet (`3,17,40`), or `none`. */
export const UNSENT_HEADER = 'x-origin-unsent';
/** At most this many chunks in UNSENT_HEADER (more than a turn asks for at once, a short header). */
export const MAX_UNSENT_HINT = 16;

/** UNSENT_HEADER's value for a list (empty: `none`). */
export const formatUnsentHeader = (unsent: readonly number[]): string => (unsent.length === 0 ? 'none' : unsent.join(','));

/**
 * UNSENT_HEADER's value as chunk indices below `count` ([] for `none`); null when absent or malformed (not
 * comma-separated decimal integers, too many, out of range): a hint is an optimisation, never a reason to fail.
 */
export function parseUnsentHeader(value: string | null | undefined, count: number): number[] | null {
  if (!value || value.length > MAX_UNSENT_HINT * 11) return null;
  if (value.trim() === 'none') return [];
  const parts = value.split(',');
  if (parts.length > MAX_UNSENT_HINT) return null;
  const out: number[] = [];
  for (const p of parts) {
    const t = p.trim();
    if (!/^\d{1,9}$/.test(t)) return null;
    const i = Number(t);
    if (i >= count) return null;
    if (!out.includes(i)) out.push(i);
  }
  return out;
}

/** The origin will not issue an urgent grant (disabled, too many chunks asked at once). */
export class UrgentRefusedError extends SwitchyardError {
  constructor(message: string) {
    super(ErrorCodes.urgentRefused, message);
  }
}

/** The gateway's urgent bandwidth share is used up for now (HTTP 429). */
export class UrgentShareSpentError extends SwitchyardError {
  constructor(message: string) {
    super(ErrorCodes.urgentShareSpent, message);
  }
}

/** A download directory is taken: another run holds its lock, or it belongs to another video's download. */
export class LockedError extends SwitchyardError {
  constructor(message: string) {
    super(ErrorCodes.locked, message);
  }
}

/** A manifest that cannot be trusted: inconsistent in itself, or not the video that was asked for. */
export class BadManifestError extends SwitchyardError {
  constructor(message: string) {
    super(ErrorCodes.badManifest, message);
  }
}
