/**
 * In-memory manifest cache. A video id is derived from its manifest's root hash, so a manifest never changes
 * and can be kept without invalidation; caching it takes a NATS round trip off every chunk request. Only hits
 * are kept: an unknown id may be published a second later. Concurrent misses for one id share one request, so
 * a swarm starting on a new video costs the catalog one lookup, not one per peer.
 *
 * The bound is on the total number of chunk hashes held (the bulk of a manifest's memory), not on the number
 * of manifests, because one manifest may list 65536 chunks and another three.
 */
import type { OriginClient } from '../actors/origin/client.js';
import { BadRequestError, UnavailableError, type Manifest } from '../protocol/mod.js';

export interface ManifestCache {
  get(videoId: string): Promise<Manifest>;
  /** number of manifests held */
  readonly size: number;
}

/** ≈ 256 Ki hashes × ~100 bytes each ≈ 25 MiB at most. */
export const DEFAULT_MAX_CACHED_CHUNKS = 256 * 1024;

export function createManifestCache(
  origin: Pick<OriginClient, 'manifest'>,
  opts: { maxChunks?: number } = {},
): ManifestCache {
  const maxChunks = opts.maxChunks ?? DEFAULT_MAX_CACHED_CHUNKS;
  const entries = new Map<string, Manifest>();
  const pending = new Map<string, Promise<Manifest>>();
  let heldChunks = 0;

  const remember = (m: Manifest) => {
    if (entries.has(m.videoId)) return;
    entries.set(m.videoId, m);
    heldChunks += m.chunks.length;
    // Evict least recently used, but always keep the newest even if it alone exceeds the bound.
    for (const [id, old] of entries) {
      if (heldChunks <= maxChunks || entries.size <= 1) break;
      entries.delete(id);
      heldChunks -= old.chunks.length;
    }
  };

  const fetch = async (videoId: string): Promise<Manifest> => {
    const m = await origin.manifest(videoId);
    // The catalog answering with another video's manifest would make us serve the wrong bytes under this id.
    if (m.videoId !== videoId) throw new UnavailableError(`catalog answered ${m.videoId} for ${videoId}`);
    remember(m);
    return m;
  };

  return {
    get size() {
      return entries.size;
    },
    async get(videoId) {
      if (!videoId) throw new BadRequestError('video id required');
      const hit = entries.get(videoId);
      if (hit) {
        entries.delete(videoId);
        entries.set(videoId, hit);
        return hit;
      }
      let p = pending.get(videoId);
      if (!p) {
        p = fetch(videoId).finally(() => pending.delete(videoId));
        pending.set(videoId, p);
      }
      return p;
    },
  };
}
