/**
 * The gateway's one error path. Every failure (typed protocol errors, fastify's own validation and parser
 * errors, anything unexpected) leaves as `{error:{code,message}}` JSON with a status chosen from the error's
 * code here and nowhere else, so routes only ever throw and the HTTP contract lives in one table.
 *
 * 5xx answers carry a generic message: the real one (NATS subjects, file paths, stack) goes to the log only.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import {
  BadIndexError, BadRangeError, ChunkInSwarmError, ErrorCodes, formatUnsentHeader, SwitchyardError, UNSENT_HEADER, type ErrorCode,
} from '../protocol/mod.js';
import type { Logger } from '../lib/logger.js';

/**
 * Status per protocol error code. A `Record` over every code, so a code added to protocol/errors.ts fails the
 * build here until someone decides its status.
 * - chunk_missing → 503: a published manifest names a chunk the store lacks. That is our fault, not the
 *   client's, and it may be transient (store replication lag), so 404 would wrongly tell the client the chunk
 *   does not exist; 503 tells it to retry or fetch the chunk from peers. It is logged as an error.
 * - ingest_failed → 422: the upload arrived but could not be turned into a video (empty, too many chunks...).
 */
const STATUS_BY_CODE: Record<ErrorCode, number> = {
  [ErrorCodes.badRequest]: 400,
  [ErrorCodes.notFound]: 404,
  [ErrorCodes.badIndex]: 400,
  [ErrorCodes.badRange]: 416,
  [ErrorCodes.badFrame]: 400,
  [ErrorCodes.tooLarge]: 413,
  [ErrorCodes.unknownVideo]: 404,
  [ErrorCodes.unknownSession]: 404,
  [ErrorCodes.grantMissing]: 401,
  [ErrorCodes.grantInvalid]: 401,
  [ErrorCodes.unauthorized]: 401,
  [ErrorCodes.grantExpired]: 403,
  [ErrorCodes.grantWrongVideo]: 403,
  [ErrorCodes.leaseLost]: 403,
  [ErrorCodes.grantWrongKind]: 403,
  [ErrorCodes.ingestFailed]: 422,
  [ErrorCodes.chunkMissing]: 503,
  [ErrorCodes.unavailable]: 503,
  [ErrorCodes.timeout]: 504,
  [ErrorCodes.chunkCorrupt]: 500,
  [ErrorCodes.chunkInSwarm]: 409,
  [ErrorCodes.rateLimited]: 429,
  [ErrorCodes.quotaExceeded]: 429,
  [ErrorCodes.urgentShareSpent]: 429,
  [ErrorCodes.urgentRefused]: 429,
  // client-side codes (a download directory, a manifest the client refused); never produced by a route
  [ErrorCodes.locked]: 409,
  [ErrorCodes.badManifest]: 500,
  [ErrorCodes.internal]: 500,
};

const GENERIC_5XX: Partial<Record<ErrorCode, string>> = {
  [ErrorCodes.chunkMissing]: 'the chunk is temporarily unavailable from the origin; retry or fetch it from peers',
  [ErrorCodes.unavailable]: 'a backend service is unavailable',
  [ErrorCodes.timeout]: 'a backend service did not answer in time',
};

/** Code used for unknown routes. */
export const NOT_FOUND_CODE = ErrorCodes.notFound;

/** Per-instance status overrides for the few cases where one code legitimately maps to two statuses. */
const overrides = new WeakMap<SwitchyardError, number>();

export function withStatus<E extends SwitchyardError>(err: E, status: number): E {
  overrides.set(err, status);
  return err;
}

/** A syntactically fine index past the last chunk: the resource does not exist, hence 404 (still `bad_index`). */
export function indexOutOfRange(index: number, count: number): BadIndexError {
  return withStatus(new BadIndexError(`chunk index ${index} is out of range (video has ${count} chunks)`), 404);
}

/** 416 must say how long the representation is (RFC 9110 §15.5.17), so the error carries the size. */
export class RangeNotSatisfiableError extends BadRangeError {
  constructor(message: string, readonly size: number) {
    super(message);
  }
}

export function statusFor(err: SwitchyardError): number {
  return overrides.get(err) ?? STATUS_BY_CODE[err.code] ?? 500;
}

interface Mapped {
  status: number;
  code: string;
  message: string;
  /** true when the failure is ours and deserves an error log line */
  serverFault: boolean;
}

function map(err: unknown): Mapped {
  if (err instanceof SwitchyardError) {
    const status = statusFor(err);
    const serverFault = status >= 500;
    const message = serverFault ? (GENERIC_5XX[err.code] ?? 'internal error') : err.message;
    return { status, code: serverFault && !GENERIC_5XX[err.code] ? ErrorCodes.internal : err.code, message, serverFault };
  }
  const fe = err as Partial<FastifyError> | null;
  if (fe && Array.isArray(fe.validation)) {
    return { status: 400, code: ErrorCodes.badRequest, message: fe.message ?? 'invalid request', serverFault: false };
  }
  // fastify's own client errors (bad JSON, unsupported media type, body too large...) keep their status.
  const sc = typeof fe?.statusCode === 'number' ? fe.statusCode : 0;
  if (sc >= 400 && sc < 500) {
    const code = sc === 413 ? ErrorCodes.tooLarge : ErrorCodes.badRequest;
    return { status: sc, code, message: fe?.message ?? 'bad request', serverFault: false };
  }
  return { status: 500, code: ErrorCodes.internal, message: 'internal error', serverFault: true };
}

/** Headers that only make sense on a successful chunk answer must never stick to an error. */
const SUCCESS_ONLY_HEADERS = ['etag', 'x-chunk-sha256', 'accept-ranges', 'content-range', 'last-modified'];

export function createErrorHandler(logger: Logger) {
  return function errorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply) {
    const m = map(err);
    // the query may carry a grant (`?grant=`): grants are credentials and never reach a log
    const fields = { method: request.method, url: request.url.split('?')[0], status: m.status, code: m.code };
    if (m.serverFault) logger.error('request failed', { ...fields, err: (err as { cause?: unknown })?.cause ?? err, detail: (err as Error)?.message });
    else logger.debug('request rejected', { ...fields, message: m.message });
    for (const h of SUCCESS_ONLY_HEADERS) reply.removeHeader(h);
    reply.header('cache-control', 'no-store');
    if (m.status === 401) reply.header('www-authenticate', 'Bearer realm="switchyard"');
    // the rate limiter sets its own Retry-After (seconds until its window resets): keep that one
    if ((m.status === 503 || m.status === 429) && !reply.hasHeader('retry-after')) reply.header('retry-after', '1');
    if (err instanceof RangeNotSatisfiableError) reply.header('content-range', `bytes */${err.size}`);
    if (err instanceof ChunkInSwarmError && err.unsent) reply.header(UNSENT_HEADER, formatUnsentHeader(err.unsent));
    return reply.code(m.status).type('application/json; charset=utf-8').send({ error: { code: m.code, message: m.message } });
  };
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply) {
  const path = request.url.split('?')[0]!.slice(0, 200);
  return reply.code(404).header('cache-control', 'no-store')
    .send({ error: { code: NOT_FOUND_CODE, message: `no route ${request.method} ${path}` } });
}
