/**
 * Typed NATS client of the tracker, used by peers (CLI, browser bridge) and benchmarks. Ids are checked here so a
 * bad id fails as a BadRequestError before anything is sent, and replies are validated at this edge.
 */
import {
  AnnounceReply, BadRequestError, HaveUpdate, isValidId, MAX_TRACKER_MESSAGE_BYTES, OkReply, Subjects, TrackerVerbs,
  type Announce, type TrackerVerb,
} from '../../protocol/mod.js';
import { request, type NatsConnection } from '../../lib/natsrequest.js';

/** An announce as a peer's code holds it: the id goes into the subject, the rest into the body. */
export type PeerAnnounce = Announce & { peerId: string };

export interface TrackerClient {
  /** joins or refreshes membership and returns peers to connect to, best first */
  announce(videoId: string, a: PeerAnnounce): Promise<AnnounceReply>;
  /** adds verified chunks to the peer's stored bitfield (large lists are sent in batches) */
  have(videoId: string, peerId: string, indexes: readonly number[]): Promise<OkReply>;
  leave(videoId: string, peerId: string): Promise<OkReply>;
  /** tells the tracker `offender` sent a chunk that failed verification */
  report(videoId: string, peerId: string, offender: string, reason: string): Promise<OkReply>;
}

/** The largest `indexes` array one have message may carry (the schema's limit). */
export const MAX_HAVE_BATCH = HaveUpdate.properties.indexes.maxItems ?? 4096;

export function createTrackerClient(nc: NatsConnection, opts: { timeoutMs?: number } = {}): TrackerClient {
  const o = { timeoutMs: opts.timeoutMs ?? 5000, maxBytes: MAX_TRACKER_MESSAGE_BYTES };
  // the peer id travels only as the subject's last token: the tracker trusts nothing else
  const subject = (videoId: string, verb: TrackerVerb, peerId: string) => {
    if (!isValidId(videoId)) throw new BadRequestError(`invalid video id ${JSON.stringify(videoId)}`);
    if (!isValidId(peerId)) throw new BadRequestError(`invalid peer id ${JSON.stringify(peerId)}`);
    return Subjects.tracker(videoId, verb, peerId);
  };
  return {
    announce: async (videoId, { peerId, ...a }) =>
      request(nc, subject(videoId, TrackerVerbs.announce, peerId), a, AnnounceReply, o),
    async have(videoId, peerId, indexes) {
      const s = subject(videoId, TrackerVerbs.have, peerId);
      let reply: OkReply = { ok: true };
      // sequential, so a failure (e.g. unknown_session) stops the rest instead of racing it
      for (let i = 0; i === 0 || i < indexes.length; i += MAX_HAVE_BATCH) {
        reply = await request(nc, s, { indexes: indexes.slice(i, i + MAX_HAVE_BATCH) }, OkReply, o);
      }
      return reply;
    },
    leave: async (videoId, peerId) => request(nc, subject(videoId, TrackerVerbs.leave, peerId), {}, OkReply, o),
    report: async (videoId, peerId, offender, reason) =>
      request(nc, subject(videoId, TrackerVerbs.report, peerId), { offender, reason }, OkReply, o),
  };
}
