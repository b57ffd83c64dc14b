/**
 * The catalog: manifests by video id in the JetStream KV bucket `sy_catalog`. Manifests are immutable (the id
 * is derived from the content's root hash), so every reader may cache them forever.
 */
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  BadRequestError, Buckets, decode, encode, isValidId, Manifest, manifestInconsistency,
  MAX_MANIFEST_MESSAGE_BYTES, summarize, UnknownVideoError, type VideoSummary,
} from '../../protocol/mod.js';

export interface Catalog {
  get(videoId: string): Promise<Manifest>;
  list(): Promise<VideoSummary[]>;
  /** Stores a manifest after checking it; `created` is false when the same content was already published. */
  publish(manifest: Manifest): Promise<{ created: boolean }>;
}

export async function openCatalogBucket(nc: NatsConnection): Promise<KV> {
  return new Kvm(nc).create(Buckets.catalog, { history: 1 });
}

export function createKvCatalog(kv: KV): Catalog {
  const cache = new Map<string, Manifest>();
  const get = async (videoId: string): Promise<Manifest> => {
    if (!isValidId(videoId)) throw new BadRequestError(`invalid video id ${JSON.stringify(videoId)}`);
    const hit = cache.get(videoId);
    if (hit) return hit;
    const e = await kv.get(videoId);
    if (!e || e.operation !== 'PUT') throw new UnknownVideoError(videoId);
    const m = decode(Manifest, e.value, { maxBytes: MAX_MANIFEST_MESSAGE_BYTES, what: 'stored manifest' });
    cache.set(videoId, m);
    return m;
  };
  return {
    get,
    async list() {
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
      return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.videoId.localeCompare(b.videoId));
    },
    async publish(manifest) {
      const why = manifestInconsistency(manifest);
      if (why) throw new BadRequestError(`manifest rejected: ${why}`);
      try {
        await kv.create(manifest.videoId, encode(manifest));
        cache.set(manifest.videoId, manifest);
        return { created: true };
      } catch {
        // Already present: same id means same content; keep the first publication (and its name/date).
        await get(manifest.videoId);
        return { created: false };
      }
    },
  };
}
