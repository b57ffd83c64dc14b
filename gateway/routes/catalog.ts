/**
 * Catalog routes: the list of videos and each video's manifest. Both are public (step 1 of the flow in the
 * design brief): knowing a manifest lets a client verify chunks, not fetch them; fetching needs a grant.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { OriginClient } from '../../actors/origin/client.js';
import { CatalogListReply, CatalogListRequest, Manifest } from '../../protocol/mod.js';
import type { ManifestCache } from '../manifests.js';
import { errorResponses, Tags, VideoParams } from '../schemas.js';

export interface CatalogRoutesOptions {
  origin: Pick<OriginClient, 'listPage'>;
  manifests: ManifestCache;
}

export const catalogRoutes: FastifyPluginAsync<CatalogRoutesOptions> = async (app, opts) => {
  app.get<{ Querystring: CatalogListRequest }>('/videos', {
    schema: {
      tags: [Tags.catalog],
      summary: 'List the videos in the catalog, one page at a time (oldest first)',
      description: '`limit` defaults to 100 (at most 500); `next`, when present, is the `offset` of the next page.',
      querystring: CatalogListRequest,
      response: { 200: Type.Object(CatalogListReply.properties, { description: 'video summaries' }), ...errorResponses(400) },
    },
  }, async (request, reply) => {
    const { offset, limit } = request.query;
    const page = await opts.origin.listPage({
      ...(offset !== undefined ? { offset } : {}), ...(limit !== undefined ? { limit } : {}),
    });
    // The list changes whenever something is ingested; let caches keep it but always revalidate.
    reply.header('cache-control', 'no-cache');
    return page;
  });

  app.get<{ Params: { id: string } }>('/videos/:id/manifest', {
    schema: {
      tags: [Tags.catalog],
      summary: 'Get the manifest of a video (chunk hashes, sizes, root hash)',
      params: VideoParams,
      response: { 200: Type.Object(Manifest.properties, { description: 'the manifest' }), ...errorResponses(400, 404) },
    },
  }, async (request, reply) => {
    const manifest = await opts.manifests.get(request.params.id);
    // The id is derived from the root hash, so this URL names one immutable document forever.
    reply.header('cache-control', 'public, max-age=31536000, immutable');
    reply.header('etag', `"${manifest.rootHash}"`);
    return manifest;
  });
};
