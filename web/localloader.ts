/**
 * The hls.js loader shell both players use (web/loader.ts for a video, web/liveloader.ts for a live stream): a
 * custom `loader` / `pLoader` / `fLoader` that never touches the network. hls.js instantiates it per request;
 * `answer` turns a request into bytes (or text) from the engine, and this shell does the rest hls.js expects
 * (stats, success and error callbacks, abort, destroy), so the two players differ only in what they answer.
 */
import type { HlsConfig, Loader, LoaderCallbacks, LoaderConfiguration, LoaderContext, LoaderStats } from 'hls.js';

/** What a request is answered with: data, or an HTTP-like error. */
export type LocalAnswer = { data: string | ArrayBuffer } | { error: { code: number; text: string } };

/** Answers one request; `firstByte()` marks when the first bytes were ready (hls.js's bandwidth estimate). */
export type Answerer = (req: { url: string; context: LoaderContext; signal: AbortSignal; firstByte(): void }) => Promise<LocalAnswer>;

function freshStats(): LoaderStats {
  return {
    aborted: false, loaded: 0, retry: 0, total: 0, chunkCount: 0, bwEstimate: 0,
    loading: { start: 0, first: 0, end: 0 }, parsing: { start: 0, end: 0 }, buffering: { start: 0, first: 0, end: 0 },
  };
}

export function localLoader(answer: Answerer): new (config: HlsConfig) => Loader<LoaderContext> {
  return class SwitchyardLocalLoader implements Loader<LoaderContext> {
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
      const fail = (code: number, text: string) => {
        if (ac.signal.aborted) return;
        callbacks.onError({ code, text }, context, null, stats);
      };
      const firstByte = () => {
        stats.loading.first = performance.now();
      };
      answer({ url: context.url, context, signal: ac.signal, firstByte })
        .then((a) => {
          if (ac.signal.aborted) return;
          if ('error' in a) return fail(a.error.code, a.error.text);
          const size = typeof a.data === 'string' ? a.data.length : a.data.byteLength;
          stats.loaded = size;
          stats.total = size;
          stats.loading.first = stats.loading.first || performance.now();
          stats.loading.end = performance.now();
          callbacks.onSuccess({ url: context.url, data: a.data }, stats, context, null);
        })
        .catch((err: unknown) => fail(500, (err as Error)?.message ?? String(err)));
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
