/**
 * Typed NATS client of the origin and catalog, used by the CLI, the gateway and ingest. Replies are validated
 * here (the edge), so callers get typed values or typed errors, never raw JSON.
 */
import {
  CATALOG_PAGE_MAX, CatalogGetReply, CatalogListReply, CatalogPublishReply, CatalogVerbs, ErrorCodes, HeartbeatReply,
  MAX_MANIFEST_MESSAGE_BYTES, OpenReply, OriginVerbs, PeerEvents, ReleaseReply, UrgentReply, SlotOffer, SlotRevoked,
  Subjects, decode,
  type Manifest, type VideoSummary,
} from '../../protocol/mod.js';
import type { Logger } from '../../lib/logger.js';
import { request, type NatsConnection } from '../../lib/natsrequest.js';

/** 40 pages of 500: four times the default catalog quota */
const LIST_MAX_PAGES = 40;

export interface OriginClient {
  open(videoId: string, peerId: string): Promise<OpenReply>;
  /**
   * `need`: parked after its turn, the session lacks chunks its peers do not hold. `timeoutMs`: a beat's own
   * bound (`beatTimeoutMs`), shorter than other requests' so that a lost beat is retried within the lease.
   */
  heartbeat(sessionId: string, peerId: string, opts?: { need?: boolean; timeoutMs?: number }): Promise<HeartbeatReply>;
  /** `park`: the turn is over; the slot frees, the session stays (parked) */
  release(sessionId: string, peerId: string, opts?: { park?: boolean }): Promise<ReleaseReply>;
  /** an urgent grant for `chunks` of the session's video (no slot needed; refusals are typed errors) */
  urgent(sessionId: string, peerId: string, videoId: string, chunks: number[]): Promise<UrgentReply>;
  /** every video, page by page (at most `maxPages` pages of 500) */
  list(opts?: { maxPages?: number }): Promise<VideoSummary[]>;
  /** one page of the catalog, oldest first */
  listPage(page?: { offset?: number; limit?: number }): Promise<CatalogListReply>;
  manifest(videoId: string): Promise<Manifest>;
  publish(manifest: Manifest): Promise<{ videoId: string; created: boolean }>;
  /** Subscribes to this peer's pushes; returns an unsubscribe function. */
  onPush(peerId: string, handlers: {
    slotOffered?: (offer: SlotOffer) => void;
    slotRevoked?: (r: SlotRevoked) => void;
  }, logger?: Logger): () => void;
}

/**
 * How long a heartbeat sent every `beatMs` (a third of the lease) may wait for its answer: one beat, within
 * 1–5 s. A beat lost to a worker that died is then retried at once and still renews the lease before it
 * expires (the default request timeout, 5 s, is longer than a 3 s lease: one lost beat lost the slot).
 */
export function beatTimeoutMs(beatMs: number): number {
  return Math.min(5000, Math.max(1000, beatMs));
}

/** When the beat after one that failed with `err` goes: at once after a timeout (it waited a beat already), else a period later. */
export function nextBeatMs(periodMs: number, err?: unknown): number {
  return (err as { code?: unknown } | undefined)?.code === ErrorCodes.timeout ? 0 : periodMs;
}

export function createOriginClient(nc: NatsConnection, opts: { timeoutMs?: number } = {}): OriginClient {
  const t = { timeoutMs: opts.timeoutMs ?? 5000 };
  const big = { ...t, maxBytes: MAX_MANIFEST_MESSAGE_BYTES };
  const listPage = (page: { offset?: number; limit?: number } = {}) =>
    request(nc, Subjects.catalog(CatalogVerbs.list), page, CatalogListReply, big);
  return {
    open: (videoId, peerId) => request(nc, Subjects.origin(OriginVerbs.open, peerId), { videoId }, OpenReply, big),
    heartbeat: (sessionId, peerId, o = {}) => request(nc, Subjects.origin(OriginVerbs.heartbeat, peerId),
      { sessionId, ...(o.need !== undefined ? { need: o.need } : {}) }, HeartbeatReply,
      o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : t),
    release: (sessionId, peerId, o = {}) => request(nc, Subjects.origin(OriginVerbs.release, peerId),
      { sessionId, ...(o.park === true ? { park: true } : {}) }, ReleaseReply, t),
    urgent: (sessionId, peerId, videoId, chunks) =>
      request(nc, Subjects.origin(OriginVerbs.urgent, peerId), { sessionId, videoId, chunks }, UrgentReply, t),
    listPage,
    async list(lopts = {}) {
      // bounded: a catalog that keeps answering `next` (bug or hostile worker) cannot keep us paging forever
      const maxPages = lopts.maxPages ?? LIST_MAX_PAGES;
      const out: VideoSummary[] = [];
      let offset: number | undefined = 0;
      for (let i = 0; i < maxPages && offset !== undefined; i++) {
        const page: CatalogListReply = await listPage({ offset, limit: CATALOG_PAGE_MAX });
        out.push(...page.videos);
        offset = page.next !== undefined && page.next > offset ? page.next : undefined;
      }
      return out;
    },
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
