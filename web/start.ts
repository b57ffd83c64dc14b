/**
 * The first seconds of playback, before the engine has joined anything. The watch page's HTML carries the
 * manifest and, when the gateway keeps an urgent share, a start grant for the init segment and the first
 * segments (protocol/watch.ts). The page fetches those chunks at once over plain HTTP, verifies each with
 * WebCrypto against the manifest (checked first: root hash and id), and serves the player's first reads from
 * them, while the engine is still minting its credential, connecting to NATS and opening its session. Each
 * chunk goes to the engine (`offer`: verified again, counted as origin bytes, seeded) once it is running; reads
 * of anything else, and of everything once the start chunks are handed over, are the engine's.
 *
 * Bounded: the start window is at most a few chunks (the grant names them), fetched once each; their bytes are
 * dropped here as soon as the engine holds them.
 */
import { type FetchFailure, fetchOriginChunk } from '../client/http.js';
import type { Logger } from '../lib/logger.js';
import { chunksOfRange, firstFrameChunks, type Manifest, type StartGrant } from '../protocol/mod.js';
import type { WebEngine } from './engine.js';
import { verifyChunk } from './hash.js';
import { markOnce } from './marks.js';

/** What a player reads from: the engine's read side, available before the engine itself. */
export type PlayerSource = Pick<WebEngine, 'manifest' | 'readRange' | 'setPlayhead'>;

export interface EarlyStartInit {
  gateway: string;
  /** checked (hash.ts checkManifest) */
  manifest: Manifest;
  start?: StartGrant;
  /** the engine being started; a failure here only means reads wait on it and fail with it */
  engine: Promise<WebEngine>;
  logger: Logger;
  /** a start chunk could not be had (share spent, grant expired, bad bytes): the engine is needed now */
  onStartFailed?: () => void;
  now?: () => number;
}

export interface EarlyStart extends PlayerSource {
  /** chunks fetched under the start grant (verified) */
  readonly fetched: number;
}

export function createEarlyStart(init: EarlyStartInit): EarlyStart {
  const { manifest, start, logger: log } = init;
  const now = init.now ?? Date.now;
  const covered = new Set(start?.chunks ?? []);
  /** start chunks in flight or waiting for the engine: resolve to the verified bytes, or null */
  const pending = new Map<number, Promise<Uint8Array | null>>();
  /** start chunks the engine holds now: reads of them are the engine's */
  const handedOver = new Set<number>();
  let engine: WebEngine | null = null;
  let playhead: number | null = null;
  let fetched = 0;
  init.engine.then((e) => {
    engine = e;
    if (playhead !== null) e.setPlayhead(playhead);
  }, () => {});

  const fetchStart = (index: number): Promise<Uint8Array | null> => {
    const have = pending.get(index);
    if (have) return have;
    const p = (async () => {
      if (!start || now() >= start.expiresAt) {
        init.onStartFailed?.();
        return null;
      }
      try {
        const data = await fetchOriginChunk({ gateway: init.gateway, videoId: manifest.videoId, index, grant: start.grant,
          route: 'urgent', grantInQuery: true });
        if (!(await verifyChunk(manifest, index, data))) {
          log.warn('a start chunk failed verification: left to the engine', { index });
          init.onStartFailed?.();
          return null;
        }
        fetched++;
        markOnce('chunk.start');
        return data;
      } catch (err) {
        // a spent share (429) or an expired grant: the engine fetches it its own way
        log.debug('start chunk not fetched', { index, err: (err as FetchFailure).message });
        init.onStartFailed?.();
        return null;
      }
    })();
    pending.set(index, p);
    // the engine keeps and seeds it; this page drops its copy
    void p.then(async (data) => {
      if (!data) return;
      const e = await init.engine;
      if (await e.offer(index, data, 'origin')) handedOver.add(index);
      pending.delete(index);
    }).catch(() => {});
    return p;
  };

  // now, the init segment and the first media segment first (the first frame needs exactly those, the page's
  // HTML had the browser preload them, and a browser opens at most six connections to one host), the rest of
  // the window as soon as they are in
  const firstBatch = manifest.stream ? firstFrameChunks(manifest.stream, manifest.chunkSize, [...covered]) : [...covered];
  void Promise.all(firstBatch.map(fetchStart)).then(() => {
    for (const i of covered) void fetchStart(i);
  });

  const fromEngine = async (offset: number, length: number, signal?: AbortSignal) =>
    (await init.engine).readRange(offset, length, signal);

  return {
    manifest,
    get fetched() {
      return fetched;
    },
    async readRange(offset, length, signal) {
      if (offset < 0 || length <= 0 || offset + length > manifest.size) return fromEngine(offset, length, signal);
      const { first, last } = chunksOfRange(manifest.chunkSize, offset, length);
      const idx: number[] = [];
      for (let i = first; i <= last; i++) idx.push(i);
      // the start path only for a range wholly inside the window and not yet handed over
      if (!idx.every((i) => covered.has(i) && !handedOver.has(i))) return fromEngine(offset, length, signal);
      const parts = await Promise.all(idx.map(fetchStart));
      if (parts.some((d) => d === null)) return fromEngine(offset, length, signal);
      signal?.throwIfAborted();
      const out = new Uint8Array(length);
      idx.forEach((i, k) => {
        const data = parts[k]!;
        const base = i * manifest.chunkSize;
        const from = Math.max(offset, base);
        const to = Math.min(offset + length, base + data.byteLength);
        out.set(data.subarray(from - base, to - base), from - offset);
      });
      return out;
    },
    setPlayhead(chunkIndex) {
      playhead = chunkIndex;
      engine?.setPlayhead(chunkIndex);
    },
  };
}
