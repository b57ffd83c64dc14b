/**
 * The urgent chunk route: chunks right at a streaming client's playhead, under an urgent grant (kind `u`, from
 * `sy.origin.urgent.<peer>`), served from the gateway's reserved urgent share without any slot. A slot grant is
 * refused here and an urgent grant is refused on the slot route (403 `grant_wrong_kind`), so neither path can
 * stand in for the other. Only the chunks the grant names are served, whole (no Range: they are needed now),
 * each within the grant's byte budget and the share's bandwidth (429 `urgent_share_spent` when spent).
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Clock } from '../../lib/clock.js';
import type { TokenBucket } from '../../lib/tokenbucket.js';
import { verifyGrant } from '../../lib/hash.js';
import { BadIndexError, chunkLength, ErrorCodes, GrantError } from '../../protocol/mod.js';
import type { ChunkStore } from '../../store/types.js';
import { grantToken } from '../auth.js';
import { indexOutOfRange } from '../errors.js';
import type { ManifestCache } from '../manifests.js';
import { createChunkSender } from '../serve.js';
import { binary, ChunkParams, ChunkQuery, errorResponses, Tags } from '../schemas.js';
import type { StatsCollector } from '../stats.js';
import type { UrgentShare } from '../urgent.js';

export interface UrgentRoutesOptions {
  grantSecret: string;
  manifests: ManifestCache;
  store: ChunkStore;
  clock: Clock;
  stats: StatsCollector;
  share: UrgentShare;
  /** origin egress cap (bandwidth emulation), shared with the slot route: urgent bytes are origin bytes too */
  egress?: TokenBucket;
}

interface UrgentRequest {
  Params: { id: string; index: string };
  Querystring: { grant?: string };
}

const INDEX = /^(0|[1-9][0-9]{0,8})$/;
export const URGENT_ROUTE = '/videos/:id/urgent/:index';

export const urgentRoutes: FastifyPluginAsync<UrgentRoutesOptions> = async (app, opts) => {
  const sender = createChunkSender({ store: opts.store, ...(opts.egress ? { egress: opts.egress } : {}) });
  app.get<UrgentRequest>(URGENT_ROUTE, {
    schema: {
      tags: [Tags.chunks],
      summary: 'Fetch one chunk near the playhead with an urgent grant (no slot; reserved bandwidth share)',
      description: 'Needs an urgent grant from `sy.origin.urgent.<peer>` naming this chunk, as `Authorization: ' +
        'Bearer <grant>` or `?grant=`. Served from a small reserved share of origin bandwidth: 429 ' +
        '`urgent_share_spent` when it is used up. A slot grant is refused (403 `grant_wrong_kind`).',
      security: [{ grant: [] }, { grantQuery: [] }],
      params: ChunkParams,
      querystring: ChunkQuery,
      response: { 200: binary('the whole chunk'), ...errorResponses(400, 401, 403, 404, 429, 503) },
    },
  }, async (request, reply) => {
    const { id, index: rawIndex } = request.params;
    const claims = verifyGrant(grantToken(request.headers, request.query), opts.grantSecret,
      { now: opts.clock.now(), videoId: id, kind: 'urgent' });
    if (!INDEX.test(rawIndex)) throw new BadIndexError(`chunk index must be a non-negative integer, got ${JSON.stringify(rawIndex)}`);
    const index = Number(rawIndex);
    if (!(claims.c ?? []).includes(index)) {
      throw new GrantError(ErrorCodes.grantWrongKind, `this urgent grant does not cover chunk ${index}`);
    }
    const manifest = await opts.manifests.get(id);
    const hash = manifest.chunks[index];
    if (hash === undefined) throw indexOutOfRange(index, manifest.chunks.length);
    const size = chunkLength(manifest, index);
    return sender.send(request, reply, {
      hash, size, range: { kind: 'full' }, label: `chunk ${hash}`,
      headers: {
        'content-type': 'application/octet-stream',
        etag: `"${hash}"`,
        'x-chunk-sha256': hash,
        'cache-control': 'private, no-store',
        'x-content-type-options': 'nosniff',
      },
      charge: (n) => {
        try {
          opts.share.admit(claims, n);
        } catch (err) {
          opts.stats.urgentRefused();
          throw err;
        }
      },
      refund: (n) => opts.share.refund(claims, n),
      served: (n) => opts.stats.urgentServed(claims.s, n),
    });
  });
};
