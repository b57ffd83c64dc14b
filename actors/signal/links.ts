/**
 * Evidence of links between peers, kept by the signalling relay and read by the tracker. A report ("this peer
 * sent me a corrupt chunk") counts only when its sender really had a link to the offender; otherwise any two
 * fresh ids could get an honest seed banned without ever talking to it. The relay is the one party that sees
 * both ends of a negotiation with identities the server enforces: when it forwards an `answer` from B to A, the
 * pair A–B negotiated a connection. Entries expire with the bucket's TTL (a link's evidence is only needed
 * while its reports can arrive).
 */
import { isValidId } from '../../protocol/mod.js';
import { BucketSpecs, openBucket, type BucketOverrides } from '../../lib/kv/mod.js';
import type { NatsConnection } from '../../lib/nats.js';

export { LINK_EVIDENCE_TTL_MS } from '../../lib/kv/mod.js';

export interface LinkBook {
  /** records that `a` and `b` negotiated a link for `videoId` */
  record(videoId: string, a: string, b: string): Promise<void>;
  /** whether such a link was recorded within the TTL */
  has(videoId: string, a: string, b: string): Promise<boolean>;
}

const keyOf = (videoId: string, a: string, b: string) => {
  if (![videoId, a, b].every(isValidId)) throw new TypeError('invalid id for a link key');
  return a < b ? `${videoId}.${a}.${b}` : `${videoId}.${b}.${a}`;
};

/**
 * Opens the link book. Its values are a single byte (presence is the evidence), so there is nothing to decode;
 * `ttlMs` (default LINK_EVIDENCE_TTL_MS) and `bucket` (replicas) apply when this call creates the bucket.
 */
export async function openLinkBook(
  nc: NatsConnection, opts: { ttlMs?: number; bucket?: BucketOverrides } = {},
): Promise<LinkBook> {
  const kv = await openBucket(nc, BucketSpecs.links, {
    ...opts.bucket, ...(opts.ttlMs !== undefined ? { ttlMs: opts.ttlMs } : {}),
  });
  const one = new Uint8Array([1]);
  return {
    async record(videoId, a, b) {
      await kv.put(keyOf(videoId, a, b), one);
    },
    async has(videoId, a, b) {
      const e = await kv.get(keyOf(videoId, a, b));
      return !!e && e.operation === 'PUT';
    },
  };
}
