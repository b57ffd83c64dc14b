/**
 * Typed NATS client of the origin and catalog, used by the CLI, the gateway and ingest. Replies are validated
 * here (the edge), so callers get typed values or typed errors, never raw JSON.
 */
import {
  CatalogGetReply, CatalogListReply, CatalogPublishReply, CatalogVerbs, HeartbeatReply, MAX_MANIFEST_MESSAGE_BYTES,
  OpenReply, OriginVerbs, PeerEvents, ReleaseReply, SlotOffer, SlotRevoked, Subjects, decode,
  type Manifest, type VideoSummary,
} from '../../protocol/mod.js';
import type { Logger } from '../../lib/logger.js';
import { request, type NatsConnection } from '../../lib/nats.js';

export interface OriginClient {
  open(videoId: string, peerId: string): Promise<OpenReply>;
  heartbeat(sessionId: string, peerId: string): Promise<HeartbeatReply>;
  release(sessionId: string, peerId: string): Promise<ReleaseReply>;
  list(): Promise<VideoSummary[]>;
  manifest(videoId: string): Promise<Manifest>;
  publish(manifest: Manifest): Promise<{ videoId: string; created: boolean }>;
  /** Subscribes to this peer's pushes; returns an unsubscribe function. */
  onPush(peerId: string, handlers: {
    slotOffered?: (offer: SlotOffer) => void;
    slotRevoked?: (r: SlotRevoked) => void;
  }, logger?: Logger): () => void;
}

export function createOriginClient(nc: NatsConnection, opts: { timeoutMs?: number } = {}): OriginClient {
  const t = { timeoutMs: opts.timeoutMs ?? 5000 };
  const big = { ...t, maxBytes: MAX_MANIFEST_MESSAGE_BYTES };
  return {
    open: (videoId, peerId) => request(nc, Subjects.origin(OriginVerbs.open, peerId), { videoId }, OpenReply, big),
    heartbeat: (sessionId, peerId) =>
      request(nc, Subjects.origin(OriginVerbs.heartbeat, peerId), { sessionId }, HeartbeatReply, t),
    release: (sessionId, peerId) =>
      request(nc, Subjects.origin(OriginVerbs.release, peerId), { sessionId }, ReleaseReply, t),
    list: async () => (await request(nc, Subjects.catalog(CatalogVerbs.list), {}, CatalogListReply, big)).videos,
    manifest: async (videoId) =>
      (await request(nc, Subjects.catalog(CatalogVerbs.get), { videoId }, CatalogGetReply, big)).manifest,
    publish: (manifest) => request(nc, Subjects.catalog(CatalogVerbs.publish), { manifest }, CatalogPublishReply, big),
    onPush(peerId, handlers, logger) {
      const sub = nc.subscribe(Subjects.peerAll(peerId), {
        callback: (err, msg) => {
          if (err) return;
          try {
            if (msg.subject === Subjects.peer(peerId, PeerEvents.slotOffered)) {
              handlers.slotOffered?.(decode(SlotOffer, msg.data, { what: 'slot offer' }));
            } else if (msg.subject === Subjects.peer(peerId, PeerEvents.slotRevoked)) {
              handlers.slotRevoked?.(decode(SlotRevoked, msg.data, { what: 'slot revocation' }));
            }
          } catch (e) {
            logger?.warn('bad push ignored', { subject: msg.subject, err: e });
          }
        },
      });
      return () => sub.unsubscribe();
    },
  };
}
