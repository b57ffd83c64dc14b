/**
 * The chunk route: the only place origin bytes leave the system (security posture, design brief §5: never a
 * chunk without a valid grant). Checks run cheapest and least revealing first: the grant's signature and
 * expiry (no I/O, and an unauthenticated caller learns nothing about which videos exist), then the index's
 * syntax, then the lease (a released or expired slot stops serving at once, not when the token expires; only a
 * yielded turn's last few requests still pass, actors/origin/leases.ts), then the manifest and the Range
 * (against the manifest's length, no I/O), and only then the store, whose bytes are streamed out by the chunk
 * sender (`gateway/serve.ts`) once their size is checked against the manifest.
 */
import type { TokenBucket } from '../../lib/tokenbucket.js';
import type { EgressBudget, SwarmView } from '../swarmview.js';
import type { FastifyPluginAsync } from 'fastify';
import type { LeaseChecker } from '../../actors/origin/leases.js';
import type { Clock } from '../../lib/clock.js';
import {
  BadIndexError, chunkLength, ErrorCodes, GrantError, UnavailableError, type GrantClaims,
  ChunkInSwarmError, MAX_UNSENT_HINT, OriginPolicies,
} from '../../protocol/mod.js';
import { verifyGrant } from '../../lib/hash.js';
import type { ChunkStore } from '../../store/types.js';
import { grantToken } from '../auth.js';
import { indexOutOfRange } from '../errors.js';
import type { ManifestCache } from '../manifests.js';
import { parseRange } from '../range.js';
import { createChunkSender } from '../serve.js';
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
  /** the operator's egress target (× the video's size; admission `config`), if any: second copies within it */
  egressTarget?(): number | undefined;
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

/** With an egress target: what this gateway may send of the video in all, and this chunk's share of it. */
function egressBudget(opts: Pick<ChunkRoutesOptions, 'egressTarget'>, manifest: Parameters<typeof chunkLength>[0] & { size: number },
  index: number): EgressBudget | undefined {
  const target = opts.egressTarget?.();
  return target === undefined ? undefined
    : { limit: target * manifest.size, videoBytes: manifest.size, bytes: chunkLength(manifest, index) };
}

export const chunkRoutes: FastifyPluginAsync<ChunkRoutesOptions> = async (app, opts) => {
  const sender = createChunkSender({ store: opts.store, ...(opts.egress ? { egress: opts.egress } : {}) });
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
        !opts.swarm.originShouldServe(id, index, claims.p, opts.contended(id), egressBudget(opts, manifest, index))) {
      throw new ChunkInSwarmError(index, opts.swarm.unsent(id, manifest.chunks.length, claims.p, MAX_UNSENT_HINT));
    }
    const size = chunkLength(manifest, index);
    const etag = `"${hash}"`;
    // If-Range: a Range meant for other bytes must not be applied to these; send the whole chunk instead.
    const ifRange = request.headers['if-range'];
    const range = ifRange !== undefined && ifRange !== etag ? { kind: 'full' as const } : parseRange(request.headers.range, size);
    return sender.send(request, reply, {
      hash, size, range, label: `chunk ${hash}`,
      headers: {
        'content-type': 'application/octet-stream',
        etag,
        'x-chunk-sha256': hash,
        'accept-ranges': 'bytes',
        // Private: the grant is per session, so a shared cache must not hand these bytes to someone without one.
        'cache-control': 'private, max-age=31536000, immutable',
        'x-content-type-options': 'nosniff',
      },
      // charged before any bytes leave, so a session over budget never gets a byte more than its budget
      charge: (n) => {
        opts.budget.charge(claims.s, n, manifest);
        opts.swarm?.noteServed(id, index, claims.p, n);
      },
      refund: (n) => {
        opts.swarm?.forgetServed(id, index, claims.p, n);
        opts.budget.refund(claims.s, n);
      },
      served: (n) => {
        opts.stats.chunkServed(claims.s, n);
        opts.activity?.served(claims.s);
      },
    });
  });
};
