/**
 * The catalog: manifests by video id in the JetStream KV bucket `sy_catalog`. Manifests are immutable (the id
 * is derived from the content's root hash), so every reader may cache them forever.
 *
 * Quotas: publishing is for ingest only (NATS permissions), but a compromised or buggy ingest must still not be
 * able to grow the catalog without end, so the number of videos, one manifest's size and the bucket's total size
 * are capped. The checks read the bucket's status before the create; two workers publishing at once may each
 * pass the last free place, so the cap can be overshot by at most one video per origin worker.
 */
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  BadRequestError, CATALOG_PAGE_DEFAULT, CATALOG_PAGE_MAX, decode, encode, isValidId, Manifest,
  MAX_MANIFEST_MESSAGE_BYTES, QuotaExceededError, summarize, UnknownVideoError, type VideoSummary,
} from '../../protocol/mod.js';
import { manifestInconsistency } from '../../lib/hash.js';
import {
  BucketSpecs, isCasConflict, kvOptionsOf, openBucket, type BucketOverrides,
} from '../../lib/kv/mod.js';

export interface CatalogPage {
  videos: VideoSummary[];
  /** offset of the next page; absent on the last page */
  next?: number;
}

export interface Catalog {
  get(videoId: string): Promise<Manifest>;
  /** one page of summaries, oldest first (limit default 100, at most 500) */
  list(page?: { offset?: number; limit?: number }): Promise<CatalogPage>;
  /** Stores a manifest after checking it; `created` is false when the same content was already published. */
  publish(manifest: Manifest): Promise<{ created: boolean }>;
}

export interface CatalogQuotas {
  /** most videos in the catalog (default 10,000) */
  maxVideos?: number;
  /** largest encoded manifest (default the manifest message limit, 6 MiB) */
  maxManifestBytes?: number;
  /** most bytes of manifests in the bucket (default 1 GiB) */
  maxTotalBytes?: number;
}

export const CATALOG_QUOTA_DEFAULTS = {
  maxVideos: 10_000, maxManifestBytes: MAX_MANIFEST_MESSAGE_BYTES, maxTotalBytes: 1024 ** 3,
} as const;

/** How long a sorted summary list is reused for paging: a client walking pages must not re-read every key. */
const LIST_TTL_MS = 2000;

/** @nats-io/kv options of `sy_catalog` (the spec is lib/kv/buckets.ts), for the guard that recreates it */
export const CATALOG_BUCKET_OPTIONS = kvOptionsOf(BucketSpecs.catalog);

export async function openCatalogBucket(nc: NatsConnection, overrides?: BucketOverrides): Promise<KV> {
  return openBucket(nc, BucketSpecs.catalog, overrides);
}

export function createKvCatalog(kv: KV, quotas: CatalogQuotas = {}): Catalog {
  const maxVideos = quotas.maxVideos ?? CATALOG_QUOTA_DEFAULTS.maxVideos;
  const maxManifestBytes = quotas.maxManifestBytes ?? CATALOG_QUOTA_DEFAULTS.maxManifestBytes;
  const maxTotalBytes = quotas.maxTotalBytes ?? CATALOG_QUOTA_DEFAULTS.maxTotalBytes;
  // bounded by the video quota (plus the overshoot described above): every key is a published video
  const cache = new Map<string, Manifest>();
  let sorted: { at: number; list: VideoSummary[] } | null = null;
  const get = async (videoId: string): Promise<Manifest> => {
    if (!isValidId(videoId)) throw new BadRequestError(`invalid video id ${JSON.stringify(videoId)}`);
    const hit = cache.get(videoId);
    if (hit) return hit;
    const e = await kv.get(videoId);
    if (e?.operation !== 'PUT') throw new UnknownVideoError(videoId);
    const m = decode(Manifest, e.value, { maxBytes: MAX_MANIFEST_MESSAGE_BYTES, what: 'stored manifest' });
    if (cache.size < maxVideos * 2) cache.set(videoId, m);
    return m;
  };
  const all = async (): Promise<VideoSummary[]> => {
    if (sorted && Date.now() - sorted.at < LIST_TTL_MS) return sorted.list;
    const ids: string[] = [];
    for await (const k of await kv.keys()) ids.push(k);
    const out: VideoSummary[] = [];
    for (const id of ids.sort()) {
      try {
        out.push(summarize(await get(id)));
      } catch (err) {
        if (!(err instanceof UnknownVideoError)) throw err; // deleted between keys() and get()
      }
    }
    out.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.videoId.localeCompare(b.videoId));
    sorted = { at: Date.now(), list: out };
    return out;
  };
  return {
    get,
    async list(page = {}) {
      const offset = page.offset ?? 0;
      const limit = Math.min(page.limit ?? CATALOG_PAGE_DEFAULT, CATALOG_PAGE_MAX);
      if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(limit) || limit < 1) {
        throw new BadRequestError('offset must be an integer ≥ 0 and limit an integer ≥ 1');
      }
      const list = await all();
      const videos = list.slice(offset, offset + limit);
      return offset + limit < list.length ? { videos, next: offset + limit } : { videos };
    },
    async publish(manifest) {
      const why = manifestInconsistency(manifest);
      if (why) throw new BadRequestError(`manifest rejected: ${why}`);
      const encoded = encode(manifest);
      if (encoded.byteLength > maxManifestBytes) {
        throw new QuotaExceededError(`manifest of ${encoded.byteLength} bytes exceeds the catalog's limit of ${maxManifestBytes}`);
      }
      if (cache.has(manifest.videoId)) return { created: false };
      const status = await kv.status();
      if (status.values >= maxVideos) throw new QuotaExceededError(`the catalog is full (${maxVideos} videos)`);
      if (status.size + encoded.byteLength > maxTotalBytes) {
        throw new QuotaExceededError(`the catalog is full (${maxTotalBytes} bytes of manifests)`);
      }
      try {
        await kv.create(manifest.videoId, encoded);
        cache.set(manifest.videoId, manifest);
        sorted = null;
        return { created: true };
      } catch (err) {
        // Already present (kv.create lost to an existing key): same id means same content; keep the first
        // publication (and its name/date).
        if (!isCasConflict(err)) throw err;
        await get(manifest.videoId);
        return { created: false };
      }
    },
  };
}
