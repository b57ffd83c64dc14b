/**
 * Peer credentials: `POST /auth/peer` mints a short-lived NATS user JWT for a new peer id (the peer keeps its
 * nkey seed; only the public key comes here), `POST /auth/peer/renew` renews one for its holder. Anonymous by
 * default with a rate limit per client address; an operator who sets API keys makes minting require one
 * (`Authorization: Bearer <key>` or `X-Api-Key`). Credentials never reach a log.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { PeerMinter } from '../../infra/peercreds.js';
import { createKeyedRateLimiter } from '../../lib/ratelimit.js';
import {
  PeerCredentialReply, PeerCredentialRequest, PeerRenewRequest, RateLimitedError, UnauthorizedError,
} from '../../protocol/mod.js';
import { bearerToken, safeEqual } from '../auth.js';
import { errorResponses, Tags } from '../schemas.js';

export interface CredentialRoutesOptions {
  minter: PeerMinter;
  /** NATS URLs handed to peers with their credential */
  natsUrl?: string;
  wsUrl?: string;
  /** when non-empty, minting needs one of these keys */
  apiKeys?: readonly string[];
  /** mints per minute per client address (default 120) */
  mintsPerMinute?: number;
}

export const CREDENTIAL_DEFAULTS = { mintsPerMinute: 120 } as const;

export const credentialRoutes: FastifyPluginAsync<CredentialRoutesOptions> = async (app, opts) => {
  const perMinute = opts.mintsPerMinute ?? CREDENTIAL_DEFAULTS.mintsPerMinute;
  const limiter = createKeyedRateLimiter({ ratePerSecond: perMinute / 60, burst: perMinute });
  const keys = (opts.apiKeys ?? []).filter((k) => k.length > 0);
  const nats = { ...(opts.natsUrl ? { url: opts.natsUrl } : {}), ...(opts.wsUrl ? { ws: opts.wsUrl } : {}) };

  const admit = (request: FastifyRequest) => {
    if (!limiter.allow(request.ip)) {
      throw new RateLimitedError(`too many credential requests from ${request.ip}: at most ${perMinute} a minute`);
    }
    if (keys.length === 0) return;
    const x = request.headers['x-api-key'];
    const key = bearerToken(request.headers) || (typeof x === 'string' ? x : undefined);
    if (!key || !keys.some((k) => safeEqual(k, key))) throw new UnauthorizedError('this gateway requires an API key to join');
  };
  const response = { 200: PeerCredentialReply, ...errorResponses() };

  app.post('/auth/peer', {
    schema: { tags: [Tags.auth], summary: 'Obtain a NATS credential for a new peer id', body: PeerCredentialRequest, response },
  }, async (request, reply) => {
    admit(request);
    const body = request.body as PeerCredentialRequest;
    const c = await opts.minter.mint(body.publicKey, body.label ? { label: body.label } : {});
    reply.header('cache-control', 'no-store');
    return { ...c, nats };
  });

  app.post('/auth/peer/renew', {
    schema: { tags: [Tags.auth], summary: 'Renew a peer credential (proof of its key)', body: PeerRenewRequest, response },
  }, async (request, reply) => {
    // renewals are limited too, but need no API key: the proof shows the key was admitted before
    if (!limiter.allow(request.ip)) throw new RateLimitedError(`too many credential requests from ${request.ip}`);
    const c = await opts.minter.renew(request.body as PeerRenewRequest);
    reply.header('cache-control', 'no-store');
    return { ...c, nats };
  });
};
