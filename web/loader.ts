/**
 * The hls.js side: a custom loader (hls.js `loader` / `pLoader` / `fLoader` config) that never touches the
 * network. The playlist is derived from the manifest (`hlsPlaylist`: every segment, and the init segment, a byte
 * range of one fMP4 file), and every init or media segment request is answered with that byte range from the
 * engine, verified chunk by chunk; asking for it is what makes the engine fetch those chunks first.
 */
import type { HlsConfig, Loader, LoaderCallbacks, LoaderConfiguration, LoaderContext, LoaderStats } from 'hls.js';
import { chunksOfRange, hlsPlaylist } from '../protocol/mod.js';
import type { PlayerSource } from './start.js';

/** The URLs the player is given; nothing is ever fetched from them. */
export interface StreamUrls {
  playlist: string;
  file: string;
}

function freshStats(): LoaderStats {
  return {
    aborted: false, loaded: 0, retry: 0, total: 0, chunkCount: 0, bwEstimate: 0,
    loading: { start: 0, first: 0, end: 0 }, parsing: { start: 0, end: 0 }, buffering: { start: 0, first: 0, end: 0 },
  };
}

/**
 * A loader class bound to one engine (or anything that reads like one: web/start.ts) and stream (hls.js
 * instantiates it per request).
 */
export function switchyardLoader(source: PlayerSource | Promise<PlayerSource>, urls: StreamUrls):
  new (config: HlsConfig) => Loader<LoaderContext> {
  // a promise lets a page attach the player (MediaSource set-up takes ~100 ms) before its manifest is checked
  const ready = Promise.resolve(source).then((engine) => {
    const stream = engine.manifest.stream;
    if (!stream) throw new TypeError(`${engine.manifest.videoId} has no stream: it cannot be played while it downloads`);
    return { engine, stream, playlist: hlsPlaylist(stream, urls.file) };
  });
  ready.catch(() => {}); // each load reports it

  return class SwitchyardLoader implements Loader<LoaderContext> {
    context: LoaderContext | null = null;
    stats: LoaderStats = freshStats();
    private abortController: AbortController | null = null;
    private callbacks: LoaderCallbacks<LoaderContext> | null = null;

    load(context: LoaderContext, _config: LoaderConfiguration, callbacks: LoaderCallbacks<LoaderContext>): void {
      this.context = context;
      this.callbacks = callbacks;
      const stats = freshStats();
      this.stats = stats;
      stats.loading.start = performance.now();
      const ac = new AbortController();
      this.abortController = ac;
      const succeed = (data: string | ArrayBuffer) => {
        if (ac.signal.aborted) return;
        const size = typeof data === 'string' ? data.length : data.byteLength;
        stats.loaded = size;
        stats.total = size;
        stats.loading.first = stats.loading.first || performance.now();
        stats.loading.end = performance.now();
        callbacks.onSuccess({ url: context.url, data }, stats, context, null);
      };
      const fail = (code: number, text: string) => {
        if (ac.signal.aborted) return;
        callbacks.onError({ code, text }, context, null, stats);
      };
      const url = context.url.split('#')[0];
      ready.then(({ engine, stream, playlist }) => {
        if (url === urls.playlist) return succeed(playlist);
        if (url !== urls.file) return fail(404, `not part of this stream: ${context.url}`);
        const start = context.rangeStart ?? 0;
        // hls.js's rangeEnd is exclusive
        const end = context.rangeEnd !== undefined && context.rangeEnd > 0 ? context.rangeEnd : engine.manifest.size;
        if (start < 0 || end > engine.manifest.size || end <= start) return fail(416, `bad range ${start}-${end}`);
        // a media segment being fetched is where playback is heading: chunks behind it may go
        if (start > stream.init.offset + stream.init.length - 1) {
          engine.setPlayhead(chunksOfRange(engine.manifest.chunkSize, start, end - start).first);
        }
        return engine.readRange(start, end - start, ac.signal).then((bytes) => {
          stats.loading.first = performance.now();
          succeed(bytes.buffer as ArrayBuffer);
        });
      }).catch((err: unknown) => fail(500, (err as Error)?.message ?? String(err)));
    }

    abort(): void {
      const ac = this.abortController;
      if (!ac || ac.signal.aborted) return;
      ac.abort();
      this.stats.aborted = true;
      if (this.context) this.callbacks?.onAbort?.(this.stats, this.context, null);
    }

    destroy(): void {
      this.abortController?.abort();
      this.callbacks = null;
      this.context = null;
    }
  };
}
