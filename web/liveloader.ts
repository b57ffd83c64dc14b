/**
 * The hls.js side of a live stream: a custom loader (`loader` / `pLoader` / `fLoader`) that never touches the
 * network. The playlist is `liveHlsPlaylist` over the segments the live viewer (web/live.ts) holds verified,
 * consecutive from its join point (no ENDLIST until the stream has ended); hls.js reloads it by itself, as it
 * would a live playlist from a server. The init segment is the window's (checked against its hash by the viewer);
 * a media segment is the viewer's verified bytes, waited for when hls.js asks before they are in.
 */
import type { HlsConfig, Loader, LoaderContext } from 'hls.js';
import type { LiveViewer } from '../client/live/viewer.js';
import { liveHlsPlaylist } from '../protocol/mod.js';
import { localLoader, type LocalAnswer } from './localloader.js';

/** The names the player is given; nothing is ever fetched from them. */
export interface LiveStreamUrls {
  playlist: string;
  init: string;
  /** a segment's name; `seqOf` reads it back */
  segment(seq: number): string;
  seqOf(url: string): number | null;
}

/** What the loader plays: a started viewer and the segment playback joins at. */
export interface LiveLoaderSource {
  viewer: Pick<LiveViewer, 'init' | 'segment' | 'held' | 'info' | 'ended' | 'window' | 'on'>;
  /** the first segment of the playlist (the viewer's join point) */
  joinSeq: number;
}

export interface LiveLoaderOptions {
  /** longest wait for a segment hls.js asks for before the viewer holds it (ms, default 15000) */
  segmentWaitMs?: number;
  /** longest wait for the first playlist to reach the edge the viewer joined at (ms, default 5000) */
  firstWaitMs?: number;
  /** segments listed at most (the playlist slides; default 30) */
  maxSegments?: number;
}

/** Standard names under `base`: `<base>/live.m3u8`, `<base>/init.mp4`, `<base>/seg-<seq>.m4s`. */
export function liveStreamUrls(base: string): LiveStreamUrls {
  const prefix = `${base}/seg-`;
  return {
    playlist: `${base}/live.m3u8`,
    init: `${base}/init.mp4`,
    segment: (seq) => `${prefix}${seq}.m4s`,
    seqOf(url) {
      if (!url.startsWith(prefix) || !url.endsWith('.m4s')) return null;
      const text = url.slice(prefix.length, -'.m4s'.length);
      return /^(0|[1-9][0-9]{0,8})$/.test(text) ? Number(text) : null;
    },
  };
}

/** The seqs held consecutively from `from`, the last `max` of them. */
export function heldRun(held: readonly number[], from: number, max: number): number[] {
  const set = new Set(held);
  let end = from - 1;
  while (set.has(end + 1)) end++;
  const out: number[] = [];
  for (let s = Math.max(from, end - max + 1); s <= end; s++) out.push(s);
  return out;
}


/** Resolves at the viewer's next verified segment (or end), after `ms`, or when `signal` aborts. */
function nextChange(viewer: LiveLoaderSource['viewer'], ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      off();
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    const off = viewer.on((e) => {
      if (e.type === 'segment.verified' || e.type === 'ended') done();
    });
    signal.addEventListener('abort', done);
  });
}

/** A loader class bound to one live viewer (hls.js instantiates it per request). */
export function liveLoader(source: Promise<LiveLoaderSource>, urls: LiveStreamUrls, opts: LiveLoaderOptions = {}):
  new (config: HlsConfig) => Loader<LoaderContext> {
  const segmentWaitMs = opts.segmentWaitMs ?? 15_000;
  const firstWaitMs = opts.firstWaitMs ?? 5000;
  const maxSegments = opts.maxSegments ?? 30;
  source.catch(() => {}); // each load reports it
  let served = false;
  /** where the last playlist started (null: the join point); it only moves forward */
  let from: number | null = null;

  const playlist = async (src: LiveLoaderSource, signal: AbortSignal): Promise<string> => {
    const { viewer } = src;
    // the first answer waits until the viewer holds everything from its join point to the edge it joined at,
    // so hls.js starts its target latency behind a real edge (a playlist of one segment would start at it)
    const joinedEdge = viewer.window().segments.at(-1)?.seq ?? src.joinSeq;
    const until = performance.now() + firstWaitMs;
    const runNow = () => {
      const held = viewer.held();
      let start = from ?? src.joinSeq;
      // the viewer's store let the playlist's first segments go (DVR window), or never got the join point (it
      // fetches nothing too old to be played): start at the oldest segment it holds after it
      if (!held.includes(start)) start = held.find((s) => s > start) ?? start;
      return heldRun(held, start, maxSegments);
    };
    let run = runNow();
    while (!signal.aborted && (run.length === 0 || (!served && run.at(-1)! < joinedEdge && performance.now() < until))) {
      await nextChange(viewer, run.length === 0 ? 1000 : Math.max(1, until - performance.now()), signal);
      run = runNow();
    }
    if (signal.aborted) throw new Error('aborted');
    served = true;
    from = run[0]!;
    const end = viewer.ended();
    const segments = run.map((seq) => ({ seq, durationSec: viewer.info(seq)!.durationSec }));
    return liveHlsPlaylist(segments, { initUri: urls.init, segmentUri: urls.segment,
      targetDurationSec: viewer.window().segmentSec, ended: end !== null && run.at(-1)! >= end.lastSeq });
  };

  const segment = async (src: LiveLoaderSource, seq: number, signal: AbortSignal): Promise<Uint8Array | null> => {
    const until = performance.now() + segmentWaitMs;
    for (;;) {
      const bytes = src.viewer.segment(seq);
      // a copy: the viewer's bytes are also relayed to peers, and the player may keep (or transfer) what it gets
      if (bytes) return bytes.slice();
      if (signal.aborted || performance.now() >= until) return null;
      await nextChange(src.viewer, until - performance.now(), signal);
    }
  };

  const err = (code: number, text: string): LocalAnswer => ({ error: { code, text } });
  return localLoader(async ({ url: full, signal, firstByte }) => {
    const url = full.split(/[?#]/)[0]!;
    const src = await source;
    if (url === urls.playlist) return { data: await playlist(src, signal) };
    if (url === urls.init) return { data: src.viewer.init().slice().buffer };
    const seq = urls.seqOf(url);
    if (seq === null) return err(404, `not part of this stream: ${full}`);
    const bytes = await segment(src, seq, signal);
    if (!bytes) return err(404, `segment ${seq} is not held (yet)`);
    firstByte();
    return { data: bytes.buffer as ArrayBuffer };
  });
}
