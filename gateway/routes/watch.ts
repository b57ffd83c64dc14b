/**
 * The browser peer: `GET /watch/:id` (the watch page), `GET /watch/assets/watch.js` (the bundled peer, built by
 * scripts/build-web.mjs into dist/web/), `GET /watch/assets/watch.css`, and `GET /watch/config` (what the page
 * needs to join: the NATS WebSocket URL as the browser can reach it). Everything the page runs comes from this
 * gateway. The page itself takes no credential from here: it mints its own at `POST /auth/peer`.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { UnavailableError, VideoId } from '../../protocol/mod.js';
import { WATCH_CSS, watchCsp, watchPage } from '../watch/page.js';
import { errorResponses, Tags } from '../schemas.js';

export interface WatchRoutesOptions {
  /** nats-server's WebSocket URL as browsers reach it; without it the page says it cannot join */
  natsWsUrl?: string;
  /** where the bundle lives (default: dist/web next to the compiled gateway) */
  bundleDir?: string;
}

export const WatchConfig = Type.Object({
  natsWsUrl: Type.Optional(Type.String({ maxLength: 2048 })),
});

const SCRIPT_PATH = '/watch/assets/watch.js';

export const watchRoutes: FastifyPluginAsync<WatchRoutesOptions> = async (app, opts) => {
  // dist/gateway/routes/watch.js → dist/web/
  const bundleDir = opts.bundleDir ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'web');
  const csp = watchCsp(opts.natsWsUrl);
  // the bundle (~1 MB) is revalidated, not re-sent: a returning viewer's browser keeps it (and its compiled code)
  let bundle: Promise<{ body: Buffer; etag: string }> | null = null;
  const loadBundle = () => {
    bundle ??= readFile(join(bundleDir, 'watch.js')).then((body) => ({ body,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` })).catch((cause: unknown) => {
      bundle = null; // built later (npm run build): try again next time
      throw new UnavailableError('the browser peer is not built (run npm run build)', { cause });
    });
    return bundle;
  };

  app.get('/watch/config', {
    schema: { tags: [Tags.watch], summary: 'What the watch page needs to join the swarm', response: { 200: WatchConfig } },
  }, async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    return opts.natsWsUrl ? { natsWsUrl: opts.natsWsUrl } : {};
  });

  app.get('/watch/assets/watch.js', {
    schema: { tags: [Tags.watch], summary: 'The browser peer (bundled)', ...{ response: errorResponses(503) } },
  }, async (request, reply) => {
    const { body, etag } = await loadBundle();
    reply.header('content-type', 'text/javascript; charset=utf-8').header('cache-control', 'no-cache').header('etag', etag);
    if (request.headers['if-none-match'] === etag) return reply.code(304).send();
    return reply.send(body);
  });

  app.get('/watch/assets/watch.css', { schema: { tags: [Tags.watch], summary: 'The watch page style' } },
    async (_request, reply) => reply.header('content-type', 'text/css; charset=utf-8').send(WATCH_CSS));

  app.get<{ Params: { id: string } }>('/watch/:id', {
    schema: { tags: [Tags.watch], summary: 'Watch a video (plays while it downloads from the origin and peers)',
      params: Type.Object({ id: VideoId }), response: errorResponses(400) },
  }, async (request, reply) => {
    reply.header('content-type', 'text/html; charset=utf-8')
      .header('content-security-policy', csp)
      .header('cache-control', 'no-cache');
    return reply.send(watchPage(request.params.id, SCRIPT_PATH));
  });
};
