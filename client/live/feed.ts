/**
 * A viewer's NATS side of a live stream: the window (asked of the origin's queue group when joining) and the
 * pushed announcements of new segments and of the end. Announcements come only from the packager (NATS refuses
 * them from anyone else), so they are the hashes every relayed segment is checked against. Portable: Node and
 * the browser pass their own NATS connection.
 */
import {
  decode, LiveEnd, LiveEvents, LiveSegment, LiveWindowReply, MAX_MANIFEST_MESSAGE_BYTES, Subjects, type LiveWindow,
} from '../../protocol/mod.js';
import { request, type NatsConnection } from '../../lib/natsrequest.js';
import type { Logger } from '../../lib/logger.js';

export interface LiveFeed {
  /** the stream's current window; UnknownVideoError when there is no such stream */
  window(): Promise<LiveWindow>;
  /** subscribes to announcements; returns the unsubscribe function */
  subscribe(handlers: { segment(s: LiveSegment): void; end(e: LiveEnd): void }): () => void;
}

export function createLiveFeed(nc: NatsConnection, streamId: string, logger: Logger): LiveFeed {
  return {
    async window() {
      const r = await request(nc, Subjects.live(streamId, LiveEvents.window), {}, LiveWindowReply,
        { timeoutMs: 5000, maxBytes: MAX_MANIFEST_MESSAGE_BYTES });
      return r.window;
    },
    subscribe(h) {
      const subs = [
        nc.subscribe(Subjects.live(streamId, LiveEvents.segment), { callback: (err, msg) => {
          if (err) return;
          try {
            const s = decode(LiveSegment, msg.data, { what: 'live segment' });
            if (s.streamId === streamId) h.segment(s);
          } catch (e) {
            logger.warn('bad live announcement ignored', { err: e });
          }
        } }),
        nc.subscribe(Subjects.live(streamId, LiveEvents.end), { callback: (err, msg) => {
          if (err) return;
          try {
            const e = decode(LiveEnd, msg.data, { what: 'live end' });
            if (e.streamId === streamId) h.end(e);
          } catch (e) {
            logger.warn('bad live end ignored', { err: e });
          }
        } }),
      ];
      return () => {
        for (const s of subs) s.unsubscribe();
      };
    },
  };
}
