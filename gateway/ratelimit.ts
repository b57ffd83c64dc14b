/**
 * HTTP rate limiting for the whole gateway (@fastify/rate-limit, in memory, per process). The key is the grant
 * session when a chunk request carries a valid grant, otherwise the client address: a benchmark's twenty
 * loopback clients each have their own session and must not share one address's bucket, while a stranger
 * without a grant is limited by address. The grant is verified (one HMAC, no I/O) before its session is used
 * as a key, so forged grants cannot mint fresh buckets; an expired grant still names its session, since the
 * route will refuse it anyway and the session is the fairer bucket.
 *
 * The defaults (1000 requests per 10 s per key) are far above what a client fetching 256 KiB chunks in four
 * parallel streams asks, so bench:swarm, the demo and the tests never meet them. A refusal is a RateLimitedError
 * and leaves through the gateway's one error handler (429 `rate_limited`).
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { RateLimitedError } from '../protocol/mod.js';
import { verifyGrant } from '../lib/hash.js';
import { grantToken } from './auth.js';

export interface RateLimitInit {
  /** requests per window per key (default 1000) */
  max?: number;
  /** window length in ms (default 10 s) */
  timeWindowMs?: number;
  /** keys remembered at once (default 10,000; least recently used dropped first) */
  maxKeys?: number;
}

export const RATE_LIMIT_DEFAULTS = { max: 1000, timeWindowMs: 10_000, maxKeys: 10_000 } as const;

const GRANT_ROUTES = new Set(['/videos/:id/chunks/:index', '/videos/:id/urgent/:index', '/live/:id/segments/:seq']);

export async function registerRateLimit(
  app: FastifyInstance,
  opts: RateLimitInit & { grantSecret: string },
): Promise<void> {
  const max = opts.max ?? RATE_LIMIT_DEFAULTS.max;
  const timeWindow = opts.timeWindowMs ?? RATE_LIMIT_DEFAULTS.timeWindowMs;
  if (!Number.isInteger(max) || max < 1) throw new TypeError('rateLimit.max must be an integer ≥ 1');
  if (!Number.isInteger(timeWindow) || timeWindow < 1) throw new TypeError('rateLimit.timeWindowMs must be an integer ≥ 1');

  const keyOf = (request: FastifyRequest): string => {
    if (GRANT_ROUTES.has(request.routeOptions.url ?? '')) {
      try {
        const token = grantToken(request.headers, request.query as { grant?: string });
        // expiry is the route's business (it answers 403); here only "is this really the origin's grant"
        const claims = verifyGrant(token, opts.grantSecret, { now: 0, kind: 'any' });
        return `s:${claims.s}`;
      } catch {
        // no grant or a bad one: the route refuses it, and the address pays for the attempt
      }
    }
    return `ip:${request.ip}`;
  };

  await app.register(rateLimit, {
    global: true,
    max,
    timeWindow,
    cache: opts.maxKeys ?? RATE_LIMIT_DEFAULTS.maxKeys,
    keyGenerator: keyOf,
    errorResponseBuilder: (_request, ctx) =>
      new RateLimitedError(`rate limit exceeded (${ctx.max} requests per ${timeWindow / 1000} s); retry in ${ctx.after}`),
  });
}
