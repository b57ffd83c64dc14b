/**
 * The chunk route: the only place origin bytes leave the system (security posture, design brief §5: never a
 * chunk without a valid grant). Checks run cheapest and least revealing first: the grant's signature and
 * expiry (no I/O, and an unauthenticated caller learns nothing about which videos exist), then the index's
 * syntax, then the lease (a released or expired slot stops serving at once, not when the token expires), then
 * the manifest and the store.
 */
import type { TokenBucket } from '../../lib/tokenbucket.js';
import type { SwarmView } from '../swarmview.js';
import type { FastifyPluginAsync } from 'fastify';
import { awaitEgress } from '../egress.js';
import type { LeaseChecker } from '../../actors/origin/leases.js';
import type { Clock } from '../../lib/clock.js';
import {
  BadIndexError, ChunkCorruptError, chunkLength, ErrorCodes, GrantError, UnavailableError, type GrantClaims,
  ChunkInSwarmError, OriginPolicies,
} from '../../protocol/mod.js';
import { verifyGrant } from '../../lib/hash.js';
import type { ChunkStore } from '../../store/types.js';
import { grantToken } from '../auth.js';
import { indexOutOfRange } from '../errors.js';
import type { ManifestCache } from '../manifests.js';
import { contentRange, parseRange } from '../range.js';
import { binary, ChunkHeaders, ChunkParams, ChunkQuery, errorResponses, Tags } from '../schemas.js';
import type { StatsCollector } from '../stats.js';
import type { ActivityPublisher } from '../activity.js';
import type { SessionBudget } from '../budget.js';

export interface ChunkRoutesOptions {
  grantSecret: string;
  leases: Pick<LeaseChecker, 'holds'>;
  manifests: ManifestCache;
  store: ChunkStore;
  clock: Clock;
  stats: StatsCollector;
  /** origin egress cap (bandwidth emulation u_s), shared by every request */
  egress?: TokenBucket;
  /** swarm knowledge for the swarm-aware policy */
  swarm?: SwarmView;
  /** the origin policy in force (published by the origin workers) */
  policy(): string | undefined;
  /** demand exceeds the origin's slots for this video: clients wait, or more leechers than slots */
  contended(videoId: string): boolean;
  /** bytes per grant session (about one copy of the file plus retries) */
  budget: SessionBudget;
  /** tells the origin which sessions are really fetching (idle-slot reclaim) */
  activity?: Pick<ActivityPublisher, 'served'>;
}

interface ChunkRequest {
  Params: { id: string; index: string };
  Querystring: { grant?: string };
  Headers: { range?: string; 'if-range'?: string };
}

/** Canonical decimal only: "01", "+1", "1e3", "1.0" are not indexes, so each chunk has exactly one URL. */
const INDEX = /^(0|[1-9][0-9]{0,8})$/;

export const chunkRoutes: FastifyPluginAsync<ChunkRoutesOptions> = async (app, opts) => {
  const holds = async (claims: GrantClaims) => {
    try {
      return await opts.leases.holds(claims);
    } catch (cause) {
      throw new UnavailableError('cannot check the lease', { cause });
    }
  };

  app.get<ChunkRequest>('/videos/:id/chunks/:index', {
    schema: {
      tags: [Tags.chunks],
      summary: 'Fetch one chunk (or one byte range of it) with a grant from the origin',
      description: 'Needs a grant from `origin.open` as `Authorization: Bearer <grant>` or `?grant=`, and the ' +
        'grant\'s session must still hold its origin slot. Verify the bytes against the manifest\'s SHA-256.',
      security: [{ grant: [] }, { grantQuery: [] }],
      params: ChunkParams,
      querystring: ChunkQuery,
      headers: ChunkHeaders,
      response: {
        200: binary('the whole chunk'),
        206: binary('the requested byte range of the chunk'),
        ...errorResponses(400, 401, 403, 404, 409, 416, 429, 503, 504),
      },
    },
  }, async (request, reply) => {
    const { id, index: rawIndex } = request.params;
    const claims = verifyGrant(grantToken(request.headers, request.query), opts.grantSecret,
      { now: opts.clock.now(), videoId: id });
    if (!INDEX.test(rawIndex)) throw new BadIndexError(`chunk index must be a non-negative integer, got ${JSON.stringify(rawIndex)}`);
    const index = Number(rawIndex);
    if (!(await holds(claims))) {
      throw new GrantError(ErrorCodes.leaseLost, 'this session no longer holds an origin slot; fetch from peers or wait for a slot');
    }
    const manifest = await opts.manifests.get(id);
    const hash = manifest.chunks[index];
    if (hash === undefined) throw indexOutOfRange(index, manifest.chunks.length);
    // swarm-aware: a chunk already sent goes out again only when no peer with spare upload could send it instead
    if (opts.swarm && opts.policy() === OriginPolicies.swarmAware &&
        !opts.swarm.originShouldServe(id, index, claims.p, opts.contended(id))) {
      throw new ChunkInSwarmError(index);
    }
    const bytes = await opts.store.get(hash);
    const size = chunkLength(manifest, index);
    if (bytes.byteLength !== size) {
      // The store verified the hash on put, so this means a store bug or tampering on disk: never serve it.
      throw new ChunkCorruptError(`chunk ${hash} has ${bytes.byteLength} bytes, manifest says ${size}`);
    }
    const etag = `"${hash}"`;
    // If-Range: a Range meant for other bytes must not be applied to these; send the whole chunk instead.
    const ifRange = request.headers['if-range'];
    const range = ifRange !== undefined && ifRange !== etag ? { kind: 'full' as const } : parseRange(request.headers.range, size);

    const body = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const out = range.kind === 'full' ? body : body.subarray(range.start, range.end + 1);
    reply.headers({
      'content-type': 'application/octet-stream',
      etag,
      'x-chunk-sha256': hash,
      'accept-ranges': 'bytes',
      // Private: the grant is per session, so a shared cache must not hand these bytes to someone without one.
      'cache-control': 'private, max-age=31536000, immutable',
      'x-content-type-options': 'nosniff',
    });
    if (range.kind === 'partial') reply.code(206).header('content-range', contentRange(range, size));
    if (request.method !== 'HEAD') {
      // charged before any bytes leave, so a session over budget never gets a byte more than its budget
      opts.budget.charge(claims.s, out.byteLength, manifest);
      opts.swarm?.noteServed(id, index, claims.p);
      if (!(await awaitEgress(reply, opts.egress, out.byteLength))) {
        opts.swarm?.forgetServed(id, index, claims.p);
        opts.budget.refund(claims.s, out.byteLength);
        return reply;
      }
      // counted once the bytes are handed to the socket: what left the origin, not what was asked for
      reply.raw.once('finish', () => {
        opts.stats.chunkServed(claims.s, out.byteLength);
        opts.activity?.served(claims.s);
      });
    }
    return reply.send(out);
  });
};
