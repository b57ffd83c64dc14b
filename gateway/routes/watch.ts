/**
 * The browser peer: `GET /watch/:id` (the watch page, with its boot data: protocol/watch.ts), `GET
 * /watch/assets/watch.js` and the chunks it imports (the bundled peer, built by scripts/build-web.mjs into
 * dist/web/), `GET /watch/assets/watch.css`, and `GET /watch/config` (the NATS WebSocket URL as the browser can
 * reach it, for pages of the library that have no boot data). Everything the page runs comes from this gateway.
 * The page takes no credential from here: it mints its own at `POST /auth/peer`. What it may take is a start
 * grant: an urgent grant for the first seconds of the stream, paid from the urgent share like any urgent chunk.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { LiveDirectory } from '../../actors/live/registry.js';
import type { Clock } from '../../lib/clock.js';
import { signGrant } from '../../lib/hash.js';
import type { Logger } from '../../lib/logger.js';
import {
  ErrorCodes, startWindow, SwitchyardError, UnavailableError, urgentClaims, VideoId, type LiveBoot, type LiveWindow,
  type WatchBoot,
} from '../../protocol/mod.js';
import type { ManifestCache } from '../manifests.js';
import { WATCH_CSS, watchCsp, watchPage } from '../watch/page.js';
import { errorResponses, Tags } from '../schemas.js';

export interface WatchRoutesOptions {
  /** nats-server's WebSocket URL as browsers reach it; without it the page says it cannot join */
  natsWsUrl?: string;
  /** where the bundle lives (default: dist/web next to the compiled gateway) */
  bundleDir?: string;
  /** to put the manifest into the page (the page then plays before it has joined NATS) */
  manifests?: Pick<ManifestCache, 'get'>;
  /** start grants (protocol/watch.ts): only when the gateway keeps an urgent share to serve them from */
  start?: StartGrantOptions;
  /** live streams' windows: `/watch/<streamId>` of a stream they know serves the live page (web/livepage.ts) */
  live?: Pick<LiveDirectory, 'get' | 'peek'>;
  logger?: Logger;
}

/** What a live page is told of its stream (the window itself it asks over NATS: always the freshest). */
function liveBoot(w: LiveWindow): LiveBoot {
  return { segmentSec: w.segmentSec, ...(w.codecs ? { codecs: w.codecs } : {}), ...(w.ended ? { ended: true } : {}) };
}

export interface StartGrantOptions {
  grantSecret: string;
  clock: Clock;
  /** seconds of video a start grant covers (default 4, whole segments) */
  seconds?: number;
  /** chunks one start grant may cover (default 16) */
  maxChunks?: number;
  /** lifetime (default 10 s: the page needs well under one) */
  ttlMs?: number;
}

export const START_GRANT_DEFAULTS = { seconds: 4, maxChunks: 16, ttlMs: 10_000 } as const;

export const WatchConfig = Type.Object({
  natsWsUrl: Type.Optional(Type.String({ maxLength: 2048 })),
});

const SCRIPT_PATH = '/watch/assets/watch.js';
/** the names the web build writes (scripts/build-web.mjs): `watch.js`, `chunk-<hash>.js` */
const BUNDLE_FILE = /^(watch|early|chunk-[A-Z0-9]{8})\.js$/;

export const watchRoutes: FastifyPluginAsync<WatchRoutesOptions> = async (app, opts) => {
  // dist/gateway/routes/watch.js → dist/web/
  const bundleDir = opts.bundleDir ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'web');
  const csp = watchCsp(opts.natsWsUrl);
  // the bundle (~1 MB in a few files) is revalidated, not re-sent: a returning viewer's browser keeps it (and its
  // compiled code). Only files of the bundle's own name shape, read once each (a bounded set: what the build wrote)
  const files = new Map<string, Promise<{ body: Buffer; etag: string }>>();
  const loadFile = (name: string) => {
    let f = files.get(name);
    if (!f) {
      f = readFile(join(bundleDir, name)).then((body) => ({ body,
        etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` }));
      files.set(name, f);
      f.catch(() => files.delete(name)); // built later (npm run build): try again next time
    }
    return f;
  };

  // the chunks watch.js imports at once (scripts/build-web.mjs): the page asks for them alongside it
  let preload: Promise<string[]> | null = null;
  const preloads = () => {
    preload ??= readFile(join(bundleDir, 'watch.preload.json'), 'utf8').then((text) => {
      const list: unknown = JSON.parse(text);
      return Array.isArray(list) ? list.filter((f): f is string => typeof f === 'string' && BUNDLE_FILE.test(f)) : [];
    }).catch(() => {
      preload = null;
      return [];
    });
    return preload;
  };

  /** the page's boot data: never fails the page (without a manifest the page asks the catalog over NATS) */
  const bootFor = async (videoId: string): Promise<WatchBoot> => {
    const boot: WatchBoot = opts.natsWsUrl ? { natsWsUrl: opts.natsWsUrl } : {};
    // a live stream the directory's mirror knows (no I/O: a VOD page pays nothing for this check)
    const live = opts.live?.peek(videoId);
    if (live) return { ...boot, live: liveBoot(live) };
    if (!opts.manifests) return liveOr(videoId, boot);
    try {
      const m = await opts.manifests.get(videoId);
      boot.manifest = m;
      const st = opts.start;
      if (st && m.stream) {
        const chunks = startWindow(m.stream, m.chunkSize, st.seconds ?? START_GRANT_DEFAULTS.seconds,
          st.maxChunks ?? START_GRANT_DEFAULTS.maxChunks);
        if (chunks.length > 0) {
          const expiresAt = st.clock.now() + (st.ttlMs ?? START_GRANT_DEFAULTS.ttlMs);
          // a page view has no peer yet: the session is a random one-off, so each page's budget is its own
          const sessionId = `watch-${randomBytes(9).toString('base64url')}`;
          boot.start = { chunks, expiresAt,
            grant: signGrant(urgentClaims(m, chunks, { peerId: 'watch', sessionId }, expiresAt), st.grantSecret) };
        }
      }
    } catch (err) {
      opts.logger?.debug('watch page without a manifest', { videoId, err: (err as Error).message });
      return liveOr(videoId, boot);
    }
    return boot;
  };
  /** no video of that id: a live stream the mirror has not seen yet (one direct read), else the page as it was */
  const liveOr = async (videoId: string, boot: WatchBoot): Promise<WatchBoot> => {
    if (!opts.live) return boot;
    try {
      return { ...boot, live: liveBoot(await opts.live.get(videoId)) };
    } catch {
      return boot;
    }
  };

  app.get('/watch/config', {
    schema: { tags: [Tags.watch], summary: 'What the watch page needs to join the swarm', response: { 200: WatchConfig } },
  }, async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    return opts.natsWsUrl ? { natsWsUrl: opts.natsWsUrl } : {};
  });

  app.get<{ Params: { file: string } }>('/watch/assets/:file', {
    schema: { tags: [Tags.watch], summary: 'The browser peer (bundled: watch.js and the chunks it imports)',
      params: Type.Object({ file: Type.String({ pattern: BUNDLE_FILE.source }) }), response: errorResponses(400, 404, 503) },
  }, async (request, reply) => {
    const { file } = request.params;
    let loaded: { body: Buffer; etag: string };
    try {
      loaded = await loadFile(file);
    } catch (cause) {
      if (!file.startsWith('chunk-')) throw new UnavailableError('the browser peer is not built (run npm run build)', { cause });
      throw new SwitchyardError(ErrorCodes.notFound, `no such asset: ${file}`);
    }
    const { body, etag } = loaded;
    // a chunk's name is its content hash: it never changes under that name; watch.js and early.js keep their
    // names, so they are revalidated on every visit
    const caching = file.startsWith('chunk-') ? 'public, max-age=31536000, immutable' : 'no-cache';
    reply.header('content-type', 'text/javascript; charset=utf-8').header('cache-control', caching).header('etag', etag);
    if (request.headers['if-none-match'] === etag) return reply.code(304).send();
    return reply.send(body);
  });

  app.get('/watch/assets/watch.css', { schema: { tags: [Tags.watch], summary: 'The watch page style' } },
    async (_request, reply) => reply.header('content-type', 'text/css; charset=utf-8').send(WATCH_CSS));

  app.get<{ Params: { id: string } }>('/watch/:id', {
    schema: { tags: [Tags.watch], summary: 'Watch a video (plays while it downloads from the origin and peers) or a live stream',
      params: Type.Object({ id: VideoId }), response: errorResponses(400) },
  }, async (request, reply) => {
    reply.header('content-type', 'text/html; charset=utf-8')
      .header('content-security-policy', csp)
      // one start grant per page view: never stored, never shared
      .header('cache-control', 'no-store');
    const [boot, chunks] = await Promise.all([bootFor(request.params.id), preloads()]);
    return reply.send(watchPage(request.params.id, SCRIPT_PATH, boot, chunks.map((f) => `/watch/assets/${f}`)));
  });
};
